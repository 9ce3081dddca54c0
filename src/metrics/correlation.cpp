#include "metrics/correlation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace erank::stats {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

double pearson(std::span<const double> x, std::span<const double> y) {
  const size_t n = x.size();
  if (n < 2 || y.size() != n) return kNaN;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= double(n);
  my /= double(n);
  std::vector<double> dx(n), dy(n);
  double ax = 0, ay = 0;
  for (size_t i = 0; i < n; ++i) {
    dx[i] = x[i] - mx;
    dy[i] = y[i] - my;
    ax = std::max(ax, std::abs(dx[i]));
    ay = std::max(ay, std::abs(dy[i]));
  }
  if (ax == 0 || ay == 0) return kNaN;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double a = dx[i] / ax, b = dy[i] / ay;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  // Rounding can push |r| a hair past 1 for (anti)collinear data; scipy clips too.
  return std::clamp(sxy / (std::sqrt(sxx) * std::sqrt(syy)), -1.0, 1.0);
}

std::vector<double> average_ranks(std::span<const double> x) {
  const size_t n = x.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(n);
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && x[order[j]] == x[order[i]]) ++j;
    const double avg = 0.5 * double(i + 1 + j);  // mean of ranks i+1 .. j
    for (size_t k = i; k < j; ++k) r[order[k]] = avg;
    i = j;
  }
  return r;
}

double spearman(std::span<const double> x, std::span<const double> y) {
  if (x.size() < 2 || y.size() != x.size()) return kNaN;
  const std::vector<double> rx = average_ranks(x), ry = average_ranks(y);
  return pearson(rx, ry);
}

double kendall_tau_b(std::span<const double> x, std::span<const double> y) {
  const size_t n = x.size();
  if (n < 2 || y.size() != n) return kNaN;
  // Integer counts: exact, so the only rounding is in the final division.
  long long con = 0, dis = 0, tie_x = 0, tie_y = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double a = x[i] - x[j], b = y[i] - y[j];
      if (a == 0) ++tie_x;
      if (b == 0) ++tie_y;
      if (a == 0 || b == 0) continue;
      ((a > 0) == (b > 0) ? con : dis) += 1;
    }
  const long long n0 = static_cast<long long>(n) * static_cast<long long>(n - 1) / 2;
  if (tie_x == n0 || tie_y == n0) return kNaN;
  const double tau =
      double(con - dis) / std::sqrt(double(n0 - tie_x)) / std::sqrt(double(n0 - tie_y));
  return std::clamp(tau, -1.0, 1.0);
}

}  // namespace erank::stats
