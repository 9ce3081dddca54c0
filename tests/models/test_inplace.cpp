// Weights of an f32 safetensors checkpoint are used in place (views into the mapped file, no
// copy); bf16 ones are converted once into owned f32. Both give the transformers hidden states
// (test_hf_parity); here: where the values live and that they are the file's.
#include <gtest/gtest.h>

#include <cstring>

#include "io/safetensors.h"
#include "models/model.h"

using namespace erank;

namespace {

const std::string kFix = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/hf/";

TEST(InPlaceWeights, F32CheckpointIsMappedNotCopied) {
  auto m = load_model(kFix + "llama_gqa_rope3");
  SafetensorsFile file(kFix + "llama_gqa_rope3/model.safetensors");
  int views = 0;
  for (const TensorSpec& s : m->arch().tensors(m->config())) {
    if (m->weights().is_alias(s.name)) continue;
    const Weight* w = m->weights().find(s.name);
    ASSERT_NE(w, nullptr) << s.name;
    auto it = file.tensors().find(m->arch().hf_prefix + s.name);
    if (it == file.tensors().end()) it = file.tensors().find(s.name);
    ASSERT_NE(it, file.tensors().end()) << s.name;
    EXPECT_NE(w->view, nullptr) << s.name << " was copied";
    EXPECT_TRUE(w->own.empty()) << s.name;
    EXPECT_EQ(std::memcmp(w->values(), it->second.data.data(), it->second.data.size()), 0)
        << s.name;
    ++views;
  }
  EXPECT_GT(views, 5);
}

TEST(InPlaceWeights, Bf16CheckpointIsConvertedOnce) {
  auto m = load_model(kFix + "llama_gqa_rope3-bf16");
  const Weight& w = m->weights().get("layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(w.view, nullptr);
  EXPECT_EQ(static_cast<int64_t>(w.own.size()), w.numel());
}

TEST(InPlaceWeights, MutableValuesCopiesAView) {
  auto m = load_model(kFix + "llama_gqa_rope3");
  Weight w = m->weights().get("layers.0.mlp.up_proj.weight");
  const float first = w[0];
  w.mutable_values()[0] = first + 1;
  EXPECT_EQ(w.view, nullptr);
  EXPECT_EQ(w[0], first + 1);
  EXPECT_EQ(m->weights().get("layers.0.mlp.up_proj.weight")[0], first);  // the file is untouched
}

}  // namespace
