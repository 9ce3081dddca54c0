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
  // Logits in blocks of rows: a sink that reduces each row on its own (the loss) returns a block
  // size here, and then gets on_logit_rows for the blocks in order instead of one [rows, vocab]
  // on_tap (for Gemma-3's 262k vocabulary that tensor is 2 GB at 2048 tokens). 0: one tensor.
  // Blocks start at multiples of logit_block_quantum rows (the cpu backend's tiling), so every
  // logit has the bits it has in the whole product.
  static constexpr int64_t logit_block_quantum = 256;
  virtual int64_t logit_block_rows() const { return 0; }
  // Rows [row0, row0 + block.rows) of the forward's layout `seqs`.
  virtual void on_logit_rows(const Act& block, int64_t row0, const SeqLayout& seqs) {
    (void)block, (void)row0, (void)seqs;
  }
};

// What the forwards call at a tap whose rows feed the rest of the forward.
inline void report_tap(TapSink& sink, Tap t, int index, Act& x, const SeqLayout& seqs) {
  sink.on_tap(t, index, x, seqs);
  if (sink.rewrites(t, index)) sink.rewrite(t, index, x, seqs);
}

}  // namespace erank
