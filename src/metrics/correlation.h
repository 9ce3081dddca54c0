// Correlation coefficients across paired samples, as scipy.stats computes them: pearsonr,
// spearmanr (Pearson on average ranks) and kendalltau (tau-b, which corrects for ties). Used by
// `erank sweep` to relate Diff-eRank, reduced loss and accuracy across models.
#pragma once
#include <span>
#include <vector>

namespace erank::stats {

// Pearson's r; NaN when n < 2, the sizes differ, or either sample is constant (scipy warns and
// returns nan there too). Inputs are centred and scaled by their largest |deviation| first, as
// scipy does, so huge or tiny values do not overflow.
double pearson(std::span<const double> x, std::span<const double> y);

// Ranks 1..n, ties sharing their average rank (scipy.stats.rankdata(method="average")).
std::vector<double> average_ranks(std::span<const double> x);

// Spearman's rho = Pearson's r of the average ranks.
double spearman(std::span<const double> x, std::span<const double> y);

// Kendall's tau-b = (concordant - discordant) / sqrt((n0 - ties_x) (n0 - ties_y)), n0 = n(n-1)/2,
// ties_x counting pairs tied in x (tied in both included). O(n^2): meant for the few models of a
// sweep. NaN when n < 2 or a sample is constant.
double kendall_tau_b(std::span<const double> x, std::span<const double> y);

}  // namespace erank::stats
