#include "sae/evaluate.h"

#include <cmath>

#include "core/error.h"
#include "metrics/loss.h"
#include "models/model.h"

namespace erank::sae {
namespace {

// Cross-entropy of every prediction from the logits tap, with the tap optionally rewritten.
class LossPass : public TapRewriter {
 public:
  LossPass(TapPoint tp, Mode mode, const Sae* sae, const std::vector<std::vector<int32_t>>* batch)
      : TapRewriter(tp, mode, sae), batch_(batch) {}
  bool wants(Tap t) const override { return t == Tap::logits || TapRewriter::wants(t); }
  void on_tap(Tap t, int, const Act& x, const SeqLayout& seqs) override {
    if (t != Tap::logits) return;
    ERANK_CHECK(x.prec == Precision::f32 && seqs.n_seq() == int64_t(batch_->size()),
                "logits of {} sequences for {}", seqs.n_seq(), batch_->size());
    for (int64_t s = 0; s < seqs.n_seq(); ++s) {
      const int64_t b = seqs.offsets[size_t(s)], n = seqs.offsets[size_t(s + 1)] - b;
      const TextLoss tl = text_loss(x.f.data() + b * x.cols, n, x.cols, (*batch_)[size_t(s)]);
      sum += tl.sum;
      count += tl.n_tokens;
    }
  }
  double sum = 0;
  int64_t count = 0;

 private:
  const std::vector<std::vector<int32_t>>* batch_;
};

}  // namespace

EvalResult evaluate(const Model& m, Backend& be, const Sae& sae, TapPoint tp,
                    const std::vector<std::vector<int32_t>>& texts, int64_t batch_tokens,
                    bool with_ce, std::vector<float>* dump) {
  const int64_t d = sae.d(), W = sae.W();
  EvalResult r;
  r.n_texts = int64_t(texts.size());
  r.fired.assign(size_t(W), 0);
  std::vector<double> sx(static_cast<size_t>(d), 0.0), sxx(static_cast<size_t>(d), 0.0);
  double err = 0, cos_sum = 0, active = 0;
  std::vector<float> z, xhat;
  if (dump) dump->clear();
  stream_activations(m, be, texts, tp, batch_tokens, -1,
                     [&](const float* x, int64_t n, size_t, int32_t) {
                       sae.encode(x, n, z);
                       sae.decode(z.data(), n, xhat);
                       if (dump) dump->insert(dump->end(), x, x + n * d);
                       for (int64_t t = 0; t < n; ++t) {
                         double e = 0, xx = 0, hh = 0, xh = 0;
                         for (int64_t j = 0; j < d; ++j) {
                           const double a = x[t * d + j], b = xhat[size_t(t * d + j)];
                           e += (a - b) * (a - b);
                           xx += a * a;
                           hh += b * b;
                           xh += a * b;
                           sx[size_t(j)] += a;
                           sxx[size_t(j)] += a * a;
                         }
                         err += e;
                         cos_sum += (xx > 0 && hh > 0) ? xh / std::sqrt(xx * hh) : 0.0;
                         for (int64_t i = 0; i < W; ++i)
                           if (z[size_t(t * W + i)] > 0) {
                             ++r.fired[size_t(i)];
                             active += 1;
                           }
                       }
                       r.n_tokens += n;
                     });
  if (r.n_tokens == 0) fail("sae eval: no tokens at positions >= 1 (texts of one token only?)");
  double var = 0;
  for (int64_t j = 0; j < d; ++j)
    var += sxx[size_t(j)] - sx[size_t(j)] * sx[size_t(j)] / double(r.n_tokens);
  const double N = double(r.n_tokens);
  r.mse = err / N;
  r.fvu = var > 0 ? err / var : 0.0;
  r.explained_variance = 1 - r.fvu;
  r.cosine = cos_sum / N;
  r.l0 = active / N;
  int64_t dead = 0, dense = 0;
  r.hist_edges = {-8, -7, -6, -5, -4, -3, -2, -1, 0};
  r.hist_counts.assign(r.hist_edges.size(), 0);  // [0] dead, then [edge k-1, edge k)
  for (int64_t f : r.fired) {
    if (f == 0) {
      ++dead;
      ++r.hist_counts[0];
      continue;
    }
    const double freq = double(f) / N;
    if (freq > 0.1) ++dense;
    const double lf = std::log10(freq);
    size_t b = 1;
    while (b + 1 < r.hist_edges.size() && lf >= r.hist_edges[b]) ++b;
    ++r.hist_counts[b];
  }
  r.dead_fraction = double(dead) / double(W);
  r.dense_fraction = double(dense) / double(W);
  if (!with_ce) return r;

  auto ce = [&](TapRewriter::Mode mode) {
    double sum = 0;
    int64_t count = 0;
    size_t next = 0;
    while (next < texts.size()) {
      std::vector<std::vector<int32_t>> batch;
      int64_t tokens = 0;
      while (next < texts.size() &&
             (batch.empty() || tokens + int64_t(texts[next].size()) <= batch_tokens)) {
        tokens += int64_t(texts[next].size());
        batch.push_back(texts[next++]);
      }
      LossPass pass(tp, mode, &sae, &batch);
      m.forward(be, batch, pass);
      sum += pass.sum;
      count += pass.count;
    }
    r.n_predictions = count;
    return count ? sum / double(count) : 0.0;
  };
  r.ce_loss_clean = ce(TapRewriter::Mode::none);
  r.ce_loss_spliced = ce(TapRewriter::Mode::splice);
  r.ce_loss_zero = ce(TapRewriter::Mode::zero);
  const double den = r.ce_loss_zero - r.ce_loss_clean;
  r.ce_recovered = den != 0 ? (r.ce_loss_zero - r.ce_loss_spliced) / den : 0.0;
  return r;
}

}  // namespace erank::sae
