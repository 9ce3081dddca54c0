#include "interp/probe_metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace erank {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean_of(std::span<const double> a) {
  double s = 0;
  for (double v : a) s += v;
  return s / double(a.size());
}

}  // namespace

double r2_score(std::span<const double> truth, std::span<const double> pred) {
  ERANK_CHECK(truth.size() == pred.size(), "r2: {} vs {} values", truth.size(), pred.size());
  if (truth.size() < 2) return kNaN;
  const double m = mean_of(truth);
  double res = 0, tot = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    res += (truth[i] - pred[i]) * (truth[i] - pred[i]);
    tot += (truth[i] - m) * (truth[i] - m);
  }
  return tot > 0 ? 1.0 - res / tot : kNaN;
}

double pearson(std::span<const double> a, std::span<const double> b) {
  ERANK_CHECK(a.size() == b.size(), "pearson: {} vs {} values", a.size(), b.size());
  if (a.size() < 2) return kNaN;
  const double ma = mean_of(a), mb = mean_of(b);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa <= 0 || sbb <= 0) return kNaN;
  return std::clamp(sab / std::sqrt(saa * sbb), -1.0, 1.0);
}

std::vector<double> average_ranks(std::span<const double> a) {
  std::vector<size_t> idx(a.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return a[x] < a[y]; });
  std::vector<double> r(a.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && a[idx[j + 1]] == a[idx[i]]) ++j;
    const double rank = (double(i) + double(j)) / 2.0 + 1.0;  // ranks i+1..j+1, averaged
    for (size_t k = i; k <= j; ++k) r[idx[k]] = rank;
    i = j + 1;
  }
  return r;
}

double spearman(std::span<const double> a, std::span<const double> b) {
  const std::vector<double> ra = average_ranks(a), rb = average_ranks(b);
  return pearson(ra, rb);
}

double proximity_error(std::span<const double> truth, std::span<const double> pred, int t,
                       Distance dist) {
  ERANK_CHECK(t >= 1 && truth.size() == pred.size() && truth.size() % size_t(t) == 0,
              "proximity_error: {} vs {} values, {} targets", truth.size(), pred.size(), t);
  const size_t n = truth.size() / size_t(t);
  if (n < 2) return kNaN;
  // Points as vectors whose squared Euclidean distance orders pairs as `dist` does.
  int dim = t;
  std::vector<double> tv, pv;
  if (dist == Distance::haversine) {
    ERANK_CHECK(t == 2, "haversine distance needs (latitude, longitude), got {} targets", t);
    dim = 3;
    const double rad = M_PI / 180.0;
    auto unit = [&](std::span<const double> ll, std::vector<double>& out) {
      out.resize(n * 3);
      for (size_t i = 0; i < n; ++i) {
        const double la = ll[2 * i] * rad, lo = ll[2 * i + 1] * rad;
        out[3 * i] = std::cos(la) * std::cos(lo);
        out[3 * i + 1] = std::cos(la) * std::sin(lo);
        out[3 * i + 2] = std::sin(la);
      }
    };
    unit(truth, tv);
    unit(pred, pv);
  } else {
    tv.assign(truth.begin(), truth.end());
    pv.assign(pred.begin(), pred.end());
  }
  auto d2 = [&](size_t i, size_t j) {  // |true_i - pred_j|^2
    double s = 0;
    for (int c = 0; c < dim; ++c) {
      const double e = tv[i * size_t(dim) + size_t(c)] - pv[j * size_t(dim) + size_t(c)];
      s += e * e;
    }
    return s;
  };
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    const double own = d2(i, i);
    size_t closer = 0;
    for (size_t j = 0; j < n; ++j)
      if (j != i && d2(i, j) < own) ++closer;
    total += double(closer) / double(n - 1);
  }
  return total / double(n);
}

}  // namespace erank
