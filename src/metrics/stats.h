// Small summary statistics over doubles, used for dataset aggregates (Diff-eRank, loss).
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>

namespace erank::stats {

// Arithmetic mean; NaN for an empty range.
inline double mean(std::span<const double> x) {
  if (x.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double v : x) s += v;
  return s / static_cast<double>(x.size());
}

// Sample covariance (divisor n - 1, as numpy's ddof=1); NaN when n < 2 or the sizes differ.
inline double sample_cov(std::span<const double> x, std::span<const double> y) {
  if (x.size() < 2 || x.size() != y.size()) return std::numeric_limits<double>::quiet_NaN();
  const double mx = mean(x), my = mean(y);
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += (x[i] - mx) * (y[i] - my);
  return s / static_cast<double>(x.size() - 1);
}

// Sample standard deviation (divisor n - 1); NaN when n < 2.
inline double sample_std(std::span<const double> x) {
  return std::sqrt(sample_cov(x, x));
}

// Standard error of the mean, sample_std / sqrt(n); NaN when n < 2.
inline double stderr_of_mean(std::span<const double> x) {
  return sample_std(x) / std::sqrt(static_cast<double>(x.size()));
}

}  // namespace erank::stats
