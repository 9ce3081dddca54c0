// The logit lens: every layer's hidden state read out through the model's own head (an early
// exit), softmax(lm_head(final_norm(h_l))) (the tuned-lens convention; without the final norm it
// is DoLa's), and compared with the model's output distribution: entropy, KL(final || layer) and
// the Jensen-Shannon divergence, in nats. Layers are numbered as HF hidden_states (0 =
// embeddings); the last one is the model's own output. At position t the distribution predicts
// token t + 1.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "models/taps.h"

namespace erank {

class Model;

namespace interp {

struct LensOptions {
  std::vector<int> layers;  // HF indices, each in 0..n_layers (empty: all)
  int top_k = 5;            // at least 1
  bool final_norm = true;   // false: DoLa's early exit, lm_head(h_l)
};

// One layer of one text, per position (N entries each).
struct LensLayer {
  int layer = 0;
  std::vector<std::vector<int32_t>> top;      // [N][k] most likely ids, most likely first
  std::vector<std::vector<double>> top_logp;  // [N][k] their log-probabilities
  std::vector<double> entropy, kl, jsd;       // [N]
};

struct LensText {
  std::vector<int32_t> ids;
  std::vector<LensLayer> layers;   // in the order of LensOptions::layers
  std::vector<int32_t> final_top;  // [N] the model's own top-1 (first maximum)
};

// Keeps the hidden states the lens reads (the chosen layers and the last), for one sequence.
class LensSink : public TapSink {
 public:
  explicit LensSink(std::vector<int> layers) : layers_(std::move(layers)) {}
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override;
  std::map<int, Act> hidden;

 private:
  std::vector<int> layers_;
};

// The lens of one token sequence (one forward, then the head on each layer in blocks of rows, so
// memory stays at a block of logits per layer). Throws erank::Error for an empty sequence, a
// layer out of range or top_k < 1.
LensText lens_of(const Model& m, Backend& be, const std::vector<int32_t>& ids,
                 const LensOptions& opt);

// The per-row arithmetic, in double: log-softmax of a logit row; KL(p || q) and the
// Jensen-Shannon divergence 0.5 KL(p || m) + 0.5 KL(q || m), m = (p + q) / 2, from log-probs;
// entropy of log-probs. Zero-probability terms contribute nothing (0 log 0 = 0).
void log_softmax(std::span<const double> logits, std::span<double> out);
double kl_div(std::span<const double> logp, std::span<const double> logq);
double js_div(std::span<const double> logp, std::span<const double> logq);
double entropy(std::span<const double> logp);

}  // namespace interp
}  // namespace erank
