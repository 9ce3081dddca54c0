#include "interp/lens.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "models/model.h"

namespace erank::interp {

void LensSink::on_tap(Tap t, int index, const Act& x, const SeqLayout&) {
  if (t == Tap::hidden && std::find(layers_.begin(), layers_.end(), index) != layers_.end())
    hidden[index] = x;
}

void log_softmax(std::span<const double> z, std::span<double> out) {
  double mx = -std::numeric_limits<double>::infinity();
  for (double v : z) mx = std::max(mx, v);
  if (!std::isfinite(mx)) fail("logit lens: non-finite logits (max {})", mx);
  double se = 0;
  for (double v : z) se += std::exp(v - mx);
  const double lse = mx + std::log(se);
  for (size_t i = 0; i < z.size(); ++i) out[i] = z[i] - lse;
}

double kl_div(std::span<const double> lp, std::span<const double> lq) {
  double s = 0;
  for (size_t i = 0; i < lp.size(); ++i)
    if (std::isfinite(lp[i])) s += std::exp(lp[i]) * (lp[i] - lq[i]);
  return s;
}

double js_div(std::span<const double> lp, std::span<const double> lq) {
  double s = 0;
  for (size_t i = 0; i < lp.size(); ++i) {
    const double p = std::exp(lp[i]), q = std::exp(lq[i]), m = 0.5 * (p + q);
    if (m <= 0) continue;
    const double lm = std::log(m);
    if (p > 0) s += p * (lp[i] - lm);
    if (q > 0) s += q * (lq[i] - lm);
  }
  return std::max(0.0, 0.5 * s);  // rounding can leave -1e-17 for identical rows
}

double entropy(std::span<const double> lp) {
  double s = 0;
  for (double v : lp)
    if (std::isfinite(v)) s -= std::exp(v) * v;
  return s;
}

namespace {

// Log-probabilities and probabilities of every row of a logits activation, in double.
struct RowDist {
  std::vector<double> lp, p;
};
std::vector<RowDist> distributions(const Act& logits) {
  const int64_t R = logits.rows, V = logits.cols;
  std::vector<RowDist> out(static_cast<size_t>(R));
#pragma omp parallel for schedule(static) if (R > 1)
  for (int64_t r = 0; r < R; ++r) {
    std::vector<double> z(static_cast<size_t>(V));
    for (int64_t v = 0; v < V; ++v) z[size_t(v)] = logits.at(r, v);
    RowDist& d = out[size_t(r)];
    d.lp.resize(size_t(V));
    log_softmax(z, d.lp);
    d.p.resize(size_t(V));
    for (size_t v = 0; v < size_t(V); ++v) d.p[v] = std::exp(d.lp[v]);
  }
  return out;
}

struct RowStats {
  double entropy, kl, jsd;
};
// kl_div, js_div and entropy of one row in one pass with one log per entry (they are most of
// the lens's arithmetic: ~50k entries per position and layer).
RowStats row_stats(const RowDist& f, const RowDist& l) {
  double ent = 0, kl = 0, js = 0;
  for (size_t v = 0; v < f.p.size(); ++v) {
    const double pf = f.p[v], pl = l.p[v];
    if (pl > 0) ent -= pl * l.lp[v];
    if (pf > 0) kl += pf * (f.lp[v] - l.lp[v]);
    const double m = 0.5 * (pf + pl);
    if (m <= 0) continue;
    const double lm = std::log(m);
    if (pf > 0) js += pf * (f.lp[v] - lm);
    if (pl > 0) js += pl * (l.lp[v] - lm);
  }
  return {ent, kl, std::max(0.0, 0.5 * js)};
}

}  // namespace

LensText lens_of(const Model& m, Backend& be, const std::vector<int32_t>& ids,
                 const LensOptions& opt) {
  const int L = static_cast<int>(m.config().n_layers);
  if (ids.empty()) fail("logit lens: the text has no tokens");
  if (opt.top_k < 1) fail("logit lens: --top-k must be at least 1 (got {})", opt.top_k);
  std::vector<int> layers = opt.layers;
  if (layers.empty()) {
    layers.resize(size_t(L + 1));
    std::iota(layers.begin(), layers.end(), 0);
  }
  for (int l : layers)
    if (l < 0 || l > L)
      fail(
          "logit lens: layer {} is out of range: hidden states are numbered 0..{} (0 = embeddings)",
          l, L);
  std::vector<int> wanted = layers;
  wanted.push_back(L);  // the reference distribution
  LensSink sink(wanted);
  m.forward(be, {ids}, sink);

  const int64_t N = static_cast<int64_t>(ids.size());
  const int64_t V = m.config().vocab_size;
  const int k = static_cast<int>(std::min<int64_t>(opt.top_k, V));
  LensText out;
  out.ids = ids;
  for (int l : layers) {
    LensLayer ll;
    ll.layer = l;
    ll.top.resize(size_t(N));
    ll.top_logp.resize(size_t(N));
    ll.entropy.resize(size_t(N));
    ll.kl.resize(size_t(N));
    ll.jsd.resize(size_t(N));
    out.layers.push_back(std::move(ll));
  }
  // Blocks of rows: a block's logits for the final layer and one other layer at a time.
  constexpr int64_t kBlock = 64;
  for (int64_t r0 = 0; r0 < N; r0 += kBlock) {
    std::vector<int64_t> rows(size_t(std::min(kBlock, N - r0)));
    std::iota(rows.begin(), rows.end(), r0);
    auto block_logp = [&](int layer) {
      Act h;
      be.gather_rows(sink.hidden.at(layer), rows, h);
      return distributions(m.early_exit_logits(be, h, layer, opt.final_norm, true));
    };
    const auto final_lp = block_logp(L);
    for (const auto& d : final_lp)
      out.final_top.push_back(int32_t(std::max_element(d.lp.begin(), d.lp.end()) - d.lp.begin()));
    for (LensLayer& ll : out.layers) {
      const auto lp = ll.layer == L ? final_lp : block_logp(ll.layer);
      const int64_t R = static_cast<int64_t>(rows.size());
#pragma omp parallel for schedule(static) if (R > 1)
      for (int64_t i = 0; i < R; ++i) {
        const auto& p = lp[size_t(i)].lp;
        const size_t t = size_t(r0 + i);
        std::vector<int32_t> idx(static_cast<size_t>(V));
        std::iota(idx.begin(), idx.end(), 0);
        // Ties go to the lower id, as torch.argmax's first maximum.
        std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
          return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b);
        });
        ll.top[t].assign(idx.begin(), idx.begin() + k);
        for (int j = 0; j < k; ++j) ll.top_logp[t].push_back(p[size_t(idx[size_t(j)])]);
        const RowStats st = row_stats(final_lp[size_t(i)], lp[size_t(i)]);
        ll.entropy[t] = st.entropy;
        ll.kl[t] = st.kl;
        ll.jsd[t] = st.jsd;
      }
    }
  }
  return out;
}

}  // namespace erank::interp
