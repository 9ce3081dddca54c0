// Effective rank (eRank) of one text's token representations and the Diff-eRank dataset aggregates
// (REFERENCE.md §1, Wei et al. 2024). Dimension letters: N tokens (rows), d hidden size (columns).
//
// Steps, exactly as the published code (normalize -> cal_cov -> cal_erank), but in double:
//   1. Z = R - mean row; every row of Z divided by its L2 norm (no epsilon).
//   2. A = Z^T Z / N (d x d), or the Gram matrix G = Z Z^T / N (N x N) when N < d: both have the
//      same non-zero eigenvalues, and the Gram route costs O(N^2 d + N^3) instead of O(N d^2 +
//      d^3).
//   3. l = eigenvalues(A) / trace(A), from LAPACK dsyevd (the original takes singular values of
//      this PSD matrix in float32: the same numbers).
//   4. H = -sum l log l over l > 0; eRank = exp(H).
// "Zero" eigenvalues: dsyevd returns the exact-zero part of the spectrum as tiny values of either
// sign (|l| ~ 1e-17). Values l <= 0 are dropped (the original's nansum drops the NaN of 0 * log 0);
// tiny positive ones are kept, each adds at most ~1e-15 to H, far below any reported digit.
//
// Degenerate inputs, where the original produces NaN rows: N < 2, or a row equal to the mean row
// (zero norm after centring), or a non-finite input value. erank_of then returns ok = false with
// `skipped` saying why, and erank/entropy = NaN; callers skip such texts and count them
// (summarize_diff does). Nothing here throws for these cases.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace erank {

struct ERank {
  double erank = 0;      // exp(entropy); NaN when !ok
  double entropy = 0;    // natural-log spectral entropy H; NaN when !ok
  int64_t n_tokens = 0;  // N
  bool ok = false;       // false: degenerate input, see `skipped`
  std::string skipped;   // one-line reason when !ok, empty otherwise
};

// R: row-major N x d floats (rows = tokens). Picks the Gram route when N < d, else covariance.
ERank erank_of(const float* R, int64_t N, int64_t d);

// The two routes, exposed for tests and benchmarks; both give the same result up to rounding.
ERank erank_via_cov(const float* R, int64_t N, int64_t d);
ERank erank_via_gram(const float* R, int64_t N, int64_t d);

// The normalised spectrum l (descending, l <= 0 already removed) by the given route; empty when
// the input is degenerate. For tests and for reports that show the spectrum.
std::vector<double> erank_spectrum(const float* R, int64_t N, int64_t d, bool use_gram);

// Dataset aggregates from per-text results of the untrained (M0) and trained (M1) model on the
// same texts, in the same order (m0[i] and m1[i] are text i). A text enters the aggregates only if
// both results are ok, so that both models are averaged over the same texts.
struct DiffSummary {
  int64_t n_texts = 0;     // pairs used (both ok)
  int64_t n_skipped = 0;   // pairs dropped because at least one side was not ok
  int64_t n_skipped0 = 0;  // of which M0 not ok
  int64_t n_skipped1 = 0;  // of which M1 not ok

  double mean_entropy0 = 0, mean_entropy1 = 0;      // mean_i H(x_i)
  double stderr_entropy0 = 0, stderr_entropy1 = 0;  // stderr of those means (n - 1 divisor)

  // Algorithm (a), what the published code reports: exp(mean H0) - exp(mean H1).
  double erank_a0 = 0, erank_a1 = 0;  // exp(mean H0), exp(mean H1)
  double diff_a = 0;
  // Delta-method standard error of diff_a: gradient (e^mH0, -e^mH1) applied to the covariance of
  // the paired means (Var H0 / n, Var H1 / n, Cov(H0, H1) / n). NaN when n < 2.
  double diff_a_stderr = 0;

  // Algorithm (b): mean eRank0 - mean eRank1, with the stderr of the paired differences.
  double mean_erank0 = 0, mean_erank1 = 0;
  double stderr_erank0 = 0, stderr_erank1 = 0;
  double diff_b = 0;
  double diff_b_stderr = 0;
};

// Throws erank::Error when the sizes differ. With no usable pair every mean is NaN.
DiffSummary summarize_diff(std::span<const ERank> m0, std::span<const ERank> m1);

}  // namespace erank
