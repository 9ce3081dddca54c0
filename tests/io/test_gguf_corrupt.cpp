// Corrupt GGUF: a valid fixture, truncated or patched here, must give one erank::Error naming the
// file and the problem (run under ASan/UBSan too: no crash, no huge allocation).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "core/error.h"
#include "io/gguf.h"

namespace erank {
namespace {

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/gguf/";
const std::string kName = "corrupt.gguf";

std::vector<uint8_t> load(const std::string& name) {
  std::ifstream in(kDir + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return {std::istreambuf_iterator<char>(in), {}};
}

template <typename T>
void put(std::vector<uint8_t>& b, size_t at, T v) {
  ASSERT_LE(at + sizeof(T), b.size());
  std::memcpy(b.data() + at, &v, sizeof(T));
}

// Offset just past a length-prefixed string equal to `s` (a metadata key or tensor name).
size_t after_string(const std::vector<uint8_t>& b, const std::string& s) {
  const uint64_t n = s.size();
  std::vector<uint8_t> pat(reinterpret_cast<const uint8_t*>(&n),
                           reinterpret_cast<const uint8_t*>(&n) + 8);
  pat.insert(pat.end(), s.begin(), s.end());
  auto it = std::search(b.begin(), b.end(), pat.begin(), pat.end());
  EXPECT_NE(it, b.end()) << s;
  return static_cast<size_t>(it - b.begin()) + pat.size();
}

// Field offsets of a tensor info: n_dims, dims[], type, offset.
struct InfoAt {
  size_t n_dims, dims, type, offset;
};
InfoAt tensor_info(const std::vector<uint8_t>& b, const std::string& name) {
  InfoAt a;
  a.n_dims = after_string(b, name);
  uint32_t nd;
  std::memcpy(&nd, b.data() + a.n_dims, 4);
  a.dims = a.n_dims + 4;
  a.type = a.dims + 8 * nd;
  a.offset = a.type + 4;
  return a;
}

// Parses and dequantises everything; returns the error message ("" when the image is valid).
std::string parse(const std::vector<uint8_t>& b, const std::string& origin = kName) {
  try {
    GGUFFile f(b, origin);
    for (const auto& t : f.tensors()) f.dequantize(t);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

void expect_error(const std::vector<uint8_t>& b, const std::string& needle) {
  const std::string msg = parse(b);
  ASSERT_FALSE(msg.empty()) << "parsed without error, expected '" << needle << "'";
  EXPECT_EQ(msg.rfind(kName + ": ", 0), 0u) << msg;  // starts with the file name
  EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(GGUFCorrupt, ValidFixturesParse) {
  for (const char* n : {"all_types.gguf", "align64.gguf", "tiny.gguf"})
    EXPECT_EQ(parse(load(n)), "") << n;
}

TEST(GGUFCorrupt, BadMagicAndVersion) {
  const auto good = load("tiny.gguf");
  auto b = good;
  b[0] = 'X';
  expect_error(b, "bad magic");
  expect_error({}, "bad magic");
  expect_error({'G', 'G', 'U'}, "bad magic");
  b = good;
  put<uint32_t>(b, 4, 1);
  expect_error(b, "GGUF version 1 is not supported");
  put<uint32_t>(b, 4, 7);
  expect_error(b, "unsupported GGUF version 7");
  put<uint32_t>(b, 4, 3u << 24);  // a big-endian file's version as read on x86
  expect_error(b, "big-endian");
  b.resize(6);
  expect_error(b, "truncated");
}

TEST(GGUFCorrupt, CountsBeyondFile) {
  auto b = load("all_types.gguf");
  put<uint64_t>(b, 8, uint64_t{1} << 40);
  expect_error(b, "tensor count 1099511627776 is impossible");
  b = load("all_types.gguf");
  put<uint64_t>(b, 16, ~uint64_t{0});
  expect_error(b, "metadata count");
}

TEST(GGUFCorrupt, StringAndArrayLengthsBeyondFile) {
  const auto good = load("all_types.gguf");
  auto b = good;
  put<uint64_t>(b, 24, uint64_t{1} << 62);  // length of the first key
  expect_error(b, "beyond the end of the file");
  b = good;
  put<uint64_t>(b, after_string(b, "test.string") + 4, 100000);  // the string value's length
  expect_error(b, "string value of 'test.string' has length 100000");
  b = good;
  // Array header after the key: u32 type (9), u32 element type, u64 length.
  const size_t arr = after_string(b, "test.arr_uint64");
  put<uint64_t>(b, arr + 8, uint64_t{1} << 40);
  expect_error(b, "'test.arr_uint64' array length 1099511627776 exceeds");
  b = good;
  put<uint32_t>(b, arr + 4, 77);
  expect_error(b, "array of unknown type 77");
  b = good;
  put<uint32_t>(b, after_string(b, "test.u8"), 99);
  expect_error(b, "'test.u8' has unknown value type 99");
  b = good;
  put<uint8_t>(b, after_string(b, "test.bool_true") + 4, 2);
  expect_error(b, "invalid value 2");
  b = good;
  b[after_string(b, "test.u16") - 3] = 'i';  // test.u16 -> test.i16
  expect_error(b, "duplicate metadata key 'test.i16'");
}

TEST(GGUFCorrupt, TensorInfos) {
  const auto good = load("all_types.gguf");
  const std::string t = "Q4_0.r";  // ne = (64, 2)
  auto b = good;
  put<uint32_t>(b, tensor_info(b, t).n_dims, 5);
  expect_error(b, "tensor 'Q4_0.r' has 5 dimensions (must be 1 to 4)");
  b = good;
  put<uint32_t>(b, tensor_info(b, t).n_dims, 0);
  expect_error(b, "has 0 dimensions");
  b = good;
  put<uint64_t>(b, tensor_info(b, t).dims + 8, 0);
  expect_error(b, "invalid dimension 1 = 0");
  b = good;
  put<uint64_t>(b, tensor_info(b, t).dims, ~uint64_t{0});
  expect_error(b, "invalid dimension 0 = -1");
  b = good;
  put<uint64_t>(b, tensor_info(b, t).dims, uint64_t{1} << 40);
  put<uint64_t>(b, tensor_info(b, t).dims + 8, uint64_t{1} << 40);
  expect_error(b, "element count overflows");
  b = good;
  put<uint64_t>(b, tensor_info(b, t).dims, 48);
  expect_error(b, "row length 48 is not a multiple of the Q4_0 block size 32");
  b = good;
  put<uint32_t>(b, tensor_info(b, t).type, 99);
  expect_error(b, "unknown or unsupported ggml type 99");
  b = good;
  put<uint32_t>(b, tensor_info(b, t).type, 15);
  expect_error(b, "unsupported ggml type 15 (Q8_K)");
  b = good;
  b[tensor_info(b, t).n_dims - 1] = 'q';  // Q4_0.r -> Q4_0.q, already present
  expect_error(b, "duplicate tensor name 'Q4_0.q'");
}

TEST(GGUFCorrupt, TensorOffsetsAndRanges) {
  const auto good = load("all_types.gguf");
  auto b = good;
  const auto at = tensor_info(b, "Q4_0.r");
  uint64_t off;
  std::memcpy(&off, b.data() + at.offset, 8);
  put<uint64_t>(b, at.offset, off + 4);
  expect_error(b,
               "data offset " + std::to_string(off + 4) + " is not a multiple of the alignment 32");
  b = good;
  put<uint64_t>(b, at.offset, uint64_t{1} << 40);
  expect_error(b, "'Q4_0.r' (2 Q4_0 rows of 36 bytes at data offset 1099511627776) extends past");
  b = good;
  put<uint64_t>(b, at.offset, ~uint64_t{0} - 31);  // aligned, but offset + size overflows
  expect_error(b, "extends past the end");
  b = good;
  // A row so long that its byte count wraps around 2^64 (found by fuzzing).
  put<uint64_t>(b, tensor_info(b, "F32.q").dims, uint64_t{1} << 62);
  put<uint64_t>(b, tensor_info(b, "F32.q").dims + 8, 1);
  expect_error(b, "'F32.q' row of 4611686018427387904 F32 elements is larger than the whole");
  b = good;
  // The last tensor (Q8_0.3d, 6 rows) grown to 60 rows overlaps the end of the file.
  put<uint64_t>(b, tensor_info(b, "Q8_0.3d").dims + 16, 20);
  expect_error(b, "'Q8_0.3d' (60 Q8_0 rows");
}

TEST(GGUFCorrupt, Alignment) {
  const auto good = load("align64.gguf");
  const size_t at = after_string(good, "general.alignment");  // u32 type, u32 value
  auto b = good;
  put<uint32_t>(b, at + 4, 48);
  expect_error(b, "general.alignment 48 is not a power of two");
  put<uint32_t>(b, at + 4, 0);
  expect_error(b, "general.alignment 0 is not a power of two");
  b = good;
  put<uint32_t>(b, at, 5);  // int32 instead of uint32
  expect_error(b, "general.alignment must be uint32, not int32");
}

TEST(GGUFCorrupt, EveryTruncationFails) {
  const auto good = load("all_types.gguf");
  GGUFFile f(good, kName);
  size_t end = 0;  // end of the last tensor's bytes; only the final padding may be cut
  for (const auto& t : f.tensors())
    end = std::max(end, static_cast<size_t>(t.data.data() + t.data.size() - good.data()));
  for (size_t n = 0; n < end; ++n) {
    std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    const std::string msg = parse(b);
    ASSERT_FALSE(msg.empty()) << "truncated to " << n << " bytes but parsed";
    ASSERT_EQ(msg.rfind(kName + ": ", 0), 0u) << msg;
  }
}

TEST(GGUFCorrupt, DeeplyNestedArrayIsRejected) {
  std::vector<uint8_t> b;
  auto u32 = [&](uint32_t v) { b.insert(b.end(), (uint8_t*)&v, (uint8_t*)&v + 4); };
  auto u64 = [&](uint64_t v) { b.insert(b.end(), (uint8_t*)&v, (uint8_t*)&v + 8); };
  u32(0x46554747), u32(3), u64(0), u64(1), u64(1), b.push_back('k'), u32(9);
  for (int i = 0; i < 100; ++i) u32(9), u64(1);  // array of array of ...
  u32(0), u64(0);
  expect_error(b, "'k' nests arrays deeper than 8");
}

TEST(GGUFCorrupt, RandomMutationsNeverCrash) {
  const auto good = load("all_types.gguf");
  std::mt19937 rng(0);
  int errors = 0;
  for (int it = 0; it < 3000; ++it) {
    auto b = good;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      // Mostly the header and infos (the first 2.4 kB), where parsing decisions happen.
      const size_t at = rng() % (it % 4 == 0 ? b.size() : 2432);
      b[at] = static_cast<uint8_t>(rng());
    }
    if (!parse(b).empty()) ++errors;
  }
  EXPECT_GT(errors, 100);  // sanity: mutations do hit checks
}

TEST(GGUFCorrupt, FileErrorsNameThePath) {
  auto b = load("tiny.gguf");
  b.resize(100);
  const auto dir = std::filesystem::temp_directory_path() / "erank_gguf_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "truncated.gguf").string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), 100);
  try {
    GGUFFile f(path);
    FAIL() << "truncated file parsed";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace erank
