// Ratings from battles, as FastChat (online Elo, Bradley-Terry by maximum likelihood, bootstrap)
// and lmarena's arena-rank (sandwich intervals) compute them, in double precision. Ratings are on
// the Elo scale: P(a beats b) = 1 / (1 + 10^((R_b - R_a) / 400)).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "arena/battle_log.h"

namespace erank::arena {

// Online Elo over the battles in the order given (sort_by_time first): K = 4, base 10, scale 400,
// initial 1000; a tie scores 0.5. FastChat's compute_elo.
std::map<std::string, double> online_elo(const std::vector<Battle>& battles, double k = 4.0);

// The Bradley-Terry data: unique (a, b, outcome) rows weighted by how often they occur (both kinds
// of tie are one outcome, 0.5), models indexed in name order.
struct PairTable {
  std::vector<std::string> models;
  std::vector<int32_t> a, b;  // model indices per row
  std::vector<double> y, n;   // outcome for a (1, 0.5, 0) and count
  std::vector<int64_t> battles_per_model;
  double total = 0;
};
PairTable make_pair_table(const std::vector<Battle>& battles);

struct Anchor {
  std::string model;
  double rating = 1000;
};

// theta (natural log-odds units, sum 0) maximising sum n * [y log s(d) + (1 - y) log s(-d)],
// d = theta_a - theta_b, with weights w (defaults to the counts). Newton steps with a line
// search; the gauge is fixed by the sum. False when the iteration limit was hit (no finite MLE:
// see mle_exists).
bool fit_bt(const PairTable& t, const std::vector<double>& w, std::vector<double>& theta);
// A finite maximum exists iff the "beats" graph (a tie counts both ways) is strongly connected.
bool mle_exists(const PairTable& t);
// 400 * theta / ln 10 + 1000, then shifted so that the anchor has its rating.
std::vector<double> to_elo_scale(const PairTable& t, const std::vector<double>& theta,
                                 const std::optional<Anchor>& anchor);

// 95% intervals from `rounds` bootstrap fits: the counts redrawn as a multinomial of the total
// (FastChat's compute_bootstrap_bt), bounds at the 2.5 and 97.5 percentiles (linear
// interpolation, as pandas' quantile). Seeded: the same seed gives the same bounds.
std::vector<std::array<double, 2>> bootstrap_ci(const PairTable& t, int rounds, uint64_t seed,
                                                const std::optional<Anchor>& anchor);
// arena-rank's sandwich intervals: H^-1 G H^-1 with H the Fisher information (its diagonal
// regularised by 1e-5 * battles) and G the outer product of the per-row score, +- 1.96 sd.
std::vector<std::array<double, 2>> sandwich_ci(const PairTable& t, const std::vector<double>& theta,
                                               const std::optional<Anchor>& anchor);

// rank = 1 + the number of models whose lower bound exceeds this one's upper bound.
std::vector<int> ci_ranks(const std::vector<std::array<double, 2>>& ci);

// Percentile with linear interpolation between order statistics (numpy's default).
double quantile(std::vector<double> v, double q);

// xoshiro256** seeded by splitmix64: the bootstrap's draws, the same on every machine.
class ArenaRng {
 public:
  explicit ArenaRng(uint64_t seed);
  uint64_t next();
  uint64_t below(uint64_t n);  // uniform in [0, n), unbiased
 private:
  uint64_t s_[4];
};

}  // namespace erank::arena
