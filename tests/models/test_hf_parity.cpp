// Every hidden state and the logits of each architecture against transformers' dumps
// (tools/make_hf_fixtures.py): max |erank - HF| / max |HF| <= 1e-4, fast and reference backends,
// f32 and bf16 checkpoints, each sequence alone and all in one batch.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "backend/backend.h"
#include "io/safetensors.h"
#include "models/collect_sink.h"
#include "models/model.h"

using namespace erank;

namespace {

const std::string kFix = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/hf/";

struct Ref {
  std::vector<std::vector<int32_t>> ids;
  SafetensorsFile file;
  explicit Ref(const std::string& path) : file(path) {
    for (int i = 0;; ++i) {
      auto it = file.tensors().find("ids." + std::to_string(i));
      if (it == file.tensors().end()) break;
      std::vector<int32_t> v(static_cast<size_t>(it->second.numel()));
      std::memcpy(v.data(), it->second.data.data(), v.size() * 4);
      ids.push_back(v);
    }
  }
  std::vector<float> get(const std::string& name) const {
    auto it = file.tensors().find(name);
    if (it == file.tensors().end()) return {};
    std::vector<float> v(static_cast<size_t>(it->second.numel()));
    to_f32(it->second, v.data());
    return v;
  }
};

// max |a - ref| / max |ref|
double rel_err(const std::vector<float>& a, const std::vector<float>& ref) {
  EXPECT_EQ(a.size(), ref.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < std::min(a.size(), ref.size()); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - ref[i]));
    den = std::max(den, std::fabs(double(ref[i])));
  }
  return den > 0 ? num / den : num;
}

struct Worst {
  double hidden = 0, logits = 0;
};

// Compares seq i's hidden states and logits; returns the worst errors seen.
Worst compare(const Model& m, const CollectSink& sink, const Ref& ref, size_t seq_in_sink, size_t i,
              const std::string& what) {
  Worst w;
  const int L = static_cast<int>(m.config().n_layers);
  const auto stacked = ref.get("hidden." + std::to_string(i));
  size_t off = 0;
  for (int l = 0; l <= L; ++l) {
    const Matrix& got = sink.hidden.at(l).at(seq_in_sink);
    std::vector<float> want;
    if (!stacked.empty()) {
      want.assign(stacked.begin() + off, stacked.begin() + off + got.v.size());
      off += got.v.size();
    } else {
      want = ref.get("hidden." + std::to_string(i) + "." + std::to_string(l));
    }
    const double e = rel_err(got.v, want);
    EXPECT_LE(e, 1e-4) << what << " seq " << i << " hidden " << l;
    w.hidden = std::max(w.hidden, e);
  }
  const double e = rel_err(sink.logits.at(seq_in_sink).v, ref.get("logits." + std::to_string(i)));
  EXPECT_LE(e, 1e-4) << what << " seq " << i << " logits";
  w.logits = e;
  return w;
}

class HFParity : public ::testing::TestWithParam<std::string> {};

TEST_P(HFParity, HiddenStatesAndLogits) {
  const std::string dir = kFix + GetParam();
  ASSERT_TRUE(std::filesystem::exists(dir + "/ref.safetensors")) << dir;
  auto model = load_model(dir);
  Ref ref(dir + "/ref.safetensors");
  ASSERT_FALSE(ref.ids.empty());
  for (const std::string be_name : {"cpu", "reference"}) {
    auto be = make_backend(be_name, 2);
    Worst worst;
    // All sequences in one batch.
    CollectSink batch({}, true);
    model->forward(*be, ref.ids, batch);
    for (size_t i = 0; i < ref.ids.size(); ++i) {
      Worst w = compare(*model, batch, ref, i, i, be_name + " batch");
      worst.hidden = std::max(worst.hidden, w.hidden);
      worst.logits = std::max(worst.logits, w.logits);
      // Each sequence alone.
      CollectSink single({}, true);
      model->forward(*be, {ref.ids[i]}, single);
      compare(*model, single, ref, 0, i, be_name + " single");
    }
    std::printf("[parity] %-24s %-9s max rel err: hidden %.3g logits %.3g\n", GetParam().c_str(),
                be_name.c_str(), worst.hidden, worst.logits);
  }
}

std::vector<std::string> cases() {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(kFix))
    if (std::filesystem::exists(e.path() / "ref.safetensors")) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, HFParity, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
