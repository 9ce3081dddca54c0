// --twin-dtype bf16: the twin's matrices are the f32 twin's draws rounded to bfloat16 (round to
// nearest even, as torch's .to(torch.bfloat16)), kept in 2 bytes per value; norms and biases stay
// f32. Checked value by value against the f32 twin of the same seed through core's f32_to_bf16
// and the closed-form rounding of a few values, and the memory halves.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/dtype.h"
#include "models/model.h"

using namespace erank;

namespace {

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/hf/";

// Round to nearest even by integer arithmetic on the bits (no NaNs among the draws).
float bf16_round(float f) {
  uint32_t u = 0;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  u &= 0xFFFF0000u;
  float r = 0;
  std::memcpy(&r, &u, 4);
  return r;
}

class TwinBf16 : public ::testing::TestWithParam<std::string> {};

TEST_P(TwinBf16, MatricesAreTheF32DrawsRoundedNormsStayF32) {
  const Architecture* arch = nullptr;
  const ModelConfig cfg = load_config(resolve_model_source(kDir + GetParam()), &arch);
  const auto f32 = make_twin(cfg, *arch, 1234);
  const auto bf = make_twin(cfg, *arch, 1234, /*bf16=*/true);
  size_t bytes_f32 = 0, bytes_bf = 0, matrices = 0;
  f32->weights().for_each([&](const std::string& name, const Weight& a) {
    const Weight& b = bf->weights().get(name);
    bytes_f32 += a.bytes();
    bytes_bf += b.bytes();
    ASSERT_EQ(a.shape, b.shape) << name;
    if (a.shape.size() != 2) {
      EXPECT_FALSE(b.stored()) << name;
      EXPECT_EQ(0, std::memcmp(a.values(), b.values(), size_t(a.numel()) * 4)) << name;
      return;
    }
    ++matrices;
    ASSERT_TRUE(b.stored()) << name;
    std::vector<float> got(size_t(b.numel()));
    b.dequantize_rows(0, b.dim(0), got.data());
    for (int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_EQ(got[size_t(i)], bf16_round(a[i])) << name << "[" << i << "]";
      ASSERT_EQ(got[size_t(i)], bf16_to_f32(f32_to_bf16(a[i]))) << name << "[" << i << "]";
    }
  });
  EXPECT_GT(matrices, 0u);
  // Matrices dominate: the bf16 twin takes a little over half the f32 twin's memory.
  EXPECT_LT(double(bytes_bf), 0.55 * double(bytes_f32));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TwinBf16,
                         ::testing::Values("llama_gqa_rope3", "gpt2", "opt_preln", "gemma3"));

TEST(TwinBf16, RoundingIsToNearestEven) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)), 1.0f);               // tie: 1.0 is even
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);  // tie: up to even
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(-0.1f)), -0.10009765625f);
}

}  // namespace
