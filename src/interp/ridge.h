// Ridge regression with the penalty chosen by efficient leave-one-out cross-validation: the
// numbers of scikit-learn's RidgeCV(alphas, fit_intercept=True) with its default (gcv) mode.
// One eigendecomposition per fit (of X'X when n > p, of XX' otherwise, X centred), then every
// alpha of the grid costs O(n p t): leave-one-out errors come from the hat matrix's diagonal
// (Rifkin & Lippert 2007), not from n refits. Everything in double.
//
// Letters: n rows (entities), p features, t targets. Matrices are row-major.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace erank {

// numpy.logspace(start, stop, num): 10 ** linspace(start, stop, num), the last point exact.
std::vector<double> logspace(double start, double stop, int num);
// The probes' grid of "Language Models Represent Space and Time": logspace(0.8, 4.1, 12).
std::vector<double> default_ridge_alphas();

struct RidgeCVOptions {
  std::vector<double> alphas = default_ridge_alphas();
  // true: each target keeps the alpha of its own best leave-one-out error (RidgeCV's
  // alpha_per_target=True); false: one alpha for all, by the mean error over every target.
  bool alpha_per_target = true;
};

struct RidgeFit {
  int64_t n_features = 0, n_targets = 0;
  std::vector<double> coef;       // [t, p], as RidgeCV's coef_ for several targets
  std::vector<double> intercept;  // [t]
  std::vector<double> alpha;      // [t] the chosen penalty (all equal without alpha_per_target)
  std::vector<double> loo_mse;    // [t] leave-one-out mean squared error at the chosen alpha
  // x [n, p] -> predictions [n, t]
  std::vector<double> predict(std::span<const double> x, int64_t n) const;
};

// Fits x [n, p] to y [n, t]. Ties between alphas keep the earlier one (RidgeCV's strict >).
// Throws erank::Error for n < 3, an empty or non-positive grid, or mismatched sizes.
RidgeFit ridge_cv(std::span<const double> x, int64_t n, int64_t p, std::span<const double> y,
                  int64_t t, const RidgeCVOptions& opt = {});

}  // namespace erank
