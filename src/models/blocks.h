// Shared transformer pieces, built from backend ops and taking small named structs.
#pragma once
#include <vector>

#include "backend/backend.h"
#include "models/architecture.h"
#include "models/weights.h"

namespace erank {

struct Linear {
  const Weight* w = nullptr;  // [out, in]
  const Weight* b = nullptr;  // [out] or null
};
Linear linear_of(const Weights& ws, const std::string& weight, const std::string& bias = "");

struct Rope {
  int64_t head_dim = 0, rotary_dim = 0;
  std::vector<double> inv_freq;
};

Act project(Backend& be, const Act& x, const Linear& l);
// The projections of one input, each as project's, in one backend call (linear_many).
std::vector<Act> project_many(Backend& be, const Act& x, std::initializer_list<Linear> ls);

// RoPE on q and k (when rope is non-null) at the rows' positions, then causal attention of layer
// `layer`: over the sequence itself, or over its cached keys too when the input carries a cache.
Act attend(Backend& be, Act& q, Act& k, const Act& v, const AttentionParams& p, const Rope* rope,
           const ForwardInput& in, int64_t layer);

// down(act(gate(x)) * up(x)) -- Llama/Gemma MLP.
Act gated_mlp(Backend& be, const Act& x, const Linear& gate, const Linear& up, const Linear& down,
              Activation act);
// fc2(act(fc1(x))) -- OPT/GPT-2/NeoX MLP.
Act plain_mlp(Backend& be, const Act& x, const Linear& fc1, const Linear& fc2, Activation act);

// Train-mode dropout with probability p at one site (no-op in eval mode or when p == 0).
void dropout(Backend& be, Act& x, double p, const ForwardInput& in);
// Attention parameters with the attention-probability dropout of a train-mode forward.
AttentionParams with_attn_dropout(AttentionParams p, double prob, const ForwardInput& in);

// The final hidden_states tap (index n_layers), then the LM head with optional soft-capping, run
// only when the sink wants logits.
void output_taps(Backend& be, const Act& y, const Weight& head, double softcap, int n_layers,
                 const ForwardInput& in, TapSink& sink);

// The forward's first rows: ForwardInput::input_rows when given, else the ids' embeddings.
Act embed_input(Backend& be, const Weight& table, const ForwardInput& in);

// Builds the row layout of a batch of sequences; sequence s starts at position past[s] (all 0
// when past is empty).
ForwardInput make_input(const std::vector<std::vector<int32_t>>& seqs,
                        const std::vector<int64_t>& past = {});

}  // namespace erank
