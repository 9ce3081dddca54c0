// Dequantisation vs gguf-py: every tensor of the fixtures (written and dequantised by
// tools/make_gguf_fixtures.py with gguf.quants) must match bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/error.h"
#include "io/gguf.h"
#include "io/quant.h"
#include "io/safetensors.h"

namespace erank {
namespace {

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/gguf/";

// Returns the number of elements whose bits differ (NaN payloads included), reporting the first.
int64_t bit_mismatches(const std::string& what, const std::vector<float>& got,
                       const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size()) << what;
  int64_t bad = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    if (a != b && bad++ == 0)
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << " (0x" << std::hex << a
                    << ") but gguf-py gives " << want[i] << " (0x" << b << ")";
  }
  return bad;
}

std::set<std::string> check_fixture(const std::string& stem) {
  GGUFFile f(kDir + stem + ".gguf");
  SafetensorsFile ref(kDir + stem + "_ref.safetensors");
  EXPECT_EQ(ref.tensors().size(), f.tensors().size());
  std::set<std::string> types;
  for (const auto& t : f.tensors()) {
    SCOPED_TRACE(stem + ":" + t.name);
    auto it = ref.tensors().find(t.name);
    if (it == ref.tensors().end()) {
      ADD_FAILURE() << "no reference for " << t.name;
      continue;
    }
    const TensorView& v = it->second;
    // numpy shape is the reverse of ggml's ne.
    std::vector<int64_t> ne(v.shape.rbegin(), v.shape.rend());
    EXPECT_EQ(t.ne, ne);
    std::vector<float> want(static_cast<size_t>(v.numel()));
    to_f32(v, want.data());
    EXPECT_EQ(bit_mismatches(t.name, f.dequantize(t), want), 0);
    types.insert(std::string(ggml_type_name(t.type)));
  }
  return types;
}

TEST(Quant, AllTypesMatchGgufPyBitExact) {
  const auto types = check_fixture("all_types");
  for (const char* want : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K",
                           "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    EXPECT_TRUE(types.count(want)) << "fixture lacks a " << want << " tensor";
}

TEST(Quant, Align64FixtureMatchesGgufPy) {
  check_fixture("align64");
}
TEST(Quant, TinyFixtureMatchesGgufPy) {
  check_fixture("tiny");
}

TEST(Quant, TypeTableMatchesGgufPy) {
  std::ifstream in(kDir + "ggml_types.json");
  ASSERT_TRUE(in) << "missing ggml_types.json";
  const auto j = nlohmann::json::parse(in);
  for (const auto& [name, e] : j.items()) {
    SCOPED_TRACE(name);
    const auto code = e["code"].get<uint32_t>();
    const auto t = static_cast<GGMLType>(code);
    EXPECT_EQ(ggml_type_name(t), name);
    EXPECT_EQ(ggml_block_size(t), e["block"].get<int64_t>());
    EXPECT_EQ(ggml_type_size(t), e["bytes"].get<size_t>());
    const bool intermediate = name == "Q8_1" || name == "Q8_K";
    EXPECT_EQ(ggml_type_known(code), !intermediate);
  }
  EXPECT_FALSE(ggml_type_known(4));  // removed Q4_2
  EXPECT_FALSE(ggml_type_known(1000));
}

TEST(Quant, RowBytesRejectsPartialBlocks) {
  EXPECT_EQ(ggml_row_bytes(GGMLType::Q4_K, 512), 2 * ggml_type_size(GGMLType::Q4_K));
  EXPECT_THROW(ggml_row_bytes(GGMLType::Q4_K, 300), Error);
  EXPECT_THROW(ggml_row_bytes(GGMLType::Q8_0, -32), Error);
  EXPECT_THROW(ggml_row_bytes(GGMLType::F32, int64_t{1} << 62), Error);  // bytes overflow
  std::vector<uint8_t> src(64);
  std::vector<float> dst(64);
  EXPECT_THROW(dequantize(GGMLType::Q8_0, src.data(), dst.data(), 33), Error);
  EXPECT_THROW(dequantize(GGMLType::Q8_K, src.data(), dst.data(), 0), Error);
}

}  // namespace
}  // namespace erank
