// Atomic whole-file writes: data goes to "<path>.tmp.<pid>", is flushed, then renamed over <path>.
#pragma once
#include <string>
#include <string_view>

namespace erank {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the temp file if commit() was not reached
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(std::string_view bytes);
  void commit();  // fsync + rename; throws erank::Error on failure

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace erank
