#include "eval/text_metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "models/collect_sink.h"

namespace erank {

namespace {

// Turns the wanted hidden states into each sequence's eRanks and the logits into each sequence's
// next-token loss as the forward produces them; sequences are independent, so they run in
// parallel (each eRank/loss call is single-threaded).
class MetricSink : public TapSink {
 public:
  MetricSink(const std::vector<int>& layers, bool loss,
             const std::vector<std::vector<int32_t>>& seqs)
      : layers_(layers), loss_(loss), seqs_(seqs), results(seqs.size()) {
    for (auto& r : results) r.erank.resize(layers.size());
  }
  bool wants(Tap t) const override { return t == Tap::hidden || (t == Tap::logits && loss_); }
  // The loss takes the logits 256 rows at a time: each row's term -log p is kept, and after the
  // last block each text's terms are summed in position order, as text_loss sums.
  int64_t logit_block_rows() const override { return loss_ ? logit_block_quantum : 0; }
  void on_logit_rows(const Act& x, int64_t row0, const SeqLayout& L) override {
    const auto t0 = std::chrono::steady_clock::now();
    if (terms_.empty()) terms_.assign(size_t(L.rows()), 0.0);
    const float* v = floats(x);
    std::string error;  // the first row's error, thrown after the loop
#pragma omp parallel for schedule(dynamic, 8)
    for (int64_t i = 0; i < x.rows; ++i) {
      const int64_t r = row0 + i;
      const auto s =
          size_t(std::upper_bound(L.offsets.begin(), L.offsets.end(), r) - L.offsets.begin() - 1);
      const int64_t t = r - L.offsets[s];
      if (r + 1 >= L.offsets[s + 1]) continue;  // a text's last row predicts nothing
      try {
        terms_[size_t(r)] = row_nll(v + i * x.cols, x.cols, seqs_[s][size_t(t + 1)], t);
      } catch (const std::exception& e) {
#pragma omp critical
        if (error.empty()) error = e.what();
      }
    }
    if (!error.empty()) fail("{}", error);
    if (row0 + x.rows == L.rows())
      for (int64_t s = 0; s < L.n_seq(); ++s) {
        TextLoss& out = results[size_t(s)].loss;
        out = TextLoss{};
        for (int64_t r = L.offsets[s]; r + 1 < L.offsets[s + 1]; ++r) out.sum += terms_[size_t(r)];
        out.n_tokens = std::max<int64_t>(0, L.offsets[s + 1] - L.offsets[s] - 1);
      }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& L) override {
    const auto t0 = std::chrono::steady_clock::now();
    compute(t, index, x, L);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  void compute(Tap t, int index, const Act& x, const SeqLayout& L) {
    if (t == Tap::hidden) {
      for (size_t k = 0; k < layers_.size(); ++k) {
        if (layers_[k] != index) continue;
        const float* v = floats(x);
#pragma omp parallel for schedule(dynamic)
        for (int64_t s = 0; s < L.n_seq(); ++s)
          results[size_t(s)].erank[k] =
              erank_of(v + L.offsets[s] * x.cols, L.offsets[s + 1] - L.offsets[s], x.cols);
      }
    } else if (t == Tap::logits && loss_) {
      const float* v = floats(x);
#pragma omp parallel for schedule(dynamic)
      for (int64_t s = 0; s < L.n_seq(); ++s)
        results[size_t(s)].loss = text_loss(
            v + L.offsets[s] * x.cols, L.offsets[s + 1] - L.offsets[s], x.cols, seqs_[size_t(s)]);
    }
  }

 private:
  // The f32 view of an activation (the reference backend's f64 is narrowed, as the original's
  // float32 representations are).
  const float* floats(const Act& x) {
    if (x.prec == Precision::f32) return x.f.data();
    buf_.assign(x.d.begin(), x.d.end());
    return buf_.data();
  }
  const std::vector<int>& layers_;
  bool loss_;
  const std::vector<std::vector<int32_t>>& seqs_;
  std::vector<float> buf_;
  std::vector<double> terms_;  // per row of the forward: its next-token term

 public:
  std::vector<ModelOnText> results;
  double seconds = 0;  // spent in eRank and loss
};

double num(const nlohmann::json& v) {
  return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

nlohmann::json model_json(const ModelOnText& m) {
  nlohmann::json e = nlohmann::json::array();
  for (const ERank& r : m.erank) {
    nlohmann::json x = {{"erank", r.erank}, {"entropy", r.entropy}, {"ok", r.ok}};
    if (!r.ok) x["skipped"] = r.skipped;
    e.push_back(x);
  }
  return {{"erank", e}, {"loss_sum", m.loss.sum}, {"loss_tokens", m.loss.n_tokens}};
}

ModelOnText model_from_json(const nlohmann::json& j, int64_t n_tokens) {
  ModelOnText m;
  for (auto& x : j.at("erank")) {
    ERank r;
    r.erank = num(x.at("erank"));
    r.entropy = num(x.at("entropy"));
    r.ok = x.at("ok").get<bool>();
    r.n_tokens = n_tokens;
    if (x.contains("skipped")) r.skipped = x["skipped"].get<std::string>();
    m.erank.push_back(r);
  }
  m.loss.sum = num(j.at("loss_sum"));
  m.loss.n_tokens = j.at("loss_tokens").get<int64_t>();
  return m;
}

std::vector<ModelOnText> evaluate_batch(const Model& model, Backend& be,
                                        const std::vector<std::vector<int32_t>>& seqs,
                                        const std::vector<int>& layers, bool with_loss,
                                        std::optional<uint64_t> train_seed, double* metric_s) {
  MetricSink sink(layers, with_loss, seqs);
  model.forward(be, seqs, sink, train_seed);
  if (metric_s) *metric_s += sink.seconds;
  return std::move(sink.results);
}

ModelOnText evaluate(const Model& model, Backend& be, const std::vector<int32_t>& ids,
                     const std::vector<int>& layers, bool with_loss,
                     std::optional<uint64_t> train_seed) {
  return evaluate_batch(model, be, {ids}, layers, with_loss, train_seed).front();
}

}  // namespace erank
