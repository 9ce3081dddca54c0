// Named tap points: the forward reports each block's output to a sink, as llama.cpp's cb(cur,
// name, il). Hidden-state dumps, eRank per layer, probes, logit lens and DoLa are sinks; the
// forward code never changes for them.
#pragma once
#include "backend/backend.h"

namespace erank {

enum class Tap {
  hidden,    // HF output_hidden_states[index], index 0..n_layers (last: after the final norm)
  attn_out,  // attention block output of layer `index` (before the residual add)
  mlp_out,   // MLP block output of layer `index` (before the residual add)
  logits,    // [rows, vocab], index -1
};

class TapSink {
 public:
  virtual ~TapSink() = default;
  // The forward skips work nobody wants (the LM head when logits are not wanted).
  virtual bool wants(Tap t) const { return t == Tap::hidden; }
  virtual void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) = 0;
};

}  // namespace erank
