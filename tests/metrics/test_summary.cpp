// Dataset aggregates (Algorithms (a) and (b)) and the loss: closed forms, Jensen, torch parity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>

#include "core/error.h"
#include "io/safetensors.h"
#include "metrics/erank.h"
#include "metrics/loss.h"
#include "metrics/stats.h"

namespace erank {
namespace {

ERank from_entropy(double h) {
  ERank e;
  e.entropy = h;
  e.erank = std::exp(h);
  e.ok = true;
  e.n_tokens = 10;
  return e;
}

TEST(Stats, MeanStdStderr) {
  const std::vector<double> x = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(stats::mean(x), 5.0);
  EXPECT_NEAR(stats::sample_std(x), std::sqrt(32.0 / 7.0), 1e-15);
  EXPECT_NEAR(stats::stderr_of_mean(x), std::sqrt(32.0 / 7.0) / std::sqrt(8.0), 1e-15);
  EXPECT_TRUE(std::isnan(stats::mean(std::vector<double>{})));
  EXPECT_TRUE(std::isnan(stats::sample_std(std::vector<double>{1.0})));
}

// Closed form. M0: eRank 10 on both texts; M1: eRank 1 and 9.
// (a) = exp(mean H0) - exp(mean H1) = 10 - exp((0 + ln 9) / 2) = 10 - 3 = 7
// (b) = mean eRank0 - mean eRank1 = 10 - 5 = 5
// So the REFERENCE's "(b) >= (a)" is not a theorem: (b) - (a) = Jensen gap(M0) - Jensen gap(M1),
// which is negative when M1's eRanks vary more across texts than M0's. Only Jensen per model holds.
TEST(DiffSummary, ClosedFormAndReferenceClaimIsNotATheorem) {
  std::vector<ERank> m0 = {from_entropy(std::log(10.0)), from_entropy(std::log(10.0))};
  std::vector<ERank> m1 = {from_entropy(0.0), from_entropy(std::log(9.0))};
  DiffSummary s = summarize_diff(m0, m1);
  EXPECT_EQ(s.n_texts, 2);
  EXPECT_EQ(s.n_skipped, 0);
  EXPECT_NEAR(s.erank_a0, 10.0, 1e-12);
  EXPECT_NEAR(s.erank_a1, 3.0, 1e-12);
  EXPECT_NEAR(s.diff_a, 7.0, 1e-12);
  EXPECT_NEAR(s.diff_b, 5.0, 1e-12);
  EXPECT_LT(s.diff_b, s.diff_a);
  // paired differences {9, 1}: sample std sqrt(32), stderr sqrt(32) / sqrt(2) = 4
  EXPECT_NEAR(s.diff_b_stderr, 4.0, 1e-12);
  // delta method: Var H0 = 0, Var H1 = (ln 9)^2 / 2, so stderr = 3 * sqrt((ln 9)^2 / 2 / 2)
  EXPECT_NEAR(s.diff_a_stderr, 3.0 * std::log(9.0) / 2.0, 1e-12);
  EXPECT_NEAR(s.stderr_entropy0, 0.0, 1e-15);
}

TEST(DiffSummary, JensenPerModel) {
  std::mt19937 g(3);
  std::uniform_real_distribution<double> u(0.5, 5.0);
  for (int rep = 0; rep < 20; ++rep) {
    std::vector<ERank> m0, m1;
    for (int i = 0; i < 30; ++i) {
      m0.push_back(from_entropy(u(g)));
      m1.push_back(from_entropy(u(g)));
    }
    DiffSummary s = summarize_diff(m0, m1);
    EXPECT_GE(s.mean_erank0, s.erank_a0);  // mean exp(H) >= exp(mean H)
    EXPECT_GE(s.mean_erank1, s.erank_a1);
  }
}

TEST(DiffSummary, SkipsPairsWithADegenerateSide) {
  ERank bad;
  bad.ok = false;
  bad.erank = bad.entropy = std::nan("");
  std::vector<ERank> m0 = {from_entropy(1.0), bad, from_entropy(2.0), bad};
  std::vector<ERank> m1 = {from_entropy(0.5), from_entropy(1.0), bad, bad};
  DiffSummary s = summarize_diff(m0, m1);
  EXPECT_EQ(s.n_texts, 1);
  EXPECT_EQ(s.n_skipped, 3);
  EXPECT_EQ(s.n_skipped0, 2);
  EXPECT_EQ(s.n_skipped1, 2);
  EXPECT_NEAR(s.diff_a, std::exp(1.0) - std::exp(0.5), 1e-12);
  EXPECT_TRUE(std::isnan(s.diff_b_stderr));  // one pair: no spread estimate
  EXPECT_THROW(summarize_diff(m0, std::vector<ERank>(2)), Error);
}

TEST(Loss, UniformLogitsGiveLogV) {
  const int64_t N = 6, V = 50272;  // OPT's vocabulary: ln V = 10.825
  std::vector<float> logits(static_cast<size_t>(N * V), 0.37f);
  std::vector<int32_t> ids = {2, 100, 50271, 0, 7, 9};
  auto l = token_losses(logits.data(), N, V, ids);
  ASSERT_EQ(l.size(), 5u);
  for (double x : l) EXPECT_NEAR(x, std::log(static_cast<double>(V)), 1e-12);
  TextLoss t = text_loss(logits.data(), N, V, ids);
  EXPECT_EQ(t.n_tokens, 5);
  EXPECT_NEAR(t.mean(), 10.825, 5e-4);
}

TEST(Loss, MatchesTorchCrossEntropy) {
  SafetensorsFile f(std::string(ERANK_SOURCE_DIR) +
                    "/tests/fixtures/metrics/loss_case.safetensors");
  const TensorView& lv = f.tensors().at("logits");
  const TensorView& iv = f.tensors().at("ids");
  const TensorView& ref = f.tensors().at("losses");
  const int64_t N = lv.shape[0], V = lv.shape[1];
  std::vector<float> logits(static_cast<size_t>(N * V));
  to_f32(lv, logits.data());
  std::vector<int32_t> ids(static_cast<size_t>(N));
  std::memcpy(ids.data(), iv.data.data(), sizeof(int32_t) * N);
  std::vector<double> want(static_cast<size_t>(N - 1));
  std::memcpy(want.data(), ref.data.data(), sizeof(double) * (N - 1));
  auto got = token_losses(logits.data(), N, V, ids);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 * want[i]) << i;
}

// row_nll's vectorised log-sum-exp against the same sum in long double with the scalar exp: rows
// of every tail length and Gemma-3's 262144 values, logits spread over [-1000, 50] (terms that
// underflow to subnormals and 0), -inf entries; exactly ln V for a uniform row.
TEST(Loss, RowNllEqualsLongDoubleReference) {
  std::mt19937 rng(5);
  for (int64_t V : {1, 2, 7, 15, 16, 17, 31, 33, 100, 1000, 262144}) {
    for (double spread : {1.0, 30.0, 1000.0}) {
      std::uniform_real_distribution<float> u(float(-spread), 50.0f);
      std::vector<float> z(static_cast<size_t>(V));
      for (auto& x : z) x = u(rng);
      if (V > 3) z[2] = -std::numeric_limits<float>::infinity();
      long double mx = -INFINITY, se = 0;
      for (float x : z) mx = std::max(mx, static_cast<long double>(x));
      for (float x : z) se += std::exp(static_cast<long double>(x) - mx);
      int32_t y = static_cast<int32_t>(rng() % uint32_t(V));
      if (V > 3 && y == 2) y = 3;  // not the -inf logit (an infinite loss on both sides)
      const double want = static_cast<double>(std::log(se) - (static_cast<long double>(z[y]) - mx));
      EXPECT_NEAR(row_nll(z.data(), V, y, 0), want, 1e-13 * std::max(1.0, std::fabs(want)))
          << "V " << V << " spread " << spread;
    }
    const std::vector<float> flat(static_cast<size_t>(V), -3.25f);
    EXPECT_EQ(row_nll(flat.data(), V, 0, 0), std::log(static_cast<double>(V))) << V;
  }
  std::vector<float> z(40, 1.0f);
  z[21] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(row_nll(z.data(), 40, 0, 0), Error);
  z[21] = std::nanf("");
  EXPECT_THROW(row_nll(z.data(), 40, 0, 0), Error);
}

TEST(Loss, BadInputsThrow) {
  std::vector<float> logits(3 * 4, 0.f);
  EXPECT_THROW(token_losses(logits.data(), 3, 4, std::vector<int32_t>{0, 4, 1}), Error);
  EXPECT_THROW(token_losses(logits.data(), 3, 4, std::vector<int32_t>{0, 1}), Error);
  logits[5] = std::nanf("");
  EXPECT_THROW(token_losses(logits.data(), 3, 4, std::vector<int32_t>{0, 1, 2}), Error);
  EXPECT_TRUE(token_losses(logits.data(), 1, 4, std::vector<int32_t>{0}).empty());
}

TEST(Loss, PerTokenAndPerTextReductions) {
  // text A: 1 prediction, loss 1; text B: 3 predictions summing to 6; text C: none.
  std::vector<TextLoss> m1 = {{1.0, 1}, {6.0, 3}, {0.0, 0}};
  LossSummary s = summarize_loss(m1);
  EXPECT_DOUBLE_EQ(s.per_token, 7.0 / 4.0);
  EXPECT_DOUBLE_EQ(s.per_text, (1.0 + 2.0) / 2.0);
  EXPECT_EQ(s.n_tokens, 4);
  EXPECT_EQ(s.n_texts, 2);
  EXPECT_EQ(s.n_skipped, 1);
  std::vector<TextLoss> m0 = {{10.0, 1}, {30.0, 3}, {5.0, 1}};
  DeltaLoss d = delta_loss(m0, m1);  // text C dropped from both sides
  EXPECT_DOUBLE_EQ(d.delta_per_token, 40.0 / 4.0 - 7.0 / 4.0);
  EXPECT_DOUBLE_EQ(d.delta_per_text, 10.0 - 1.5);
  EXPECT_EQ(d.m0.n_skipped, 1);
  EXPECT_THROW(delta_loss(m0, std::vector<TextLoss>(1)), Error);
}

}  // namespace
}  // namespace erank
