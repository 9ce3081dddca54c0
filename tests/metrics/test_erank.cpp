// eRank: closed forms, route agreement, degenerate inputs, and parity with the original
// Diff-eRank code (tools/make_metric_goldens.py -> tests/fixtures/metrics/erank_*.safetensors).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "io/safetensors.h"
#include "metrics/erank.h"

namespace erank {
namespace {

std::vector<float> random_matrix(int64_t N, int64_t d, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.f, 1.f);
  std::vector<float> R(static_cast<size_t>(N * d));
  for (float& v : R) v = n(g);
  return R;
}

// Regular simplex of N points in d >= N - 1 dimensions: the N basis vectors of R^N, centred and
// written in an orthonormal basis of their (N-1)-dim span (Gram-Schmidt), padded with zeros.
std::vector<float> simplex(int64_t N, int64_t d, float scale, float shift) {
  std::vector<std::vector<double>> P(N, std::vector<double>(N));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) P[i][j] = (i == j) - 1.0 / N;
  std::vector<std::vector<double>> B;  // orthonormal basis of span{P_i}
  for (int64_t i = 0; i + 1 < N; ++i) {
    std::vector<double> v = P[i];
    for (const auto& b : B) {
      double dot = 0;
      for (int64_t j = 0; j < N; ++j) dot += v[j] * b[j];
      for (int64_t j = 0; j < N; ++j) v[j] -= dot * b[j];
    }
    double nn = 0;
    for (double x : v) nn += x * x;
    for (double& x : v) x /= std::sqrt(nn);
    B.push_back(v);
  }
  std::vector<float> R(static_cast<size_t>(N * d), shift);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k + 1 < N; ++k) {
      double c = 0;
      for (int64_t j = 0; j < N; ++j) c += P[i][j] * B[k][j];
      R[i * d + k] = static_cast<float>(c * scale) + shift;
    }
  return R;
}

TEST(ERank, RegularSimplexHasRankNMinus1) {
  for (int64_t N : {2, 3, 5, 8, 17}) {
    for (int64_t d : {N - 1, N, N + 7, 3 * N}) {
      if (d < 1) continue;
      auto R = simplex(N, d, 2.5f, 0.75f);
      for (bool gram : {false, true}) {
        ERank e = gram ? erank_via_gram(R.data(), N, d) : erank_via_cov(R.data(), N, d);
        ASSERT_TRUE(e.ok) << e.skipped;
        EXPECT_NEAR(e.erank, static_cast<double>(N - 1), 1e-9 * N) << "N=" << N << " d=" << d;
        EXPECT_NEAR(e.entropy, std::log(static_cast<double>(N - 1)), 1e-9);
        EXPECT_EQ(e.n_tokens, N);
      }
    }
  }
}

TEST(ERank, TwoDistinctPointsGiveOne) {
  for (int64_t d : {1, 2, 5, 300}) {
    auto R = random_matrix(2, d, 7 + static_cast<uint32_t>(d));
    ERank e = erank_of(R.data(), 2, d);
    ASSERT_TRUE(e.ok) << e.skipped;
    EXPECT_NEAR(e.erank, 1.0, 1e-12);
  }
}

TEST(ERank, GramAndCovarianceRoutesAgree) {
  const std::pair<int64_t, int64_t> shapes[] = {{5, 40}, {40, 5}, {33, 33}, {64, 200}, {150, 24}};
  uint32_t seed = 1;
  for (auto [N, d] : shapes) {
    auto R = random_matrix(N, d, seed++);
    ERank a = erank_via_cov(R.data(), N, d), b = erank_via_gram(R.data(), N, d);
    ASSERT_TRUE(a.ok && b.ok);
    EXPECT_NEAR(a.entropy, b.entropy, 1e-10) << N << "x" << d;
    EXPECT_NEAR(a.erank, b.erank, 1e-10 * a.erank) << N << "x" << d;
    ERank c = erank_of(R.data(), N, d);
    EXPECT_EQ(c.erank, N < d ? b.erank : a.erank);
    // centring removes one dimension
    EXPECT_LE(a.erank, std::min<double>(N - 1, d) * (1 + 1e-12));
    EXPECT_GE(a.erank, 1.0);
    auto l = erank_spectrum(R.data(), N, d, N < d);
    double s = 0;
    for (double v : l) s += v;
    EXPECT_NEAR(s, 1.0, 1e-12);
  }
}

TEST(ERank, InvariantToShiftScaleAndTokenOrder) {
  const int64_t N = 20, d = 12;
  auto R = random_matrix(N, d, 99);
  auto S = R;
  for (float& v : S) v = v * 8.0f + 3.0f;
  std::vector<float> P(R.size());
  for (int64_t i = 0; i < N; ++i) std::memcpy(&P[(N - 1 - i) * d], &R[i * d], sizeof(float) * d);
  const double e = erank_of(R.data(), N, d).erank;
  EXPECT_NEAR(erank_of(S.data(), N, d).erank, e, 1e-5 * e);  // float rounding of S
  EXPECT_NEAR(erank_of(P.data(), N, d).erank, e, 1e-12 * e);
}

TEST(ERank, DegenerateInputsAreSkippedNotNaN) {
  auto R = random_matrix(3, 4, 5);
  ERank one = erank_of(R.data(), 1, 4);
  EXPECT_FALSE(one.ok);
  EXPECT_NE(one.skipped.find("1 token"), std::string::npos);
  EXPECT_EQ(one.n_tokens, 1);
  EXPECT_FALSE(erank_of(R.data(), 0, 4).ok);

  std::vector<float> same = {1, 2, 3, 1, 2, 3};  // both rows equal the mean
  ERank s = erank_of(same.data(), 2, 3);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.skipped.find("zero norm"), std::string::npos);
  std::vector<float> mid = {0, 0, 1, 2, 2, 4};  // middle row is the mean row
  EXPECT_FALSE(erank_of(mid.data(), 3, 2).ok);

  R[5] = std::nanf("");
  ERank n = erank_of(R.data(), 3, 4);
  EXPECT_FALSE(n.ok);
  EXPECT_NE(n.skipped.find("non-finite"), std::string::npos);
  EXPECT_TRUE(erank_spectrum(R.data(), 3, 4, true).empty());
}

double read_f64(const SafetensorsFile& f, const std::string& name) {
  const TensorView& v = f.tensors().at(name);
  EXPECT_EQ(v.dtype, DType::f64);
  double x;
  std::memcpy(&x, v.data.data(), sizeof x);
  return x;
}

TEST(ERank, MatchesOriginalDiffERankCode) {
  const std::filesystem::path dir =
      std::filesystem::path(ERANK_SOURCE_DIR) / "tests/fixtures/metrics";
  int n_cases = 0;
  double worst64 = 0, worst32 = 0;
  for (const auto& ent : std::filesystem::directory_iterator(dir)) {
    const std::string name = ent.path().filename().string();
    if (name.rfind("erank_", 0) != 0) continue;
    SafetensorsFile f(ent.path().string());
    const TensorView& rv = f.tensors().at("R");
    ASSERT_EQ(rv.shape.size(), 2u);
    const int64_t N = rv.shape[0], d = rv.shape[1];
    std::vector<float> R(static_cast<size_t>(N * d));
    to_f32(rv, R.data());
    for (bool gram : {false, true}) {
      ERank e = gram ? erank_via_gram(R.data(), N, d) : erank_via_cov(R.data(), N, d);
      ASSERT_TRUE(e.ok) << name;
      const double e64 = read_f64(f, "erank_f64"), e32 = read_f64(f, "erank_f32");
      worst64 = std::max(worst64, std::abs(e.erank - e64) / e64);
      worst32 = std::max(worst32, std::abs(e.erank - e32) / e32);
      EXPECT_NEAR(e.erank, e64, 1e-6 * e64) << name << " gram=" << gram;
      EXPECT_NEAR(e.erank, e32, 1e-3 * e32) << name << " gram=" << gram;
      EXPECT_NEAR(e.entropy, read_f64(f, "entropy_f64"), 1e-6 * std::max(1.0, e.entropy)) << name;
    }
    ++n_cases;
  }
  EXPECT_GE(n_cases, 7);
  std::printf("max relative eRank difference vs original: float64 %.3g, float32 %.3g\n", worst64,
              worst32);
}

}  // namespace
}  // namespace erank
