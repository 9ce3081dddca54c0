// Activations at an SAE's tap: which tap a (kind, layer) names, streaming them out of a model
// over a dataset into a bounded store (spilled to a file when large), and the sinks that rewrite
// the tap during a forward (the reconstruction spliced in, zero ablation, steering).
// Position 0 of every text (the attention sink, whose norm is an outlier) is left out throughout.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/taps.h"
#include "sae/sae.h"

namespace erank {
class Model;
class Backend;
struct ModelConfig;
}  // namespace erank

namespace erank::sae {

struct TapPoint {
  Tap tap = Tap::hidden;
  int index = 0;
};
// resid L: HF hidden_states[L] (0 = embeddings .. n_layers - 1; the last one, after the final
// norm, is not a residual stream); mlp L / attn L: block L's MLP / attention output before the
// residual add. Throws erank::Error naming the valid range or kinds.
TapPoint tap_point(const std::string& kind, int layer, const ModelConfig& c);

// N rows of d floats. In memory up to max_bytes; past that everything goes to `spill_path` (and
// is read back through a memory map), so a long run never holds all activations in RAM.
class ActivationStore {
 public:
  ActivationStore(int64_t d, int64_t max_bytes, std::string spill_path);
  ~ActivationStore();
  ActivationStore(const ActivationStore&) = delete;
  ActivationStore& operator=(const ActivationStore&) = delete;
  void append(const float* rows, int64_t n);
  void finish();  // no more appends; a spilled store is mapped for reading
  const float* row(int64_t i) const { return (mapped_ ? mapped_ : mem_.data()) + i * d_; }
  int64_t size() const { return n_; }
  int64_t d() const { return d_; }
  bool spilled() const { return file_ != nullptr || mapped_ != nullptr; }

 private:
  int64_t d_, max_bytes_, n_ = 0;
  std::string path_;
  std::vector<float> mem_;
  std::FILE* file_ = nullptr;
  const float* mapped_ = nullptr;
  size_t map_bytes_ = 0;
};

// Runs the model over texts (token ids) packed up to batch_tokens per forward and hands
// `on_rows(rows [n, d], text index, first position)` the tap's rows of positions >= 1 of each
// text, in order. The forward stops at the tap (nothing after it is computed). Stops once
// max_rows rows were handed over (-1: all). progress(texts done, rows) after each forward.
void stream_activations(const Model& m, Backend& be, const std::vector<std::vector<int32_t>>& texts,
                        TapPoint tp, int64_t batch_tokens, int64_t max_rows,
                        const std::function<void(const float*, int64_t, size_t, int32_t)>& on_rows,
                        const std::function<void(size_t, int64_t)>& progress = {});

// Rewrites the tap's rows of positions >= 1: with the SAE's reconstruction (splice), zeros
// (zero), or adds scale x the decoder row of a feature divided by input_scale (steer: what that
// latent at value `scale` adds to x̂). Sees every other tap through `inner` (may be null).
class TapRewriter : public TapSink {
 public:
  enum class Mode { none, splice, zero, steer };
  TapRewriter(TapPoint tp, Mode mode, const Sae* sae, TapSink* inner = nullptr, int64_t feature = 0,
              double scale = 0);
  bool wants(Tap t) const override;
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override;
  bool rewrites(Tap t, int index) const override;
  void rewrite(Tap t, int index, Act& x, const SeqLayout& seqs) override;
  int64_t rewritten = 0;  // forwards that reached the tap

 private:
  TapPoint tp_;
  Mode mode_;
  const Sae* sae_;
  TapSink* inner_;
  int64_t feature_;
  double scale_;
};

}  // namespace erank::sae
