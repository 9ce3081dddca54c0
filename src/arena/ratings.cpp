#include "arena/ratings.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "arena/linalg.h"
#include "core/error.h"

namespace erank::arena {
namespace {

const double kLn10 = std::log(10.0);
const double kZ975 = 1.959963984540054;  // norm.ppf(0.975), as arena-rank uses

double softplus(double x) {
  return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
}
double sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

double bt_loss(const PairTable& t, const std::vector<double>& w, const std::vector<double>& th) {
  double l = 0;
  for (size_t r = 0; r < t.y.size(); ++r) {
    const double d = th[t.a[r]] - th[t.b[r]];
    l += w[r] * (softplus(d) - t.y[r] * d);
  }
  return l;
}

}  // namespace

std::map<std::string, double> online_elo(const std::vector<Battle>& battles, double k) {
  // fschat's form: each side's expectation computed from its own difference, updated in turn.
  std::map<std::string, double> r;
  for (const Battle& b : battles) {
    double& ra = r.try_emplace(b.model_a, 1000.0).first->second;
    double& rb = r.try_emplace(b.model_b, 1000.0).first->second;
    const double ea = 1.0 / (1.0 + std::pow(10.0, (rb - ra) / 400.0));
    const double eb = 1.0 / (1.0 + std::pow(10.0, (ra - rb) / 400.0));
    const double sa = outcome_a(b.winner);
    ra += k * (sa - ea);
    rb += k * (1.0 - sa - eb);
  }
  return r;
}

PairTable make_pair_table(const std::vector<Battle>& battles) {
  PairTable t;
  for (const Battle& b : battles) {
    t.models.push_back(b.model_a);
    t.models.push_back(b.model_b);
  }
  std::sort(t.models.begin(), t.models.end());
  t.models.erase(std::unique(t.models.begin(), t.models.end()), t.models.end());
  auto idx = [&](const std::string& m) {
    return static_cast<int32_t>(std::lower_bound(t.models.begin(), t.models.end(), m) -
                                t.models.begin());
  };
  t.battles_per_model.assign(t.models.size(), 0);
  std::map<std::tuple<int32_t, int32_t, int>, double> rows;  // outcome as 0, 1, 2 halves
  for (const Battle& b : battles) {
    const int32_t ia = idx(b.model_a), ib = idx(b.model_b);
    ++t.battles_per_model[ia];
    ++t.battles_per_model[ib];
    rows[{ia, ib, static_cast<int>(2 * outcome_a(b.winner))}] += 1;
  }
  for (auto& [k, n] : rows) {
    t.a.push_back(std::get<0>(k));
    t.b.push_back(std::get<1>(k));
    t.y.push_back(std::get<2>(k) / 2.0);
    t.n.push_back(n);
    t.total += n;
  }
  return t;
}

bool mle_exists(const PairTable& t) {
  const size_t M = t.models.size();
  if (M < 2) return M == 1;
  // beats[i][j]: i scored against j at least once (a tie counts for both).
  std::vector<std::vector<int>> fwd(M), back(M);
  for (size_t r = 0; r < t.y.size(); ++r) {
    if (t.n[r] <= 0) continue;
    if (t.y[r] > 0) fwd[t.a[r]].push_back(t.b[r]), back[t.b[r]].push_back(t.a[r]);
    if (t.y[r] < 1) fwd[t.b[r]].push_back(t.a[r]), back[t.a[r]].push_back(t.b[r]);
  }
  auto reaches_all = [&](const std::vector<std::vector<int>>& g) {
    std::vector<char> seen(M, 0);
    std::vector<int> stack{0};
    seen[0] = 1;
    size_t n = 1;
    while (!stack.empty()) {
      const int v = stack.back();
      stack.pop_back();
      for (int u : g[v])
        if (!seen[u]) seen[u] = 1, ++n, stack.push_back(u);
    }
    return n == M;
  };
  return reaches_all(fwd) && reaches_all(back);
}

bool fit_bt(const PairTable& t, const std::vector<double>& w, std::vector<double>& theta) {
  const int M = static_cast<int>(t.models.size());
  theta.assign(M, 0.0);
  if (M < 2) return true;
  double scale = 0;
  for (double x : w) scale += x;
  if (scale <= 0) return true;
  double loss = bt_loss(t, w, theta);
  for (int it = 0; it < 200; ++it) {
    std::vector<double> g(M, 0.0), H(static_cast<size_t>(M) * M, 1.0 * scale / M);
    // H + (scale/M) 11^T: positive definite on a connected graph; the extra term fixes the gauge
    // (the step keeps sum(theta) = 0 because the gradient sums to zero).
    for (size_t r = 0; r < t.y.size(); ++r) {
      const int ia = t.a[r], ib = t.b[r];
      const double p = sigmoid(theta[ia] - theta[ib]);
      const double gr = w[r] * (p - t.y[r]), h = w[r] * p * (1 - p);
      g[ia] += gr;
      g[ib] -= gr;
      H[ia * M + ia] += h;
      H[ib * M + ib] += h;
      H[ia * M + ib] -= h;
      H[ib * M + ia] -= h;
    }
    double gmax = 0;
    for (double x : g) gmax = std::max(gmax, std::abs(x));
    if (gmax <= 1e-13 * scale) return true;
    std::vector<double> step(g);
    for (double& x : step) x = -x;
    if (!cholesky_solve(H, step, M, 1)) {
      for (int i = 0; i < M; ++i) step[i] = -g[i] / scale;  // degenerate: gradient step
    }
    double slope = 0;
    for (int i = 0; i < M; ++i) slope += g[i] * step[i];
    double s = 1.0, next = 0;
    std::vector<double> trial(M);
    for (int k = 0; k < 60; ++k, s *= 0.5) {
      for (int i = 0; i < M; ++i) trial[i] = theta[i] + s * step[i];
      next = bt_loss(t, w, trial);
      if (next <= loss + 1e-4 * s * slope) break;
    }
    double dmax = 0;
    for (int i = 0; i < M; ++i) dmax = std::max(dmax, std::abs(trial[i] - theta[i]));
    theta = trial;
    if (dmax < 1e-14 || next >= loss) return true;  // no further progress in double precision
    loss = next;
  }
  return false;
}

std::vector<double> to_elo_scale(const PairTable& t, const std::vector<double>& theta,
                                 const std::optional<Anchor>& anchor) {
  std::vector<double> r(theta.size());
  for (size_t i = 0; i < theta.size(); ++i) r[i] = 400.0 * theta[i] / kLn10 + 1000.0;
  if (anchor) {
    auto it = std::find(t.models.begin(), t.models.end(), anchor->model);
    if (it == t.models.end()) fail("--anchor: no battle involves '{}'", anchor->model);
    const double shift = anchor->rating - r[it - t.models.begin()];
    for (double& x : r) x += shift;
  }
  return r;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::vector<std::array<double, 2>> bootstrap_ci(const PairTable& t, int rounds, uint64_t seed,
                                                const std::optional<Anchor>& anchor) {
  const size_t M = t.models.size(), R = t.y.size();
  std::vector<std::vector<double>> samples(M);
  std::vector<double> cum(R);
  std::partial_sum(t.n.begin(), t.n.end(), cum.begin());
  const auto N = static_cast<uint64_t>(t.total);
  ArenaRng rng(seed);
  std::vector<double> theta;
  for (int k = 0; k < rounds; ++k) {
    // Multinomial(N, n / N): N battles drawn uniformly, each counted under its unique row.
    std::vector<double> w(R, 0.0);
    for (uint64_t d = 0; d < N; ++d) {
      const double u = static_cast<double>(rng.below(N));
      w[std::upper_bound(cum.begin(), cum.end(), u) - cum.begin()] += 1;
    }
    fit_bt(t, w, theta);  // a resample without a finite MLE keeps its last iterate, as FastChat
    const std::vector<double> r = to_elo_scale(t, theta, anchor);
    for (size_t i = 0; i < M; ++i) samples[i].push_back(r[i]);
  }
  std::vector<std::array<double, 2>> ci(M);
  for (size_t i = 0; i < M; ++i) ci[i] = {quantile(samples[i], 0.025), quantile(samples[i], 0.975)};
  return ci;
}

std::vector<std::array<double, 2>> sandwich_ci(const PairTable& t, const std::vector<double>& theta,
                                               const std::optional<Anchor>& anchor) {
  const int M = static_cast<int>(t.models.size());
  std::vector<double> H(static_cast<size_t>(M) * M, 0.0), G(H);
  for (int i = 0; i < M; ++i) H[i * M + i] = 1e-5 * t.total;  // arena-rank: hessian_reg * N
  for (size_t r = 0; r < t.y.size(); ++r) {
    const int ia = t.a[r], ib = t.b[r];
    const double p = sigmoid(theta[ia] - theta[ib]);
    const double h = t.n[r] * p * (1 - p), g = t.n[r] * (t.y[r] - p) * (t.y[r] - p);
    for (auto [m, v] : {std::pair{&H, h}, std::pair{&G, g}}) {
      (*m)[ia * M + ia] += v;
      (*m)[ib * M + ib] += v;
      (*m)[ia * M + ib] -= v;
      (*m)[ib * M + ia] -= v;
    }
  }
  std::vector<double> Hi;
  if (!spd_inverse(H, M, Hi)) fail("sandwich intervals: the information matrix is singular");
  std::vector<double> T(static_cast<size_t>(M) * M, 0.0), C(T);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < M; ++k)
      for (int j = 0; j < M; ++j) T[i * M + j] += Hi[i * M + k] * G[k * M + j];
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < M; ++k)
      for (int j = 0; j < M; ++j) C[i * M + j] += T[i * M + k] * Hi[k * M + j];
  int a = -1;  // with an anchor the interval is that of theta_i - theta_anchor
  if (anchor)
    a = static_cast<int>(std::find(t.models.begin(), t.models.end(), anchor->model) -
                         t.models.begin());
  const std::vector<double> r = to_elo_scale(t, theta, anchor);
  std::vector<std::array<double, 2>> ci(M);
  for (int i = 0; i < M; ++i) {
    double v = C[i * M + i];
    if (a >= 0 && a < M) v += C[a * M + a] - 2 * C[i * M + a];
    const double half = kZ975 * std::sqrt(std::max(v, 0.0)) * 400.0 / kLn10;
    ci[i] = {r[i] - half, r[i] + half};
  }
  return ci;
}

std::vector<int> ci_ranks(const std::vector<std::array<double, 2>>& ci) {
  std::vector<int> rank(ci.size(), 1);
  for (size_t i = 0; i < ci.size(); ++i)
    for (size_t j = 0; j < ci.size(); ++j)
      if (i != j && ci[j][0] > ci[i][1]) ++rank[i];
  return rank;
}

ArenaRng::ArenaRng(uint64_t seed) {
  for (uint64_t& s : s_) {  // splitmix64
    seed += 0x9e3779b97f4a7c15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    s = z ^ (z >> 31);
  }
}

uint64_t ArenaRng::next() {
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const uint64_t out = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return out;
}

uint64_t ArenaRng::below(uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // rejection keeps it unbiased
  for (;;) {
    const uint64_t x = next();
    if (x < limit) return x % n;
  }
}

}  // namespace erank::arena
