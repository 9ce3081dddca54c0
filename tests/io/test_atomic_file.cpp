// write_file_atomic: a regular file is replaced whole (temp file + rename, nothing left behind);
// a device or FIFO is written in place and stays what it was (renaming over /dev/null as root
// replaced the device with a regular file, which then broke every program reading /dev/null).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "io/atomic_file.h"

namespace fs = std::filesystem;

namespace {

fs::path fresh_dir() {
  const fs::path d = fs::temp_directory_path() / ("erank_atomic_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(AtomicFile, RegularFileReplacedWholeNothingLeft) {
  const fs::path d = fresh_dir();
  const fs::path p = d / "out.json";
  std::ofstream(p) << "old contents, longer than the new ones";
  erank::write_file_atomic(p.string(), "new");
  std::ifstream f(p);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), "new");
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator{}), 1);
}

TEST(AtomicFile, DevNullStaysADevice) {
  struct stat st {};
  if (::stat("/dev/null", &st) != 0 || !S_ISCHR(st.st_mode))
    GTEST_SKIP() << "/dev/null is not a character device here";
  erank::write_file_atomic("/dev/null", "results that nobody wants");
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null was replaced";
  EXPECT_FALSE(fs::exists("/dev/null.tmp." + std::to_string(::getpid())));
}

TEST(AtomicFile, FifoIsWrittenInPlace) {
  const fs::path d = fresh_dir();
  const fs::path p = d / "pipe";
  ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] {
    std::ifstream f(p);
    got.assign(std::istreambuf_iterator<char>(f), {});
  });
  erank::write_file_atomic(p.string(), "through the pipe");
  reader.join();
  EXPECT_EQ(got, "through the pipe");
  EXPECT_TRUE(fs::is_fifo(p));
}

TEST(AtomicFile, FolderIsAnError) {
  const fs::path d = fresh_dir();
  EXPECT_THROW(erank::write_file_atomic(d.string(), "x"), std::exception);
  EXPECT_TRUE(fs::is_directory(d));
}

}  // namespace
