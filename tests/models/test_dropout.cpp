// Train-mode twin (--twin-mode train): dropout as torch applies it (zero with probability p, scale
// survivors by 1 / (1 - p)), at the sites transformers uses, reproducible from a seed; with every
// probability 0 (Llama family) train mode is exactly eval mode.
#include <gtest/gtest.h>

#include <cmath>

#include "models/collect_sink.h"
#include "models/model.h"

using namespace erank;

namespace {

const std::string kFix = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/hf/";

TEST(Dropout, KeepsOneMinusPAndScalesSurvivors) {
  for (const std::string name : {"cpu", "reference"}) {
    auto be = make_backend(name, 0);
    Act x = be->alloc(100, 1000);
    for (int64_t i = 0; i < x.size(); ++i) {
      if (x.prec == Precision::f32)
        x.f[i] = 1.0f + float(i % 7);
      else
        x.d[i] = 1.0 + double(i % 7);
    }
    Act y = x;
    be->dropout(y, 0.1, 42);
    int64_t zeros = 0;
    for (int64_t i = 0; i < y.size(); ++i) {
      const double a = y.at(i / 1000, i % 1000), b = x.at(i / 1000, i % 1000);
      if (a == 0)
        ++zeros;
      else
        EXPECT_NEAR(a, b / 0.9, 1e-6 * b) << i;
    }
    const double n = double(y.size()), sd = std::sqrt(n * 0.1 * 0.9);
    EXPECT_NEAR(double(zeros), 0.1 * n, 5 * sd) << name;
  }
}

std::vector<float> last_hidden(const Model& m, std::optional<uint64_t> train_seed) {
  auto be = make_backend("cpu", 0);
  CollectSink sink({int(m.config().n_layers)}, false);
  m.forward(*be, {{2, 17, 33, 4, 99, 120, 7, 8, 61, 3}}, sink, train_seed);
  return sink.hidden.at(int(m.config().n_layers))[0].v;
}

TEST(Dropout, TrainModeWithZeroProbabilitiesIsEvalMode) {
  auto m = load_model(kFix + "llama_gqa_rope3");  // attention_dropout 0, as every Llama config
  EXPECT_EQ(last_hidden(*m, std::nullopt), last_hidden(*m, 5));
}

TEST(Dropout, TrainModeOPTIsSeededAndDiffersFromEval) {
  // The twin of an OPT config with OPT's default dropout 0.1 (the fixture sets 0).
  const Architecture* arch = nullptr;
  ModelConfig cfg = load_config(resolve_model_source(kFix + "opt_preln"), &arch);
  cfg.dropout.resid = 0.1;
  auto m = make_twin(cfg, *arch, 1);
  const auto eval = last_hidden(*m, std::nullopt);
  const auto a = last_hidden(*m, 5), b = last_hidden(*m, 5), c = last_hidden(*m, 6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, eval);
  EXPECT_NE(a, c);
}

}  // namespace
