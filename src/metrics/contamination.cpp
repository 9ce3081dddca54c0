#include "metrics/contamination.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace erank::contamination {

namespace {

template <class T>
TokenStats row_stats(std::span<const T> z, int32_t token) {
  const int64_t V = static_cast<int64_t>(z.size());
  if (token < 0 || token >= V)
    fail("contamination: token id {} outside the vocabulary (size {})", token, V);
  double mx = -std::numeric_limits<double>::infinity();
  for (T v : z) mx = std::max(mx, static_cast<double>(v));
  double se = 0;
  for (T v : z) se += std::exp(static_cast<double>(v) - mx);
  if (!std::isfinite(mx) || !std::isfinite(se))
    fail("contamination: non-finite logits (max {}, sum of exp {})", mx, se);
  const double lse = mx + std::log(se);
  // Two passes over log p: the mean, then the spread around it (no E[x^2] - mu^2 cancellation).
  double mu = 0;
  for (T v : z) {
    const double lp = static_cast<double>(v) - lse;
    mu += std::exp(lp) * lp;
  }
  double var = 0;
  for (T v : z) {
    const double lp = static_cast<double>(v) - lse;
    var += std::exp(lp) * (lp - mu) * (lp - mu);
  }
  return {.logp = static_cast<double>(z[size_t(token)]) - lse, .mu = mu, .sigma = std::sqrt(var)};
}

}  // namespace

TokenStats token_stats(std::span<const float> logits, int32_t token) {
  return row_stats(logits, token);
}
TokenStats token_stats(std::span<const double> logits, int32_t token) {
  return row_stats(logits, token);
}

double mink_pp_score(const TokenStats& s) {
  return (s.logp - s.mu) / s.sigma;
}

void check_k(double k, const std::string& what) {
  if (!(k > 0 && k <= 1)) fail("{}: k = {} is outside (0, 1] (a fraction of the tokens)", what, k);
}

int64_t k_length(int64_t n, double k) {
  if (n <= 0) return 0;
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(n) * k));
}

std::optional<double> mean_of_smallest(std::span<const double> values, double k) {
  check_k(k, "contamination");
  const int64_t m = k_length(static_cast<int64_t>(values.size()), k);
  if (m == 0) return std::nullopt;
  // A NaN (0 / 0 of a degenerate row) would not sort; the text then has no score.
  for (double x : values)
    if (std::isnan(x)) return std::nullopt;
  std::vector<double> v(values.begin(), values.end());
  std::partial_sort(v.begin(), v.begin() + m, v.end());
  double s = 0;
  for (int64_t i = 0; i < m; ++i) s += v[size_t(i)];
  const double mean = s / static_cast<double>(m);
  if (!std::isfinite(mean)) return std::nullopt;
  return mean;
}

std::optional<double> min_k_prob(std::span<const double> token_logprobs, double k) {
  return mean_of_smallest(token_logprobs, k);
}

std::optional<double> min_k_plus_plus(std::span<const TokenStats> stats, double k) {
  std::vector<double> s;
  s.reserve(stats.size());
  for (const TokenStats& t : stats) s.push_back(mink_pp_score(t));
  return mean_of_smallest(s, k);
}

Distribution distribution(std::span<const double> values, int bins) {
  if (values.empty()) fail("contamination: no scores to summarise");
  if (bins < 1) fail("contamination: {} histogram bins (must be at least 1)", bins);
  for (double x : values)
    if (!std::isfinite(x)) fail("contamination: a non-finite score ({}) to summarise", x);
  Distribution d;
  const size_t n = values.size();
  d.n = static_cast<int64_t>(n);
  double s = 0;
  for (double x : values) s += x;
  d.mean = s / static_cast<double>(n);
  double ss = 0;
  for (double x : values) ss += (x - d.mean) * (x - d.mean);
  d.sd = n < 2 ? std::numeric_limits<double>::quiet_NaN() : std::sqrt(ss / double(n - 1));

  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  for (size_t i = 0; i < d.quantiles.size(); ++i) {
    // numpy's "linear" method and its _lerp (from the upper end when the weight is >= 0.5).
    const double h = Distribution::kQuantiles[i] * static_cast<double>(n - 1);
    const size_t lo = static_cast<size_t>(std::floor(h));
    const size_t hi = std::min(lo + 1, n - 1);
    const double t = h - static_cast<double>(lo), a = v[lo], b = v[hi];
    d.quantiles[i] = t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
  }

  // np.histogram: np.linspace edges, then each value in [edge_i, edge_i+1), the last bin closed.
  double first = v.front(), last = v.back();
  if (first == last) first -= 0.5, last += 0.5;
  const double step = (last - first) / bins;
  d.edges.resize(size_t(bins) + 1);
  for (int i = 0; i <= bins; ++i) d.edges[size_t(i)] = i * step + first;
  d.edges.back() = last;
  d.counts.assign(size_t(bins), 0);
  for (double x : v) {
    int64_t i = static_cast<int64_t>((x - first) / (last - first) * bins);
    i = std::clamp<int64_t>(i, 0, bins - 1);
    if (x < d.edges[size_t(i)] && i > 0) --i;
    if (i != bins - 1 && x >= d.edges[size_t(i) + 1]) ++i;
    ++d.counts[size_t(i)];
  }
  return d;
}

}  // namespace erank::contamination
