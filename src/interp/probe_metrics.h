// How well a probe's predictions match the truth on held-out entities: R² (as scikit-learn's
// r2_score), Pearson and Spearman (as scipy's, ties ranked by their average), and the proximity
// error of "Language Models Represent Space and Time".
#pragma once
#include <span>
#include <vector>

namespace erank {

// 1 - SS_res / SS_tot; NaN when the truth is constant (r2_score's 0-variance case is not a
// number we want to average).
double r2_score(std::span<const double> truth, std::span<const double> pred);
// NaN when either side is constant or fewer than 2 points.
double pearson(std::span<const double> a, std::span<const double> b);
double spearman(std::span<const double> a, std::span<const double> b);
// Ranks 1..n, ties get the mean of their ranks (scipy.stats.rankdata "average").
std::vector<double> average_ranks(std::span<const double> a);

enum class Distance {
  euclidean,  // in the targets' own units (absolute difference for one target)
  haversine,  // targets are (latitude, longitude) in degrees: great-circle distance
};

// Mean over entities i of the fraction of the other entities j whose prediction lies closer to
// i's true point than i's own prediction: d(true_i, pred_j) < d(true_i, pred_i). truth and pred
// are [n, t] row-major. O(n^2 t); haversine compares chord lengths of unit vectors (monotone in
// the great-circle distance), so no trigonometry in the pair loop.
double proximity_error(std::span<const double> truth, std::span<const double> pred, int t,
                       Distance dist);

}  // namespace erank
