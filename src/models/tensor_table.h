// One declarative table per architecture: every tensor's name in HF checkpoints and in GGUF
// files, its shape, whether it is required, the load-time fix-ups, and how the untrained twin
// initialises it (HF `_init_weights`). Both loaders, the checks, `erank info` and `erank twin`
// read this table; nothing else lists tensors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace erank {

struct InitSpec {
  enum Kind { normal, zeros, ones } kind = normal;
  double std = 0.02;
  int64_t zero_row = -1;  // Embedding padding_idx: that row is zeroed
};

enum class GGUFFix {
  none,
  rope_unpermute_q,  // llama.cpp stores Q rows permuted for its RoPE; undo with n_heads
  rope_unpermute_k,  // same for K with n_kv_heads
  minus_one,         // llama.cpp stores Gemma norms as (1 + w); HF keeps w
};

struct TensorSpec {
  std::string name;            // HF name inside the base model (the key in Weights)
  std::string gguf;            // llama.cpp name; empty when GGUF files never carry it
  std::vector<int64_t> shape;  // as erank uses it (PyTorch order: Linear [out, in])
  bool required = true;
  bool hf_transposed = false;  // HF stores [in, out] (GPT-2's Conv1D)
  bool head = false;           // lives outside the base model prefix (lm_head.weight, embed_out)
  std::string tied_to;         // when absent from the file, use this tensor (tied embeddings)
  GGUFFix gguf_fix = GGUFFix::none;
  InitSpec init;
};

// Replaces "{i}" in a pattern with the layer index.
std::string layer_name(const std::string& pattern, int64_t i);

}  // namespace erank
