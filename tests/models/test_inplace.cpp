// Weights of an f32 safetensors checkpoint are used in place (views into the mapped file, no
// copy); bf16 matrices stay mapped in bf16 (ERANK_WEIGHTS=f32: converted once into owned f32). Both
// give the transformers hidden states (test_hf_parity); here: where the values live and that they
// are the file's.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"
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

TEST(InPlaceWeights, Bf16MatricesStayMappedNormsAreConverted) {
  auto m = load_model(kFix + "llama_gqa_rope3-bf16");
  const Weight& w = m->weights().get("layers.0.self_attn.q_proj.weight");
  ASSERT_TRUE(w.stored());
  EXPECT_STREQ(w.codec->name, "BF16");
  EXPECT_TRUE(w.own.empty());
  EXPECT_EQ(w.bytes(), size_t(w.numel()) * 2);
  EXPECT_THROW(w.values(), Error);  // raw bytes are never read as floats
  const Weight& n = m->weights().get("layers.0.input_layernorm.weight");
  EXPECT_FALSE(n.stored());
  EXPECT_EQ(static_cast<int64_t>(n.own.size()), n.numel());
  // ERANK_WEIGHTS=f32: converted once into owned f32, the same values.
  ::setenv("ERANK_WEIGHTS", "f32", 1);
  auto f = load_model(kFix + "llama_gqa_rope3-bf16");
  ::unsetenv("ERANK_WEIGHTS");
  const Weight& wf = f->weights().get("layers.0.self_attn.q_proj.weight");
  EXPECT_FALSE(wf.stored());
  ASSERT_EQ(static_cast<int64_t>(wf.own.size()), wf.numel());
  const Weight expanded = w.to_f32();
  EXPECT_EQ(std::memcmp(expanded.values(), wf.values(), wf.own.size() * 4), 0);
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
