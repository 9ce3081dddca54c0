// A loaded model: resolved config, its architecture, f32 weights checked against the tensor
// table, and a forward that reports every hidden state through taps.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/model_source.h"
#include "models/architecture.h"

namespace erank {

class KVCache;

// What a cached step computes beyond extending the cache (see Model::forward_step).
struct StepOptions {
  // Rows of the step's concatenated new tokens that go through the LM head, in this order (the
  // logits tap has one row per entry); empty: every row.
  std::vector<int64_t> logit_rows;
  // Per sequence (empty: none): attend to the slot's cache without appending to it, so that
  // several continuations can be scored on one cached context in one step. Such a slot may appear
  // more than once, but not also as a growing sequence of the same step.
  std::vector<bool> read_only;
};

struct LoadReport {
  std::vector<std::string> files;                   // files read
  std::string source_dtype;                         // F32 / BF16 / F16 / mixed, or GGUF types
  std::map<std::string, std::string> tensor_types;  // per tensor: its type in the file
  std::vector<std::string> unused;  // tensors in the files that the table does not use
  std::vector<std::string> tied;    // tensors taken from their tie target
  size_t file_bytes = 0;            // bytes of tensor data in the files
};

class Model {
 public:
  Model(ModelConfig cfg, const Architecture& arch, Weights w, LoadReport report)
      : cfg_(std::move(cfg)), arch_(&arch), w_(std::move(w)), report_(std::move(report)) {}

  const ModelConfig& config() const { return cfg_; }
  const Architecture& arch() const { return *arch_; }
  const Weights& weights() const { return w_; }
  const LoadReport& report() const { return report_; }
  int64_t n_params() const;  // distinct parameters (a tied head counts once)

  // Runs all sequences as one batch (each attends only to itself). Token ids are validated.
  // train_seed: run in train mode (dropout active, as HF's from_config twin) with this seed.
  void forward(Backend& be, const std::vector<std::vector<int32_t>>& seqs, TapSink& sink,
               std::optional<uint64_t> train_seed = std::nullopt) const;
  // The forward on given input rows instead of token ids (architectures with input_rows): x has
  // one row per position, lengths[s] rows for sequence s. Throws erank::Error otherwise.
  void forward_rows(Backend& be, const Act& x, const std::vector<int64_t>& lengths,
                    TapSink& sink) const;
  // Rows of the token-embedding table for these ids (validated), as the forward's first step.
  Act embed(Backend& be, const std::vector<int32_t>& ids) const;
  // One step of incremental decoding: seqs[i] are the next tokens of the sequence in cache slot
  // slots[i] (a whole prompt after the slot was cleared, one token when decoding); the cache
  // grows by them. With last_logits_only the logits tap has one row per sequence, its last.
  void forward_step(Backend& be, const std::vector<std::vector<int32_t>>& seqs,
                    const std::vector<int64_t>& slots, KVCache& cache, TapSink& sink,
                    bool last_logits_only = true) const;
  void forward_step(Backend& be, const std::vector<std::vector<int32_t>>& seqs,
                    const std::vector<int64_t>& slots, KVCache& cache, TapSink& sink,
                    const StepOptions& opt) const;

  // Logits of an early exit from hidden_states[layer] (x: some of its rows): the LM head on the
  // final norm of x (`final_norm`; DoLa's convention is without it), Gemma's soft-cap when
  // `softcap`. hidden_states[n_layers] is already after the final norm: its logits are the
  // model's own. Throws erank::Error for a layer outside 0..n_layers.
  Act early_exit_logits(Backend& be, const Act& x, int layer, bool final_norm, bool softcap) const;

 private:
  ModelConfig cfg_;
  const Architecture* arch_;
  Weights w_;
  LoadReport report_;
};

std::unique_ptr<Model> load_model(const ModelSource& src);

// One model inside a composite HF checkpoint (LLaVA's language model and vision tower): the
// config is resolved by the caller, base-model tensors are looked up under each of `prefixes` in
// turn and head tensors under `head_prefixes`, in the folder's safetensors files.
std::unique_ptr<Model> load_hf_part(const std::string& dir, ModelConfig cfg,
                                    const Architecture& arch,
                                    const std::vector<std::string>& prefixes,
                                    const std::vector<std::string>& head_prefixes);
// Tensors of a table (a component that is not a model, e.g. LLaVA's projector), found the same way.
Weights load_hf_tensors(const std::string& dir, const std::vector<TensorSpec>& specs,
                        const std::vector<std::string>& prefixes);
inline std::unique_ptr<Model> load_model(const std::string& spec) {
  return load_model(resolve_model_source(spec));
}

// Multiply-add FLOPs (x2) of one forward over sequences of these lengths: every matrix of the
// tensor table but the embedding lookups (the LM head only when `logits`), and the causal
// attention scores and values (the n (n + 1) / 2 visible pairs per head; the backend computes a
// little more on the diagonal blocks, which is not counted).
double forward_flops(const ModelConfig& cfg, const Architecture& arch,
                     const std::vector<int64_t>& seq_lengths, bool logits);

// Reads only the config (for `erank info` and twins without weights).
ModelConfig load_config(const ModelSource& src, const Architecture** arch);

// The untrained twin: same config, weights drawn by the architecture's HF `_init_weights`
// scheme from `seed`; identical on every run and any thread count. `bf16`: every matrix is the
// same draw rounded to bfloat16 (round to nearest even, as torch's .to(bfloat16)) and kept in
// 2 bytes per value, expanded per panel by the backend: half the memory of an f32 twin.
std::unique_ptr<Model> make_twin(const ModelConfig& cfg, const Architecture& arch, uint64_t seed,
                                 bool bf16 = false);

// Writes config.json + model.safetensors (f32, HF names and layouts) that transformers loads.
void save_hf_folder(const Model& m, const std::string& dir);

}  // namespace erank
