// Membership scores for test-set contamination (was this text in the pretraining data?), from a
// text's per-token log-probabilities, as the papers' public code computes them:
//
// Min-K% Prob (Shi et al. 2023, "Detecting Pretraining Data from Large Language Models"): the
//   log-probabilities log p(x_t | x_<t) of tokens t = 2..n (the first token is never predicted),
//   k_length = int(len * k) (floor, the product in double as Python does it), the mean of the
//   k_length smallest (np.mean(np.sort(lp)[:k_length])).
// Min-K%++ (Zhang et al. 2024, "Min-K%++: Improved Baseline for Detecting Pre-Training Data"): per
//   position, with p the model's next-token distribution over the whole vocabulary,
//   mu_t = sum_z p(z) log p(z), sigma_t^2 = sum_z p(z) (log p(z))^2 - mu_t^2, and
//   score_t = (log p(x_t) - mu_t) / sigma_t; then the same mean of the k% smallest score_t.
//
// Differences from the reference code, each on purpose:
//   - everything is in double (the reference runs in the model's dtype): log-softmax of a logit row
//     is max-subtracted, and sigma_t^2 is computed as sum_z p(z) (log p(z) - mu_t)^2, equal to the
//     paper's E[(log p)^2] - mu^2 but without its cancellation on near-uniform rows;
//   - k_length = max(1, int(len * k)): the reference takes the mean of an empty slice (NaN) when
//     len * k < 1; erank scores such a short text by its single smallest value instead. A text with
//     no predicted token (one token) has no score (std::nullopt, JSON null);
//   - a row with sigma_t == 0 (one-hot or exactly uniform in double) gives a non-finite score_t,
//     and the text's Min-K%++ is then std::nullopt rather than inf/NaN.
// Lower scores mean "less likely seen"; the papers threshold them (higher = member).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace erank::contamination {

// log p(token), mu and sigma of one logit row (the vocabulary), in double. Throws erank::Error for
// a token outside the row or a non-finite logit.
struct TokenStats {
  double logp = 0, mu = 0, sigma = 0;
};
TokenStats token_stats(std::span<const float> logits, int32_t token);
TokenStats token_stats(std::span<const double> logits, int32_t token);

// (logp - mu) / sigma: Min-K%++'s per-token score (non-finite when sigma == 0).
double mink_pp_score(const TokenStats& s);

// Throws erank::Error unless 0 < k <= 1 (what `what` names, e.g. "--contamination-k").
void check_k(double k, const std::string& what);

// Values kept for a text of n scored tokens: max(1, int(n * k)), and 0 when n == 0.
int64_t k_length(int64_t n, double k);

// Mean of the k_length(n, k) smallest values; nullopt for no values or a non-finite one kept.
std::optional<double> mean_of_smallest(std::span<const double> values, double k);

// Min-K% Prob from the log-probabilities of tokens 2..n.
std::optional<double> min_k_prob(std::span<const double> token_logprobs, double k);
// Min-K%++ from the per-position statistics of tokens 2..n.
std::optional<double> min_k_plus_plus(std::span<const TokenStats> stats, double k);

// The distribution of a score over a task's items: numpy's np.mean, np.std(ddof=1) (NaN for
// n < 2), np.quantile (linear) at 0.05/0.25/0.5/0.75/0.95, and np.histogram(values, bins) (equal
// bins over [min, max], the last closed; [v - 0.5, v + 0.5] when all values equal v).
struct Distribution {
  int64_t n = 0;
  double mean = 0, sd = 0;
  static constexpr std::array<double, 5> kQuantiles = {0.05, 0.25, 0.5, 0.75, 0.95};
  std::array<double, 5> quantiles{};
  std::vector<double> edges;    // bins + 1
  std::vector<int64_t> counts;  // bins
};
// Throws erank::Error for no values, a non-finite value or bins < 1.
Distribution distribution(std::span<const double> values, int bins = 10);

}  // namespace erank::contamination
