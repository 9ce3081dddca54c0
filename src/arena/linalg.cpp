#include "arena/linalg.h"

#include <cmath>

namespace erank::arena {

bool cholesky_solve(std::vector<double>& A, std::vector<double>& B, int n, int m) {
  // A = L L^T, L stored in the lower triangle of A.
  for (int j = 0; j < n; ++j) {
    double d = A[j * n + j];
    for (int k = 0; k < j; ++k) d -= A[j * n + k] * A[j * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    A[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = A[i * n + j];
      for (int k = 0; k < j; ++k) s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / d;
    }
  }
  for (int c = 0; c < m; ++c) {
    for (int i = 0; i < n; ++i) {  // L y = b
      double s = B[i * m + c];
      for (int k = 0; k < i; ++k) s -= A[i * n + k] * B[k * m + c];
      B[i * m + c] = s / A[i * n + i];
    }
    for (int i = n - 1; i >= 0; --i) {  // L^T x = y
      double s = B[i * m + c];
      for (int k = i + 1; k < n; ++k) s -= A[k * n + i] * B[k * m + c];
      B[i * m + c] = s / A[i * n + i];
    }
  }
  return true;
}

bool spd_inverse(std::vector<double> A, int n, std::vector<double>& inv) {
  inv.assign(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) inv[i * n + i] = 1.0;
  return cholesky_solve(A, inv, n, n);
}

}  // namespace erank::arena
