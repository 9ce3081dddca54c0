// DoLa (Chuang et al., ICLR 2024): contrast the model's output with an early exit of a premature
// layer, chosen per token among candidates as the one whose distribution diverges most. Written
// to transformers' implementation before it left the core (4.52 `_dola_decoding`,
// `_dola_select_contrast`, `_relative_top_filter`) and the DoLa repository's `lm_score` for
// multiple choice:
// - early exits are lm_head(hidden_states[l]) with no final norm (nor Gemma's soft-cap); the
//   mature layer is the model's own logits;
// - the premature layer is the candidate of largest "JSD" as transformers computes it: 0.5
//   (kl_div(log p_final, m) + kl_div(log p_l, m)) averaged over the vocabulary, where torch's
//   kl_div(input, target) is sum target (log target - input), i.e. KL(m || p); first maximum wins;
//   a single candidate is used without that step;
// - scores = log_softmax(final) - log_softmax(premature); with relative_top > 0 (generation:
//   0.1), tokens whose log p_final is below max + log(relative_top) get -inf.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "generate/decode.h"

namespace erank {
class Model;
}

namespace erank::gen {

// Candidate premature layers (HF hidden_states indices) for `spec`: "low" / "high" (every second
// layer of the lower / upper half, from 2 when the embeddings are tied; the 20 lowest / highest
// beyond 40 layers) or a comma-separated list. Throws erank::Error for anything else, a listed
// layer outside 0..n_layers-1 (transformers drops those silently) or an empty list.
std::vector<int> dola_candidates(const std::string& spec, int n_layers, bool tied_embeddings);

// Writes the contrasted scores of one position into `out` (size V) and returns the index into
// `premature` of the layer it contrasted with.
size_t dola_contrast(std::span<const float> final_logits,
                     const std::vector<std::span<const float>>& premature, double relative_top,
                     std::span<float> out);

// The premature layers' logits at chosen rows of a forward: observes the hidden taps of the
// candidate layers and keeps the rows asked for, then projects them through the head.
class EarlyExits : public TapSink {
 public:
  EarlyExits(const Model& m, Backend& be, std::vector<int> layers)
      : model_(m), be_(be), layers_(std::move(layers)) {}
  const std::vector<int>& layers() const { return layers_; }
  // Rows (of the forward's activations) to keep; each forward's taps replace the last ones.
  void set_rows(std::vector<int64_t> rows) { rows_ = std::move(rows); }
  bool wants(Tap t) const override;
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override;
  // logits[c] is [rows, V] for layers()[c], after the forward (computed on first use).
  const std::vector<Act>& logits();

 private:
  const Model& model_;
  Backend& be_;
  std::vector<int> layers_;
  std::vector<int64_t> rows_;
  std::vector<Act> hidden_, logits_;
  bool ready_ = false;
};

// DoLa decoding as a step contrast of the generation loop: each sequence's last row is contrasted
// (relative_top 0.1, as generate()), then the usual processors run (repetition penalty 1.2 is
// DoLa's advice). The chosen layer of every generated token is kept per prompt.
class DolaDecoding : public StepContrast {
 public:
  DolaDecoding(const Model& m, Backend& be, std::vector<int> candidates, double relative_top = 0.1);
  bool wants(Tap t) const override { return exits_.wants(t); }
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override;
  void contrast(size_t row, size_t prompt, std::span<float> logits) override;
  // Per prompt: the premature layer of each generated token, in order.
  std::map<size_t, std::vector<int>> chosen;

 private:
  EarlyExits exits_;
  double relative_top_;
};

}  // namespace erank::gen
