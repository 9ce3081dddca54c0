#include "metrics/erank.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "metrics/stats.h"

namespace erank {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Centred, row-normalised copy of R in double (N x d); empty with *why set when degenerate.
std::vector<double> normalized_rows(const float* R, int64_t N, int64_t d, std::string* why) {
  if (N < 2) {
    *why = N == 1 ? "1 token: eRank needs at least 2 (centring leaves nothing)" : "no tokens";
    return {};
  }
  ERANK_CHECK(d > 0 && R != nullptr, "d = {}", d);
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < N; ++i) {
    const float* r = R + i * d;
    for (int64_t j = 0; j < d; ++j) {
      if (!std::isfinite(r[j])) {
        *why = "non-finite value in the representations";
        return {};
      }
      mean[j] += r[j];
    }
  }
  for (double& m : mean) m /= static_cast<double>(N);
  std::vector<double> Z(static_cast<size_t>(N * d));
  for (int64_t i = 0; i < N; ++i) {
    double* z = Z.data() + i * d;
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) {
      z[j] = static_cast<double>(R[i * d + j]) - mean[j];
      ss += z[j] * z[j];
    }
    if (ss == 0) {
      *why = "a token's representation equals the mean of the text (zero norm after centring)";
      return {};
    }
    const double inv = 1.0 / std::sqrt(ss);
    for (int64_t j = 0; j < d; ++j) z[j] *= inv;
  }
  return Z;
}

// Eigenvalues of the symmetric n x n matrix C (upper triangle, row-major), destroyed in place.
std::vector<double> sym_eigenvalues(std::vector<double>& C, int64_t n) {
  std::vector<double> w(static_cast<size_t>(n));
  const lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', static_cast<lapack_int>(n),
                                         C.data(), static_cast<lapack_int>(n), w.data());
  ERANK_CHECK(info == 0, "LAPACKE_dsyevd failed with info = {} (n = {})", info, n);
  return w;
}

ERank from_spectrum(const std::vector<double>& l, int64_t N) {
  ERank r;
  r.n_tokens = N;
  double h = 0;
  for (double v : l) h -= v * std::log(v);
  r.entropy = h;
  r.erank = std::exp(h);
  r.ok = true;
  return r;
}

ERank degenerate(int64_t N, std::string why) {
  ERank r;
  r.n_tokens = N;
  r.erank = r.entropy = kNaN;
  r.ok = false;
  r.skipped = std::move(why);
  return r;
}

// Normalised spectrum by one route; empty with *why set when the input is degenerate.
std::vector<double> spectrum(const float* R, int64_t N, int64_t d, bool use_gram,
                             std::string* why) {
  std::vector<double> Z = normalized_rows(R, N, d, why);
  if (Z.empty()) return {};
  // A = Z^T Z / N (d x d) or G = Z Z^T / N (N x N); only the upper triangle is formed.
  const int64_t n = use_gram ? N : d;
  std::vector<double> C(static_cast<size_t>(n * n), 0.0);
  cblas_dsyrk(CblasRowMajor, CblasUpper, use_gram ? CblasNoTrans : CblasTrans,
              static_cast<blasint>(n), static_cast<blasint>(use_gram ? d : N),
              1.0 / static_cast<double>(N), Z.data(), static_cast<blasint>(d), 0.0, C.data(),
              static_cast<blasint>(n));
  double trace = 0;
  for (int64_t i = 0; i < n; ++i) trace += C[i * n + i];
  std::vector<double> w = sym_eigenvalues(C, n);
  std::vector<double> l;
  l.reserve(w.size());
  for (double v : w)
    if (v / trace > 0) l.push_back(v / trace);
  std::sort(l.begin(), l.end(), std::greater<>());
  return l;
}

ERank erank_route(const float* R, int64_t N, int64_t d, bool use_gram) {
  std::string why;
  std::vector<double> l = spectrum(R, N, d, use_gram, &why);
  if (l.empty()) return degenerate(N, why.empty() ? "empty spectrum" : why);
  return from_spectrum(l, N);
}

}  // namespace

std::vector<double> erank_spectrum(const float* R, int64_t N, int64_t d, bool use_gram) {
  std::string why;
  return spectrum(R, N, d, use_gram, &why);
}

ERank erank_via_cov(const float* R, int64_t N, int64_t d) {
  return erank_route(R, N, d, false);
}
ERank erank_via_gram(const float* R, int64_t N, int64_t d) {
  return erank_route(R, N, d, true);
}
ERank erank_of(const float* R, int64_t N, int64_t d) {
  return erank_route(R, N, d, N < d);
}

DiffSummary summarize_diff(std::span<const ERank> m0, std::span<const ERank> m1) {
  if (m0.size() != m1.size())
    fail("summarize_diff: {} results for the untrained model but {} for the trained one", m0.size(),
         m1.size());
  DiffSummary s;
  std::vector<double> h0, h1, e0, e1, de;
  for (size_t i = 0; i < m0.size(); ++i) {
    if (!m0[i].ok || !m1[i].ok) {
      ++s.n_skipped;
      s.n_skipped0 += !m0[i].ok;
      s.n_skipped1 += !m1[i].ok;
      continue;
    }
    h0.push_back(m0[i].entropy);
    h1.push_back(m1[i].entropy);
    e0.push_back(m0[i].erank);
    e1.push_back(m1[i].erank);
    de.push_back(m0[i].erank - m1[i].erank);
  }
  s.n_texts = static_cast<int64_t>(h0.size());
  const double n = static_cast<double>(h0.size());
  s.mean_entropy0 = stats::mean(h0);
  s.mean_entropy1 = stats::mean(h1);
  s.stderr_entropy0 = stats::stderr_of_mean(h0);
  s.stderr_entropy1 = stats::stderr_of_mean(h1);
  s.erank_a0 = std::exp(s.mean_entropy0);
  s.erank_a1 = std::exp(s.mean_entropy1);
  s.diff_a = s.erank_a0 - s.erank_a1;
  const double var = s.erank_a0 * s.erank_a0 * stats::sample_cov(h0, h0) +
                     s.erank_a1 * s.erank_a1 * stats::sample_cov(h1, h1) -
                     2 * s.erank_a0 * s.erank_a1 * stats::sample_cov(h0, h1);
  s.diff_a_stderr = std::sqrt(std::max(var, 0.0) / n);
  s.mean_erank0 = stats::mean(e0);
  s.mean_erank1 = stats::mean(e1);
  s.stderr_erank0 = stats::stderr_of_mean(e0);
  s.stderr_erank1 = stats::stderr_of_mean(e1);
  s.diff_b = s.mean_erank0 - s.mean_erank1;
  s.diff_b_stderr = stats::stderr_of_mean(de);
  return s;
}

}  // namespace erank
