// What one architecture file provides. Each src/models/<arch>.cpp defines one Architecture; the
// list in architecture.cpp is the only registry.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "backend/backend.h"
#include "models/config.h"
#include "models/taps.h"
#include "models/tensor_table.h"
#include "models/weights.h"

namespace erank {

class GGUFFile;
class KVCache;

// Train-mode dropout for one forward: off by default. Each dropout site draws the next seed.
struct DropoutState {
  bool on = false;
  uint64_t seed = 0;
  mutable uint64_t sites = 0;  // counts sites so each gets its own mask
  uint64_t next_seed() const { return seed * 0x100000001b3ull + ++sites; }
};

struct ForwardInput {
  std::vector<int32_t> ids;  // all sequences concatenated
  SeqLayout seqs;            // positions are absolute: past + i in a cached forward
  DropoutState drop;
  // Incremental decoding: attention reads and extends this cache (slots and past lengths in refs).
  KVCache* cache = nullptr;
  CacheRefs refs;
  // When not empty, only these rows go through the LM head: the logits tap then has one row per
  // entry, as sequences of one row (decoding needs only each sequence's last row).
  std::vector<int64_t> logit_rows;
  // When set, these rows enter the model instead of ids (Architecture::input_rows says whether it
  // accepts them): token embeddings with LLaVA's projected image features spliced in, or a vision
  // tower's flattened patches. One row per position of seqs.
  const Act* input_rows = nullptr;
};

struct Architecture {
  std::string name;
  std::vector<std::string> hf_model_types;  // config.json "model_type" values
  std::vector<std::string> gguf_archs;      // GGUF "general.architecture" values
  std::string hf_prefix;                    // base-model prefix in *ForCausalLM checkpoints
  std::string hf_class;                     // "architectures" entry written by `erank twin`
  ModelConfig (*config_from_hf)(const JsonConfig& j) = nullptr;
  ModelConfig (*config_from_gguf)(const GGUFFile& f) = nullptr;    // null: GGUF not supported
  nlohmann::json (*config_to_hf)(const ModelConfig& c) = nullptr;  // for configs read from GGUF
  std::vector<TensorSpec> (*tensors)(const ModelConfig& c) = nullptr;
  void (*forward)(const ModelConfig& c, const Weights& w, Backend& be, const ForwardInput& in,
                  TapSink& sink) = nullptr;
  // What the LM head reads, from a residual stream x (hidden_states[l], l < n_layers): the final
  // norm when `norm`, and OPT-350m's project_out either way. The forward ends with the same
  // function, so an early exit (logit lens, DoLa) is the model's own head on an earlier layer.
  Act (*head_input)(const ModelConfig& c, const Weights& w, Backend& be, const Act& x,
                    bool norm) = nullptr;
  const char* head = "lm_head.weight";  // the LM head's tensor
  // The token-embedding table (Model::embed reads it); null when the model takes no token ids.
  const char* embed_table = nullptr;
  bool input_rows = false;  // the forward accepts ForwardInput::input_rows
};

const std::vector<const Architecture*>& architectures();
const Architecture& architecture_for_hf(const std::string& model_type, const std::string& origin);
const Architecture& architecture_for_gguf(const std::string& arch, const std::string& origin);
const Architecture& architecture_named(const std::string& name);

}  // namespace erank
