// erank's own f32 matrix product against a double-precision transcription of C = A op(B), over
// shapes that hit every edge: rows that are not a multiple of the 14-row micro-tile, columns
// that are not a multiple of 32, K past one K block, strided operands, accumulation onto C; and
// bitwise-equal results for 1, 2 and 3 threads. Also the profiling wrapper of ERANK_PROFILE.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/gemm_f32.h"

using namespace erank;

namespace {

struct Shape {
  int64_t M, N, K;
};

class GemmF32Test : public ::testing::TestWithParam<Shape> {};

TEST_P(GemmF32Test, MatchesDoubleDefinition) {
  if (!gemm_f32_available()) GTEST_SKIP() << "no AVX-512 on this CPU: the backend uses OpenBLAS";
  const auto [M, N, K] = GetParam();
  std::mt19937 rng(static_cast<unsigned>(M * 1000003 + N * 1009 + K));
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (bool b_nk : {true, false})
    for (bool accumulate : {false, true}) {
      // Padded strides, so that reading past a row would show up as a wrong value.
      const int64_t lda = K + 3, ldb = (b_nk ? K : N) + 5, ldc = N + 7;
      std::vector<float> A(size_t(M * lda)), B(size_t((b_nk ? N : K) * ldb)), C0(size_t(M * ldc));
      for (auto* v : {&A, &B, &C0})
        for (auto& x : *v) x = nd(rng);
      std::vector<float> want = C0;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double s = accumulate ? C0[size_t(m * ldc + n)] : 0.0;
          for (int64_t k = 0; k < K; ++k)
            s += double(A[size_t(m * lda + k)]) *
                 double(b_nk ? B[size_t(n * ldb + k)] : B[size_t(k * ldb + n)]);
          want[size_t(m * ldc + n)] = float(s);
        }
      std::vector<float> first;
      for (int threads : {1, 2, 3}) {
        std::vector<float> C = C0;
        gemm_f32({.M = M,
                  .N = N,
                  .K = K,
                  .A = A.data(),
                  .lda = lda,
                  .B = B.data(),
                  .ldb = ldb,
                  .b_nk = b_nk,
                  .C = C.data(),
                  .ldc = ldc,
                  .accumulate = accumulate},
                 threads);
        double worst = 0;
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < ldc; ++n) {
            const size_t i = size_t(m * ldc + n);
            if (n >= N) {  // padding past N is never written
              ASSERT_EQ(C[i], C0[i]) << "wrote padding at " << m << "," << n;
              continue;
            }
            // f32 products summed in f32: error grows like sqrt(K) ulps of the terms.
            worst = std::max(worst, std::abs(double(C[i]) - want[i]) / std::sqrt(double(K) + 1));
          }
        EXPECT_LT(worst, 2e-6) << "b_nk " << b_nk << " accumulate " << accumulate;
        if (first.empty())
          first = C;
        else
          ASSERT_EQ(C, first) << "not bitwise equal with " << threads << " threads";
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmF32Test,
                         ::testing::Values(Shape{1, 1, 1}, Shape{14, 32, 16}, Shape{13, 31, 7},
                                           Shape{15, 33, 385}, Shape{100, 70, 800},
                                           Shape{350, 96, 64}, Shape{29, 200, 0 + 1000},
                                           Shape{5, 17, 0}));

}  // namespace

// ERANK_PROFILE's wrapper: the same results as the backend it wraps, bit for bit, and a report
// of each op it saw when it goes away.
TEST(ProfilingBackend, ForwardsEveryOpAndReportsIt) {
  auto plain = make_backend("cpu");
  auto wrapped = make_profiling_backend(make_backend("cpu"));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Act x = plain->alloc(37, 48);
  for (auto& v : x.f) v = nd(rng);
  std::vector<float> wv(size_t(64 * 48)), gv(48);
  for (auto& v : wv) v = nd(rng);
  for (auto& v : gv) v = nd(rng);
  Weight w{{64, 48}, wv}, gain{{48}, gv};
  Act y0, y1, n0, n1;
  plain->linear(x, w, nullptr, y0);
  wrapped->linear(x, w, nullptr, y1);
  plain->rms_norm(x, gain, 1e-6, 48, false, n0);
  wrapped->rms_norm(x, gain, 1e-6, 48, false, n1);
  EXPECT_EQ(y0.f, y1.f);
  EXPECT_EQ(n0.f, n1.f);
  EXPECT_EQ(wrapped->name(), "cpu");
  ::testing::internal::CaptureStderr();
  wrapped.reset();
  const std::string report = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(report.find("erank profile (cpu)"), std::string::npos) << report;
  EXPECT_NE(report.find("linear"), std::string::npos) << report;
  EXPECT_NE(report.find("rms_norm"), std::string::npos) << report;
}
