// Read-only memory map of a whole file. Parsers index into bytes() only after checking bounds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace erank {

class MappedFile {
 public:
  // Throws erank::Error naming the path. populate: map every page now (a file that will be read
  // in full, such as model weights) rather than on first touch.
  explicit MappedFile(const std::string& path, bool populate = false);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace erank
