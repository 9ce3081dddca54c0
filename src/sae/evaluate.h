// `erank sae eval`'s numbers (SAELens's names): on held-out texts, positions >= 1 of each,
//   l0 = mean latents firing per token, fvu = Σ|x - x̂|² / Σ|x - mean x|² (over all tokens and
//   dims, unscaled), explained_variance = 1 - fvu, cosine = mean cos(x, x̂), dead_fraction = latents
//   that never fire, dense_fraction = latents firing on more than 10% of tokens, a histogram of
//   log10 firing frequencies, and next-token cross-entropy (per token, every prediction of every
//   text) clean, with x̂ spliced in at the tap, and with the tap zeroed:
//   ce_recovered = (zero - spliced) / (zero - clean).
#pragma once
#include <cstdint>
#include <vector>

#include "sae/activations.h"

namespace erank::sae {

struct EvalResult {
  int64_t n_texts = 0, n_tokens = 0, n_predictions = 0;
  double l0 = 0, fvu = 0, explained_variance = 0, cosine = 0, mse = 0;
  double dead_fraction = 0, dense_fraction = 0;
  double ce_loss_clean = 0, ce_loss_spliced = 0, ce_loss_zero = 0, ce_recovered = 0;
  std::vector<double> hist_edges;    // log10 frequency bin edges
  std::vector<int64_t> hist_counts;  // [0]: dead (never fired); then one per bin
  std::vector<int64_t> fired;        // [W] tokens each latent fired on
};

// dump (optional): the clean activations at the tap ([n_tokens, d], rows in text order).
EvalResult evaluate(const Model& m, Backend& be, const Sae& sae, TapPoint tp,
                    const std::vector<std::vector<int32_t>>& texts, int64_t batch_tokens,
                    bool with_ce, std::vector<float>* dump = nullptr);

}  // namespace erank::sae
