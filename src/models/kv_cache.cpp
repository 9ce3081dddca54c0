#include "models/kv_cache.h"

#include <algorithm>

#include "core/error.h"

namespace erank {

int64_t layer_window(const ModelConfig& c, int64_t i) {
  if (!c.sliding.empty()) return c.sliding.at(static_cast<size_t>(i)) ? c.sliding_window : 0;
  return c.sliding_window;  // Mistral: every layer, or none
}

namespace {
// Rows per slot of layer i: the whole context, or the window when that is shorter.
int64_t layer_cap(const ModelConfig& c, int64_t i, int64_t max_context) {
  const int64_t w = layer_window(c, i);
  return w > 0 && w < max_context ? w : max_context;
}
}  // namespace

size_t KVCache::bytes_for(const ModelConfig& c, int64_t n_slots, int64_t max_context,
                          Precision prec) {
  const size_t elem = prec == Precision::f32 ? sizeof(float) : sizeof(double);
  size_t values = 0;  // per layer: its rows times its KV width (OpenELM's differ by layer)
  for (int64_t i = 0; i < c.n_layers; ++i)
    values +=
        static_cast<size_t>(n_slots * layer_cap(c, i, max_context) * c.kv_heads_at(i) * c.head_dim);
  return 2 * values * elem;
}

KVCache::KVCache(const ModelConfig& c, Backend& be, int64_t n_slots, int64_t max_context)
    : len_(static_cast<size_t>(n_slots), 0), n_slots_(n_slots), max_context_(max_context) {
  if (n_slots < 1 || max_context < 1)
    fail("KV cache: {} slots of {} tokens (both must be at least 1)", n_slots, max_context);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const int64_t width = c.kv_heads_at(i) * c.head_dim;
    KVLayer l;
    l.cap = layer_cap(c, i, max_context);
    l.ring = l.cap < max_context;
    // Uninitialised: only rows already written are ever read, so untouched pages cost nothing.
    l.k = be.alloc_uninit(n_slots * l.cap, width);
    l.v = be.alloc_uninit(n_slots * l.cap, width);
    layers_.push_back(std::move(l));
  }
  bytes_ = bytes_for(c, n_slots, max_context, be.precision());
}

void KVCache::copy_slot(int64_t src, int64_t dst) {
  ERANK_CHECK(src >= 0 && src < n_slots_ && dst >= 0 && dst < n_slots_,
              "copy_slot: slots {} -> {} of {}", src, dst, n_slots_);
  if (src == dst) return;
  const int64_t len = length(src);
  for (KVLayer& l : layers_) {
    // A ring holding len >= cap positions has every row live; otherwise rows [0, len) are.
    const int64_t n = std::min(len, l.cap) * l.k.cols;
    const int64_t from = src * l.cap * l.k.cols, to = dst * l.cap * l.k.cols;
    for (Act* a : {&l.k, &l.v}) {
      if (a->prec == Precision::f32)
        std::copy_n(a->f.begin() + from, n, a->f.begin() + to);
      else
        std::copy_n(a->d.begin() + from, n, a->d.begin() + to);
    }
  }
  len_.at(static_cast<size_t>(dst)) = len;
}

}  // namespace erank
