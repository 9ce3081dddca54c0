#include "metrics/loss.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace erank {

std::vector<double> token_losses(const float* logits, int64_t N, int64_t V,
                                 std::span<const int32_t> ids) {
  ERANK_CHECK(N >= 0 && V > 0, "N = {}, V = {}", N, V);
  if (static_cast<int64_t>(ids.size()) != N)
    fail("loss: {} token ids for {} logit rows", ids.size(), N);
  std::vector<double> out;
  if (N < 2) return out;
  out.reserve(static_cast<size_t>(N - 1));
  for (int64_t t = 0; t + 1 < N; ++t) out.push_back(row_nll(logits + t * V, V, ids[t + 1], t));
  return out;
}

double row_nll(const float* z, int64_t V, int32_t y, int64_t position) {
  if (y < 0 || y >= V)
    fail("loss: token id {} at position {} outside the vocabulary (V = {})", y, position + 1, V);
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t v = 0; v < V; ++v) mx = std::max(mx, static_cast<double>(z[v]));
  if (!std::isfinite(mx)) fail("loss: non-finite logits at position {}", position);
  double se = 0;
  for (int64_t v = 0; v < V; ++v) se += std::exp(static_cast<double>(z[v]) - mx);
  if (!std::isfinite(se)) fail("loss: non-finite logits at position {}", position);
  // -log softmax(z)[y] = log sum exp(z - max) - (z[y] - max)
  return std::log(se) - (static_cast<double>(z[y]) - mx);
}

double TextLoss::mean() const {
  return n_tokens > 0 ? sum / static_cast<double>(n_tokens)
                      : std::numeric_limits<double>::quiet_NaN();
}

TextLoss text_loss(const float* logits, int64_t N, int64_t V, std::span<const int32_t> ids) {
  TextLoss r;
  for (double l : token_losses(logits, N, V, ids)) r.sum += l;
  r.n_tokens = N > 1 ? N - 1 : 0;
  return r;
}

LossSummary summarize_loss(std::span<const TextLoss> texts) {
  LossSummary s;
  double sum = 0, sum_means = 0;
  for (const TextLoss& t : texts) {
    if (t.n_tokens <= 0) {
      ++s.n_skipped;
      continue;
    }
    sum += t.sum;
    s.n_tokens += t.n_tokens;
    sum_means += t.mean();
    ++s.n_texts;
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  s.per_token = s.n_tokens > 0 ? sum / static_cast<double>(s.n_tokens) : kNaN;
  s.per_text = s.n_texts > 0 ? sum_means / static_cast<double>(s.n_texts) : kNaN;
  return s;
}

DeltaLoss delta_loss(std::span<const TextLoss> m0, std::span<const TextLoss> m1) {
  if (m0.size() != m1.size())
    fail("delta_loss: {} texts for the untrained model but {} for the trained one", m0.size(),
         m1.size());
  std::vector<TextLoss> a, b;
  int64_t dropped = 0;
  for (size_t i = 0; i < m0.size(); ++i) {
    if (m0[i].n_tokens <= 0 || m1[i].n_tokens <= 0) {
      ++dropped;
      continue;
    }
    a.push_back(m0[i]);
    b.push_back(m1[i]);
  }
  DeltaLoss d;
  d.m0 = summarize_loss(a);
  d.m1 = summarize_loss(b);
  d.m0.n_skipped = d.m1.n_skipped = dropped;
  d.delta_per_token = d.m0.per_token - d.m1.per_token;
  d.delta_per_text = d.m0.per_text - d.m1.per_text;
  return d;
}

}  // namespace erank
