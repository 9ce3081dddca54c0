// The two real models from PyPI (SmolLM2-135M Q4_1, Gemma-3-270M Q4_K_M) against transformers
// loading the same GGUF files (tools/make_real_model_refs.py): every hidden state and the dumped
// logits within 1e-3 of the tensor's max magnitude. Skipped when scripts/install.sh has not run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "io/safetensors.h"
#include "models/collect_sink.h"
#include "models/model.h"

using namespace erank;

namespace {

std::vector<float> f32(const SafetensorsFile& f, const std::string& name) {
  const TensorView& v = f.tensors().at(name);
  std::vector<float> out(static_cast<size_t>(v.numel()));
  to_f32(v, out.data());
  return out;
}

template <class T>
std::vector<T> ints(const SafetensorsFile& f, const std::string& name) {
  const TensorView& v = f.tensors().at(name);
  std::vector<T> out(static_cast<size_t>(v.numel()));
  std::memcpy(out.data(), v.data.data(), v.data.size());
  return out;
}

double rel_err(const float* a, const float* ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num = std::max(num, std::fabs(double(a[i]) - ref[i]));
    den = std::max(den, std::fabs(double(ref[i])));
  }
  return num / den;
}

class RealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(RealModel, MatchesTransformersOnSameGGUF) {
  const std::string name = GetParam();
  const std::string gguf = std::string(ERANK_SOURCE_DIR) + "/models/" + name + ".gguf";
  if (!std::filesystem::exists(gguf)) GTEST_SKIP() << gguf << " not installed (scripts/install.sh)";
  SafetensorsFile ref(std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/real/" + name +
                      "_ref.safetensors");
  auto model = load_model(gguf);
  auto be = make_backend("cpu", 0);
  const int L = static_cast<int>(model->config().n_layers);
  for (int i = 0; ref.tensors().count("ids." + std::to_string(i)); ++i) {
    const std::string si = std::to_string(i);
    CollectSink sink({}, true);
    model->forward(*be, {ints<int32_t>(ref, "ids." + si)}, sink);
    const auto hidden = f32(ref, "hidden." + si);
    double worst_h = 0;
    size_t off = 0;
    for (int l = 0; l <= L; ++l) {
      const Matrix& got = sink.hidden.at(l)[0];
      const double e = rel_err(got.v.data(), hidden.data() + off, got.v.size());
      off += got.v.size();
      EXPECT_LE(e, 1e-3) << name << " text " << i << " hidden " << l;
      worst_h = std::max(worst_h, e);
    }
    // Logit rows at a few positions, over all columns or the dumped subset of columns.
    const auto pos = ints<int32_t>(ref, "logits_pos." + si);
    const auto rows = f32(ref, "logits_rows." + si);
    const bool subset = ref.tensors().count("logits_cols." + si) > 0;
    const auto cols = subset ? ints<int32_t>(ref, "logits_cols." + si) : std::vector<int32_t>{};
    const size_t width = rows.size() / pos.size();
    std::vector<float> got;
    for (int32_t p : pos)
      for (size_t c = 0; c < width; ++c)
        got.push_back(sink.logits[0].at(p, subset ? cols[c] : int64_t(c)));
    const double el = rel_err(got.data(), rows.data(), rows.size());
    EXPECT_LE(el, 1e-3) << name << " text " << i << " logits";
    std::printf("[real] %s text %d (%zu tokens): max rel err hidden %.3g, logits %.3g\n",
                name.c_str(), i, sink.logits[0].rows ? size_t(sink.logits[0].rows) : 0, worst_h,
                el);
  }
}

INSTANTIATE_TEST_SUITE_P(PyPIModels, RealModel, ::testing::Values("smollm2-135m", "gemma3-270m"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
