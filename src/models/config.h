// The resolved model config: what config.json (or GGUF metadata) says, with defaults made
// explicit and derived values (head_dim, kv groups, rotary dims, rope frequencies) computed once.
// Each architecture file fills it from its own keys; the forward code reads only this struct.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace erank {

struct RopeConfig {
  double theta = 10000.0;
  int64_t rotary_dim = 0;    // dims of each head that rotate (partial rotary for NeoX)
  std::string scaling_type;  // "", "llama3", "linear"
  double factor = 1.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_pos = 8192;
  std::vector<double> freq_factors;  // GGUF rope_freqs: llama.cpp divides each inv_freq by these
  // inv_freq[i] for i < rotary_dim / 2, with scaling applied, as transformers computes it.
  std::vector<double> inv_freq() const;
};

struct ModelConfig {
  std::string arch;        // our architecture file: llama, opt, gpt2, gpt_neox, gemma3
  std::string model_type;  // as written (llama, mistral, qwen2, opt, gpt2, gpt_neox, gemma3_text)
  int64_t vocab_size = 0, hidden = 0, intermediate = 0, n_layers = 0;
  int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0, max_positions = 0;
  double norm_eps = 1e-5;
  bool tie_embeddings = false;
  Activation act = Activation::silu;
  RopeConfig rope;
  bool qkv_bias = false, o_bias = false, mlp_bias = false;  // llama family / qwen2
  // OPT
  bool pre_norm = true;        // do_layer_norm_before
  int64_t embed_proj_dim = 0;  // word_embed_proj_dim (project_in/out when != hidden)
  bool final_norm = true;      // OPT: final_layer_norm exists (pre-LN only)
  // GPT-NeoX
  bool parallel_residual = true;
  // Gemma 3
  std::vector<bool> sliding;  // per layer: sliding-window attention
  int64_t sliding_window = 0;
  RopeConfig rope_local;  // rope for sliding layers
  double query_pre_attn_scalar = 0;
  double final_softcap = 0, attn_softcap = 0;
  // CLIP vision tower: square images of image_size pixels cut into patch_size patches.
  int64_t image_size = 0, patch_size = 0, channels = 0;
  // Dropout probabilities, used only by a train-mode forward (the original's twin).
  struct {
    double embed = 0, resid = 0, attn = 0;
  } dropout;
  // Layer-wise scaling (OpenELM): per-layer query heads, KV heads and FFN widths. Empty for the
  // other architectures, whose layers all have n_heads, n_kv_heads and intermediate (for OpenELM
  // those hold the largest layer's values).
  std::vector<int64_t> layer_heads, layer_kv_heads, layer_ffn;
  bool qk_norm = false;  // OpenELM normalize_qk_projections: RMSNorm on each q and k head
  // Initialisation of the untrained twin (HF _init_weights).
  double init_std = 0.02;
  int64_t bos_id = -1, eos_id = -1, pad_id = -1;

  nlohmann::json raw;  // config.json as written (written back by `erank twin`)

  int64_t kv_groups() const { return n_heads / n_kv_heads; }
  int64_t heads_at(int64_t i) const {
    return layer_heads.empty() ? n_heads : layer_heads.at(size_t(i));
  }
  int64_t kv_heads_at(int64_t i) const {
    return layer_kv_heads.empty() ? n_kv_heads : layer_kv_heads.at(size_t(i));
  }
  int64_t ffn_at(int64_t i) const {
    return layer_ffn.empty() ? intermediate : layer_ffn.at(size_t(i));
  }
  int64_t out_dim() const { return embed_proj_dim > 0 ? embed_proj_dim : hidden; }
};

// Typed lookups in config.json with the file named in errors.
struct JsonConfig {
  const nlohmann::json& j;
  std::string origin;
  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
  int64_t int_(const char* k) const;
  int64_t int_or(const char* k, int64_t def) const { return has(k) ? int_(k) : def; }
  double num(const char* k) const;
  double num_or(const char* k, double def) const { return has(k) ? num(k) : def; }
  bool bool_or(const char* k, bool def) const;
  std::string str_or(const char* k, const std::string& def) const;
};

Activation parse_activation(const std::string& name, const std::string& origin);
void validate_config(const ModelConfig& c, const std::string& origin);

}  // namespace erank
