#include "generate/dola.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "models/model.h"

namespace erank::gen {
namespace {

// log-softmax of a row and, when p is given, the probabilities too (exp(z - max) / sum: one exp
// per entry for both, the bulk of DoLa's arithmetic over a 50k vocabulary).
void log_softmax(std::span<const float> z, std::vector<double>& out,
                 std::vector<double>* p = nullptr) {
  out.resize(z.size());
  double mx = -std::numeric_limits<double>::infinity();
  for (float v : z) mx = std::max(mx, double(v));
  if (!std::isfinite(mx)) fail("DoLa: non-finite logits (max {})", mx);
  std::vector<double> e(z.size());
  double se = 0;
  for (size_t i = 0; i < z.size(); ++i) se += e[i] = std::exp(double(z[i]) - mx);
  const double lse = mx + std::log(se);
  for (size_t i = 0; i < z.size(); ++i) out[i] = double(z[i]) - lse;
  if (p) {
    p->resize(z.size());
    for (size_t i = 0; i < z.size(); ++i) (*p)[i] = e[i] / se;
  }
}

// Row r of an activation as f32 (the reference backend's rows are converted into buf).
std::span<const float> row_f32(const Act& a, int64_t r, std::vector<float>& buf) {
  if (a.prec == Precision::f32) return {a.f.data() + r * a.cols, size_t(a.cols)};
  buf.resize(size_t(a.cols));
  for (int64_t c = 0; c < a.cols; ++c)
    buf[size_t(c)] = static_cast<float>(a.d[size_t(r * a.cols + c)]);
  return buf;
}

}  // namespace

std::vector<int> dola_candidates(const std::string& spec, int N, bool tied) {
  const int start = !tied ? 0 : N > 2 ? 2 : N == 2 ? 1 : 0;
  std::vector<int> out;
  auto range = [&](int a, int b) {
    for (int l = a; l < b; l += 2) out.push_back(l);
  };
  if (spec == "low") {
    if (start == N / 2)
      out.push_back(start);
    else
      range(start, N <= 40 ? N / 2 : 20);
  } else if (spec == "high") {
    range(N <= 40 ? N / 2 : N - 20, N);
  } else {
    size_t pos = 0;
    while (pos <= spec.size()) {
      const size_t end = std::min(spec.find(',', pos), spec.size());
      const std::string item = spec.substr(pos, end - pos);
      size_t used = 0;
      int l = -1;
      try {
        l = std::stoi(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (item.empty() || used != item.size())
        fail("--dola '{}': expected 'low', 'high' or comma-separated layer numbers", spec);
      if (l < 0 || l >= N)
        fail(
            "--dola: layer {} is out of range: premature layers are hidden states 0..{} (0 = "
            "embeddings; {} is the model's output)",
            l, N - 1, N);
      out.push_back(l);
      pos = end + 1;
    }
  }
  if (out.empty()) fail("--dola '{}': no candidate layer for a {}-layer model", spec, N);
  return out;
}

size_t dola_contrast(std::span<const float> final_logits,
                     const std::vector<std::span<const float>>& premature, double relative_top,
                     std::span<float> out) {
  ERANK_CHECK(!premature.empty(), "DoLa: no premature layer");
  const size_t V = final_logits.size();
  ERANK_CHECK(out.size() == V, "DoLa: output of {} for {} logits", out.size(), V);
  std::vector<double> lf, lp, pf, pp;
  log_softmax(final_logits, lf, &pf);
  size_t pick = 0;
  if (premature.size() > 1) {
    double best = -std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < premature.size(); ++c) {
      ERANK_CHECK(premature[c].size() == V, "DoLa: {} premature logits for {}", premature[c].size(),
                  V);
      log_softmax(premature[c], lp, &pp);
      double js = 0;
      for (size_t v = 0; v < V; ++v) {
        const double m = 0.5 * (pf[v] + pp[v]);
        if (m > 0) js += m * (2 * std::log(m) - lf[v] - lp[v]);  // torch's kl_div: 0 log 0 = 0
      }
      js *= 0.5 / double(V);
      if (js > best) {  // the first maximum, as torch.argmax
        best = js;
        pick = c;
      }
    }
  }
  log_softmax(premature[pick], lp);
  double thresh = -std::numeric_limits<double>::infinity();
  if (relative_top > 0) {
    const double mx = *std::max_element(lf.begin(), lf.end());
    thresh = std::min(mx, mx + std::log(relative_top));
  }
  for (size_t v = 0; v < V; ++v)
    out[v] = lf[v] < thresh ? -std::numeric_limits<float>::infinity()
                            : static_cast<float>(lf[v] - lp[v]);
  return pick;
}

bool EarlyExits::wants(Tap t) const {
  return t == Tap::hidden;
}

void EarlyExits::on_tap(Tap t, int index, const Act& x, const SeqLayout&) {
  if (t != Tap::hidden) return;
  const auto it = std::find(layers_.begin(), layers_.end(), index);
  if (it == layers_.end()) return;
  hidden_.resize(layers_.size());
  be_.gather_rows(x, rows_, hidden_[size_t(it - layers_.begin())]);
  ready_ = false;
}

const std::vector<Act>& EarlyExits::logits() {
  if (ready_) return logits_;
  ERANK_CHECK(hidden_.size() == layers_.size(), "DoLa: the forward did not report every layer");
  logits_.assign(layers_.size(), Act{});
  // Chunks of at most 64 rows, as the model's own head: the cpu backend then multiplies them on
  // its own kernel, so a row's logits do not depend on the other rows.
  constexpr int64_t kChunk = 64;
  for (size_t c = 0; c < layers_.size(); ++c) {
    const Act& h = hidden_[c];
    for (int64_t r0 = 0; r0 < h.rows; r0 += kChunk) {
      std::vector<int64_t> rows;
      for (int64_t r = r0; r < std::min(h.rows, r0 + kChunk); ++r) rows.push_back(r);
      Act part;
      be_.gather_rows(h, rows, part);
      Act lg = model_.early_exit_logits(be_, part, layers_[c], false, false);
      if (h.rows <= kChunk) {
        logits_[c] = std::move(lg);
        break;
      }
      if (r0 == 0) logits_[c] = be_.alloc_uninit(h.rows, lg.cols);
      const size_t at = size_t(r0 * lg.cols);
      if (lg.prec == Precision::f32)
        std::copy(lg.f.begin(), lg.f.end(), logits_[c].f.begin() + long(at));
      else
        std::copy(lg.d.begin(), lg.d.end(), logits_[c].d.begin() + long(at));
    }
  }
  ready_ = true;
  return logits_;
}

DolaDecoding::DolaDecoding(const Model& m, Backend& be, std::vector<int> candidates,
                           double relative_top)
    : exits_(m, be, std::move(candidates)), relative_top_(relative_top) {}

void DolaDecoding::on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) {
  if (t != Tap::hidden) return;
  std::vector<int64_t> last;  // each sequence's last row: the next token's position
  for (int64_t s = 0; s < seqs.n_seq(); ++s) last.push_back(seqs.offsets[size_t(s) + 1] - 1);
  exits_.set_rows(std::move(last));
  exits_.on_tap(t, index, x, seqs);
}

void DolaDecoding::contrast(size_t row, size_t prompt, std::span<float> logits) {
  const std::vector<Act>& pre = exits_.logits();
  std::vector<std::vector<float>> bufs(pre.size());
  std::vector<std::span<const float>> rows;
  for (size_t c = 0; c < pre.size(); ++c) rows.push_back(row_f32(pre[c], int64_t(row), bufs[c]));
  std::vector<float> out(logits.size());
  const size_t c = dola_contrast(logits, rows, relative_top_, out);
  std::copy(out.begin(), out.end(), logits.begin());
  chosen[prompt].push_back(exits_.layers()[c]);
}

}  // namespace erank::gen
