// Atomic whole-file writes: data goes to "<path>.tmp.<pid>", is flushed, then renamed over <path>.
// A path that exists and is not a regular file (/dev/null, /dev/stdout, a FIFO) is written in
// place instead: renaming over it would replace the device with a file (as root, /dev/null).
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
  bool direct_ = false;  // writing to a device or FIFO in place
};

void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace erank
