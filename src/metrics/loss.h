// Next-token cross-entropy and the reduced loss dL = L(M0) - L(M1) of Diff-eRank (REFERENCE §1).
// Dimension letters: N tokens of one text, V vocabulary size. Logit row t scores token t + 1, as
// Hugging Face's causal-LM loss with labels = input_ids: a text of N tokens has N - 1 predictions.
// log-softmax is computed in double (max-subtracted), so uniform logits give exactly ln V.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace erank {

// Per-token losses -log p(ids[t+1] | ids[..t]) for t = 0 .. N-2 from logits (row-major N x V).
// Throws erank::Error for an id outside [0, V) or a non-finite logit row.
std::vector<double> token_losses(const float* logits, int64_t N, int64_t V,
                                 std::span<const int32_t> ids);

// -log softmax(z)[y] for one logit row z of V values (the term token_losses computes for each
// position; `position` names the row in errors). Throws erank::Error for y outside [0, V) or a
// non-finite row.
double row_nll(const float* z, int64_t V, int32_t y, int64_t position);

// One text's loss: the sum and count of its per-token losses.
struct TextLoss {
  double sum = 0;        // sum of -log p over predicted tokens
  int64_t n_tokens = 0;  // number of predictions (N - 1; 0 for a 1-token text)
  double mean() const;   // sum / n_tokens; NaN when n_tokens == 0
};
TextLoss text_loss(const float* logits, int64_t N, int64_t V, std::span<const int32_t> ids);

// Dataset loss, reduced two ways (the paper does not say which it uses):
//   per_token = sum of all token losses / total predictions (texts weighted by length);
//   per_text  = mean over texts of each text's mean loss (texts with no prediction left out).
struct LossSummary {
  double per_token = 0;
  double per_text = 0;
  int64_t n_tokens = 0;   // total predictions
  int64_t n_texts = 0;    // texts with at least one prediction
  int64_t n_skipped = 0;  // texts with none
};
LossSummary summarize_loss(std::span<const TextLoss> texts);

// dL = L(M0) - L(M1), both reductions, over the same texts (m0[i], m1[i] = text i). Texts where
// either side has no prediction are left out of both, so that both use the same tokens.
struct DeltaLoss {
  LossSummary m0, m1;
  double delta_per_token = 0;
  double delta_per_text = 0;
};
// Throws erank::Error when the sizes differ.
DeltaLoss delta_loss(std::span<const TextLoss> m0, std::span<const TextLoss> m1);

}  // namespace erank
