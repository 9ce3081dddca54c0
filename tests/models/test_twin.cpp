// The untrained twin against transformers (tools/make_twin_refs.py): per-tensor statistics match
// HF's own `_init_weights` (from_config) within sampling error, and transformers loading the twin
// that `erank twin --seed 1234` saved gives the hidden states erank computes for the same seed.
#include <gtest/gtest.h>
#include <span>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/collect_sink.h"
#include "models/model.h"

using namespace erank;

namespace {

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/";

std::unique_ptr<Model> twin_of(const std::string& c, uint64_t seed) {
  const Architecture* arch = nullptr;
  const ModelConfig cfg = load_config(resolve_model_source(kDir + "hf/" + c), &arch);
  return make_twin(cfg, *arch, seed);
}

std::vector<std::string> cases() {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(kDir + "twin"))
    if (e.path().extension() == ".safetensors") out.push_back(e.path().stem());
  std::sort(out.begin(), out.end());
  return out;
}

class Twin : public ::testing::TestWithParam<std::string> {};

TEST_P(Twin, StatisticsMatchHFInitScheme) {
  std::ifstream f(kDir + "twin/hf_init_stats.json");
  const auto stats = nlohmann::json::parse(f).at(GetParam());
  auto twin = twin_of(GetParam(), 1234);
  std::set<std::string> ours;
  for (const TensorSpec& s : twin->arch().tensors(twin->config())) {
    if (twin->weights().is_alias(s.name)) continue;
    std::string hf = s.head ? s.name : twin->arch().hf_prefix + s.name;
    ours.insert(hf);
    if (hf == "embed_out.weight" && !stats.contains(hf)) {  // transformers 5 renames it on load
      ours.insert(hf = "lm_head.weight");
    }
    ASSERT_TRUE(stats.contains(hf)) << hf << " is not a parameter of the HF model";
    const auto& st = stats[hf];
    const Weight& w = twin->weights().get(s.name);
    ASSERT_EQ(w.numel(), st["numel"].get<int64_t>()) << hf;
    const double n = double(w.numel());
    double mean = 0, var = 0;
    for (float v : std::span(w.values(), size_t(w.numel()))) mean += v;
    mean /= n;
    for (float v : std::span(w.values(), size_t(w.numel()))) var += (v - mean) * (v - mean);
    const double sd = n > 1 ? std::sqrt(var / (n - 1)) : 0.0;
    const bool zero =
        std::all_of(w.values(), w.values() + w.numel(), [](float v) { return v == 0; });
    const bool one =
        std::all_of(w.values(), w.values() + w.numel(), [](float v) { return v == 1; });
    EXPECT_EQ(zero, st["all_zero"].get<bool>()) << hf;
    EXPECT_EQ(one, st["all_one"].get<bool>()) << hf;
    if (!zero && !one) {
      const double hsd = st["std"].get<double>();
      // Two independent estimates of the same std / mean: 6 sigma of their difference.
      EXPECT_NEAR(sd, hsd, 6 * hsd / std::sqrt(n)) << hf;
      EXPECT_NEAR(mean, st["mean"].get<double>(), 6 * hsd * std::sqrt(2 / n)) << hf;
    }
    if (w.shape.size() == 2) {  // padding_idx rows are zeroed by HF
      for (auto r : st["zero_rows"]) {
        const int64_t row = r.get<int64_t>();
        for (int64_t c = 0; c < w.dim(1); ++c) ASSERT_EQ(w[row * w.dim(1) + c], 0.0f) << hf;
      }
    }
  }
  for (auto& [name, _] : stats.items())
    if (!ours.count(name)) {
      // A tied head is one parameter in HF too; anything else missing is a gap in our table.
      ADD_FAILURE() << "HF parameter " << name << " has no entry in erank's tensor table";
    }
}

TEST_P(Twin, TransformersLoadsSavedTwinWithSameHiddenStates) {
  auto twin = twin_of(GetParam(), 1234);
  SafetensorsFile ref(kDir + "twin/" + GetParam() + ".safetensors");
  auto be = make_backend("cpu", 0);
  const int L = int(twin->config().n_layers);
  for (int i = 0; ref.tensors().count("ids." + std::to_string(i)); ++i) {
    const std::string si = std::to_string(i);
    const TensorView& iv = ref.tensors().at("ids." + si);
    std::vector<int32_t> ids(size_t(iv.numel()));
    std::memcpy(ids.data(), iv.data.data(), iv.data.size());
    CollectSink sink({}, true);
    twin->forward(*be, {ids}, sink);
    auto check = [&](const std::vector<float>& got, const TensorView& v, size_t off,
                     const std::string& what) {
      std::vector<float> want(size_t(v.numel()));
      to_f32(v, want.data());
      double num = 0, den = 0;
      for (size_t k = 0; k < got.size(); ++k) {
        num = std::max(num, std::fabs(double(got[k]) - want[off + k]));
        den = std::max(den, std::fabs(double(want[off + k])));
      }
      EXPECT_LE(num / den, 1e-4) << GetParam() << " " << what;
    };
    size_t off = 0;
    for (int l = 0; l <= L; ++l) {
      const auto& got = sink.hidden.at(l)[0].v;
      if (ref.tensors().count("hidden." + si)) {
        check(got, ref.tensors().at("hidden." + si), off, "hidden " + std::to_string(l));
        off += got.size();
      } else {
        check(got, ref.tensors().at("hidden." + si + "." + std::to_string(l)), 0,
              "hidden " + std::to_string(l));
      }
    }
    check(sink.logits[0].v, ref.tensors().at("logits." + si), 0, "logits");
  }
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, Twin, ::testing::ValuesIn(cases()));

TEST(Twin, SameSeedSameWeightsOtherSeedDifferent) {
  auto a = twin_of("llama_gqa_rope3", 7), b = twin_of("llama_gqa_rope3", 7),
       c = twin_of("llama_gqa_rope3", 8);
  const auto& wa = a->weights().get("layers.0.self_attn.q_proj.weight").own;
  EXPECT_EQ(wa, b->weights().get("layers.0.self_attn.q_proj.weight").own);
  EXPECT_NE(wa, c->weights().get("layers.0.self_attn.q_proj.weight").own);
}

// Hidden states are bitwise identical whatever the thread count (BLAS partitions outputs, and
// our own loops give each output to one thread).
TEST(Determinism, SameResultsAcrossThreadCounts) {
  auto m = twin_of("gemma3", 3);
  std::vector<std::vector<int32_t>> seqs;
  for (int s = 0; s < 3; ++s) {
    std::vector<int32_t> ids;
    for (int i = 0; i < 40 + 25 * s; ++i) ids.push_back((i * 37 + s * 11) % 256);
    seqs.push_back(ids);
  }
  std::vector<float> first;
  for (int threads : {1, 2, 4}) {
    auto be = make_backend("cpu", threads);
    CollectSink sink({}, true);
    m->forward(*be, seqs, sink);
    std::vector<float> all;
    for (auto& [l, per] : sink.hidden)
      for (auto& mat : per) all.insert(all.end(), mat.v.begin(), mat.v.end());
    for (auto& mat : sink.logits) all.insert(all.end(), mat.v.begin(), mat.v.end());
    if (first.empty())
      first = all;
    else
      EXPECT_EQ(0, std::memcmp(first.data(), all.data(), all.size() * 4)) << threads << " threads";
  }
}

}  // namespace
