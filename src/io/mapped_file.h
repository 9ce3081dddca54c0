// Read-only memory map of a whole file. Parsers index into bytes() only after checking bounds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace erank {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws erank::Error naming the path
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
