// Small dense symmetric solves for the rating fits (a model count of tens to hundreds): Cholesky
// in double, no BLAS needed at this size.
#pragma once
#include <vector>

namespace erank::arena {

// Solves A X = B in place (A: n x n row-major, symmetric positive definite; B: n x m row-major,
// overwritten by X). False if A is not positive definite (A is then garbage).
bool cholesky_solve(std::vector<double>& A, std::vector<double>& B, int n, int m);

// A^-1 for a symmetric positive definite A (n x n); false if it is not.
bool spd_inverse(std::vector<double> A, int n, std::vector<double>& inv);

}  // namespace erank::arena
