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
  // A sink that changes the forward (an SAE's reconstruction spliced in, a steering direction
  // added) says so here; it then gets the activation to rewrite in place after on_tap, and the
  // forward goes on with the rewritten rows. Every tap but hidden[n_layers] (after the final norm)
  // and logits can be rewritten.
  virtual bool rewrites(Tap t, int index) const {
    (void)t;
    (void)index;
    return false;
  }
  virtual void rewrite(Tap t, int index, Act& x, const SeqLayout& seqs) {
    (void)t, (void)index, (void)x, (void)seqs;
  }
};

// What the forwards call at a tap whose rows feed the rest of the forward.
inline void report_tap(TapSink& sink, Tap t, int index, Act& x, const SeqLayout& seqs) {
  sink.on_tap(t, index, x, seqs);
  if (sink.rewrites(t, index)) sink.rewrite(t, index, x, seqs);
}

}  // namespace erank
