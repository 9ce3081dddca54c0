// The key/value cache of incremental decoding: one KVLayer per layer (each as wide as that layer's
// KV heads: OpenELM's differ), n_slots sequences of up to max_context tokens each. Sliding-window
// layers keep only their window (a ring), so a Gemma 3 or Mistral cache grows with the context only
// in its full-attention layers. Memory is allocated once here and never grows: the generator sizes
// it from --batch and --max-context.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "models/config.h"

namespace erank {

// Window of layer i: 0 for full attention.
int64_t layer_window(const ModelConfig& c, int64_t i);

class KVCache {
 public:
  KVCache(const ModelConfig& c, Backend& be, int64_t n_slots, int64_t max_context);

  // Bytes a cache of this shape takes, without making one (`erank info`).
  static size_t bytes_for(const ModelConfig& c, int64_t n_slots, int64_t max_context,
                          Precision prec);
  size_t bytes() const { return bytes_; }

  int64_t n_slots() const { return n_slots_; }
  int64_t max_context() const { return max_context_; }
  KVLayer& layer(int64_t i) { return layers_.at(static_cast<size_t>(i)); }
  // Tokens slot s holds; a slot is emptied to take a new sequence.
  int64_t length(int64_t s) const { return len_.at(static_cast<size_t>(s)); }
  void clear(int64_t s) { len_.at(static_cast<size_t>(s)) = 0; }
  void advance(int64_t s, int64_t n) { len_.at(static_cast<size_t>(s)) += n; }
  // Slot dst becomes a copy of slot src (keys, values, length): a context computed once and
  // continued in several slots. The cache lives in host memory on both backends.
  void copy_slot(int64_t src, int64_t dst);

 private:
  std::vector<KVLayer> layers_;
  std::vector<int64_t> len_;
  int64_t n_slots_, max_context_;
  size_t bytes_ = 0;
};

}  // namespace erank
