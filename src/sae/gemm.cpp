#include "sae/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

namespace erank::sae {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  // Row blocks of 64: enough work per call for the kernel, and the same blocks on any thread
  // count (each output element comes from the same call).
  constexpr int64_t RB = 64;
  const int64_t nb = (M + RB - 1) / RB;
#pragma omp parallel for schedule(dynamic)
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t r0 = b * RB, rows = std::min(RB, M - r0);
    const float* a = ta ? A + r0 : A + r0 * lda;  // op(A)'s rows r0.. (A's columns when ta)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                int(rows), int(N), int(K), alpha, a, int(lda), B, int(ldb), beta, C + r0 * ldc,
                int(ldc));
  }
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M),
              int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

}  // namespace erank::sae
