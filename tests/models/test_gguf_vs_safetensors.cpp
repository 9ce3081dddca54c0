// The same small random models through both loaders: the HF folder (safetensors) and the GGUF
// files written from it as llama.cpp's converter does (tests/fixtures/gguf_model). F32 GGUF gives
// the HF hidden states; Q8_0 gives transformers' states for the dequantised Q8_0 weights, and
// differs from the f32 model by the quantisation error (printed).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io/safetensors.h"
#include "models/collect_sink.h"
#include "models/model.h"

using namespace erank;

namespace {

const std::string kFix = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/";

double rel_err(const std::vector<float>& a, const float* ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num = std::max(num, std::fabs(double(a[i]) - ref[i]));
    den = std::max(den, std::fabs(double(ref[i])));
  }
  return num / den;
}

std::vector<std::vector<int32_t>> ref_ids(const SafetensorsFile& f) {
  std::vector<std::vector<int32_t>> out;
  for (int i = 0; f.tensors().count("ids." + std::to_string(i)); ++i) {
    const TensorView& v = f.tensors().at("ids." + std::to_string(i));
    std::vector<int32_t> ids(size_t(v.numel()));
    std::memcpy(ids.data(), v.data.data(), v.data.size());
    out.push_back(ids);
  }
  return out;
}

// Worst relative error of every hidden state and the logits of `m` against a reference dump.
double against_ref(const Model& m, const SafetensorsFile& ref) {
  auto be = make_backend("cpu", 0);
  const auto seqs = ref_ids(ref);
  CollectSink sink({}, true);
  m.forward(*be, seqs, sink);
  double worst = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const TensorView& hv = ref.tensors().at("hidden." + std::to_string(i));
    std::vector<float> h(size_t(hv.numel()));
    to_f32(hv, h.data());
    size_t off = 0;
    for (auto& [l, per] : sink.hidden) {
      worst = std::max(worst, rel_err(per[i].v, h.data() + off, per[i].v.size()));
      off += per[i].v.size();
    }
    const TensorView& lv = ref.tensors().at("logits." + std::to_string(i));
    std::vector<float> lg(size_t(lv.numel()));
    to_f32(lv, lg.data());
    worst = std::max(worst, rel_err(sink.logits[i].v, lg.data(), lg.size()));
  }
  return worst;
}

class BothLoaders : public ::testing::TestWithParam<std::string> {};

TEST_P(BothLoaders, SameHiddenStates) {
  const std::string c = GetParam();
  SafetensorsFile hf_ref(kFix + "hf/" + c + "/ref.safetensors");
  auto hf = load_model(kFix + "hf/" + c);
  auto f32 = load_model(kFix + "gguf_model/" + c + ".f32.gguf");
  auto q8 = load_model(kFix + "gguf_model/" + c + ".q8_0.gguf");
  EXPECT_TRUE(f32->report().unused.empty());
  const double e_hf = against_ref(*hf, hf_ref), e_f32 = against_ref(*f32, hf_ref);
  SafetensorsFile q8_ref(kFix + "gguf_model/" + c + ".q8_0.ref.safetensors");
  const double e_q8 = against_ref(*q8, q8_ref), e_q8_vs_f32 = against_ref(*q8, hf_ref);
  EXPECT_LE(e_hf, 1e-4);
  EXPECT_LE(e_f32, 1e-4);        // same weights: only rope factor rounding (llama3) may differ
  EXPECT_LE(e_q8, 1e-4);         // transformers on the same Q8_0 file
  EXPECT_LE(e_q8_vs_f32, 0.05);  // Q8_0 rounding of every weight
  std::printf(
      "[both loaders] %s: safetensors %.2g, gguf f32 %.2g, gguf q8_0 vs transformers %.2g, "
      "q8_0 vs f32 model %.3g (quantisation error)\n",
      c.c_str(), e_hf, e_f32, e_q8, e_q8_vs_f32);
}

INSTANTIATE_TEST_SUITE_P(Llama, BothLoaders, ::testing::Values("llama_gqa_rope3", "smollm2_tied"));

}  // namespace
