// The GGUF model fixtures (tools/make_gguf_model_fixture.py, llama.cpp naming and Q/K RoPE row
// permutation) against the HF checkpoints they were converted from: the F32 files give back the
// HF weights bit for bit once un-permuted, the Q8_0 ones within Q8_0's rounding bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "io/gguf.h"
#include "io/safetensors.h"

namespace erank {
namespace {

const std::string kSrc = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/";

// Inverse of llama.cpp's permute: GGUF row (h, j, half) <- HF row (h, half, j), per head of
// `rows / n_head` rows; row length `cols`.
std::vector<float> unpermute(const std::vector<float>& w, int64_t rows, int64_t cols,
                             int64_t n_head) {
  const int64_t hd = rows / n_head, half = hd / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t k = 0; k < 2; ++k) {
        const int64_t src = h * hd + i * 2 + k, dst = h * hd + k * half + i;
        std::copy_n(&w[static_cast<size_t>(src * cols)], cols,
                    &out[static_cast<size_t>(dst * cols)]);
      }
  return out;
}

std::string gguf_name(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  static const std::pair<const char*, const char*> layer[] = {
      {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},      {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
      {"mlp.gate_proj", "ffn_gate"},       {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  const std::string pre = "model.layers.";
  const size_t dot = hf.find('.', pre.size());
  const std::string mod = hf.substr(dot + 1, hf.size() - dot - 1 - std::string(".weight").size());
  for (auto& [h, g] : layer)
    if (mod == h) return "blk." + hf.substr(pre.size(), dot - pre.size()) + "." + g + ".weight";
  return "?";
}

void check(const std::string& c, const std::string& tag) {
  const std::string path = kSrc + "gguf_model/" + c + "." + tag + ".gguf";
  GGUFFile g(path);
  SafetensorsFile hf(kSrc + "hf/" + c + "/model.safetensors");
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("general.file_type"), tag == "f32" ? 0 : 7);
  const int64_t n_head = g.get_int("llama.attention.head_count");
  const int64_t n_kv = g.get_int("llama.attention.head_count_kv");
  EXPECT_EQ(g.get_int("llama.block_count"), 2);
  EXPECT_EQ(g.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(g.get_int("llama.rope.dimension_count"), 16);
  EXPECT_GT(g.get_float("llama.rope.freq_base"), 0.0);
  EXPECT_GT(g.get_float("llama.attention.layer_norm_rms_epsilon"), 0.0);
  const bool tied = !hf.tensors().count("lm_head.weight") || c == "smollm2_tied";
  EXPECT_EQ(g.find_tensor("output.weight") == nullptr, tied);
  size_t matched = 0;
  for (const auto& [name, v] : hf.tensors()) {
    if (name == "lm_head.weight" && tied) continue;
    SCOPED_TRACE(name);
    const GGUFTensorInfo* t = g.find_tensor(gguf_name(name));
    ASSERT_TRUE(t) << gguf_name(name);
    ASSERT_EQ(t->ne, std::vector<int64_t>(v.shape.rbegin(), v.shape.rend()));
    EXPECT_EQ(t->type, (v.shape.size() == 1 || tag == "f32") ? GGMLType::F32 : GGMLType::Q8_0);
    std::vector<float> want(static_cast<size_t>(v.numel()));
    to_f32(v, want.data());
    std::vector<float> got = g.dequantize(*t);
    const bool q = name.find("q_proj") != std::string::npos;
    if (q || name.find("k_proj") != std::string::npos)
      got = unpermute(got, v.shape[0], v.shape[1], q ? n_head : n_kv);
    if (tag == "f32") {
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
          << "stale fixture? rerun tools/make_gguf_model_fixture.py";
    } else {
      // Q8_0: |err| <= d/2 with d = amax/127 per 32-block, plus the f16 rounding of d.
      for (size_t b = 0; b < want.size(); b += 32) {
        float amax = 0;
        for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(want[i]));
        const float tol = amax / 127.0f * 0.6f + 1e-7f;
        for (size_t i = b; i < b + 32; ++i)
          ASSERT_LE(std::fabs(got[i] - want[i]), tol) << "element " << i;
      }
    }
    ++matched;
  }
  // Everything in the GGUF file is accounted for (plus rope_freqs for llama3 RoPE).
  EXPECT_EQ(g.tensors().size(), matched + (g.find_tensor("rope_freqs.weight") ? 1 : 0));
}

TEST(GGUFModel, LlamaGqaRope3F32) {
  check("llama_gqa_rope3", "f32");
}
TEST(GGUFModel, LlamaGqaRope3Q8_0) {
  check("llama_gqa_rope3", "q8_0");
}
TEST(GGUFModel, SmolLM2TiedF32) {
  check("smollm2_tied", "f32");
}
TEST(GGUFModel, SmolLM2TiedQ8_0) {
  check("smollm2_tied", "q8_0");
}

TEST(GGUFModel, Llama3RopeFreqs) {
  GGUFFile g(kSrc + "gguf_model/llama_gqa_rope3.f32.gguf");
  const GGUFTensorInfo* t = g.find_tensor("rope_freqs.weight");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ne, (std::vector<int64_t>{8}));  // head_dim / 2
  const auto f = g.dequantize(*t);
  // Closed form for theta 1e4, factor 8, low 1, high 4, original context 32: wavelengths
  // 2*pi*1e4^(i/8); i = 0 is below 32/4 (factor 1), i >= 2 above 32 (factor 8).
  EXPECT_EQ(f[0], 1.0f);
  for (int i = 2; i < 8; ++i) EXPECT_EQ(f[i], 8.0f);
  EXPECT_GT(f[1], 1.0f);
  EXPECT_LT(f[1], 8.0f);
  EXPECT_EQ(GGUFFile(kSrc + "gguf_model/smollm2_tied.f32.gguf").find_tensor("rope_freqs.weight"),
            nullptr);
}

}  // namespace
}  // namespace erank
