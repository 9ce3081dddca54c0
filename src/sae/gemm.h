// C = alpha op(A) op(B) + beta C for float (OpenBLAS sgemm, rows of C split over OpenMP threads,
// each block one single-threaded call) and double (dgemm, one call: the gradient check's sizes).
// Row-major; op(A) is [M, K], op(B) is [K, N].
#pragma once
#include <cstdint>

namespace erank::sae {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

}  // namespace erank::sae
