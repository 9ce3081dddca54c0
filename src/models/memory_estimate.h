// The memory a run will take, from the model's files and config before anything is loaded, and
// the check that refuses a run that will not fit (instead of the kernel killing it halfway).
// It models how erank runs today: matrices stay in their file's type (mapped; ERANK_WEIGHTS=f32
// expands them), an untrained twin is a second model in f32 built after the trained one is freed,
// one forward holds a few [tokens, width] activations, the loss a block of [256, vocab] logits,
// generation adds its KV cache.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "io/model_source.h"
#include "models/architecture.h"

namespace erank {

struct MemoryPlan {
  int64_t batch_tokens = 2048;  // rows of the largest forward
  int64_t logit_rows = -1;  // rows that go through the LM head (-1: all, in 256-row blocks: loss)
  bool logits = true;       // false: no LM head at all (rank: hidden states only)
  int twins = 0;            // untrained twins (f32 models, one at a time after the trained one)
  bool twin_bf16 = false;   // --twin-dtype bf16: the twin's matrices in 2 bytes per value
  int64_t kv_slots = 0, kv_context = 0;  // generation's KV cache (0: none)
  int threads = 0;                       // for per-thread scratch (0: all cores)
};

struct MemoryEstimate {
  size_t base_bytes = 0;        // process, libraries, tokenizer
  size_t weights_bytes = 0;     // the trained model's weights as erank holds them
  size_t twin_bytes = 0;        // one untrained twin (f32), 0 without twins
  size_t kv_bytes = 0;          // KV cache
  size_t activation_bytes = 0;  // one forward's activations and metric scratch
  size_t logits_bytes = 0;      // [rows, vocab] f32 logits (one block of them for the loss)
  size_t total_bytes = 0;       // the peak: base + max(weights, twin) + kv + activations + logits
  // Bytes per forward row (activations + logits): what a smaller batch saves.
  double bytes_per_row = 0;
};

// The weights of `src` as load_model will hold them (mapped file data, expansions, copies),
// from the file headers only.
size_t stored_weights_bytes(const ModelSource& src, const ModelConfig& cfg,
                            const Architecture& arch);
MemoryEstimate estimate_memory(const ModelConfig& cfg, const Architecture& arch,
                               size_t weights_bytes, const MemoryPlan& plan);
MemoryEstimate estimate_memory(const ModelSource& src, const ModelConfig& cfg,
                               const Architecture& arch, const MemoryPlan& plan);

// Lines for `erank info` (each component and the total, in MiB/GiB).
std::string describe(const MemoryEstimate& e, const MemoryPlan& plan);

struct AvailableMemory {
  size_t bytes = 0;
  std::string source;  // "MemAvailable", "cgroup memory.max", "ERANK_MEMORY_LIMIT_BYTES"
};
// The smaller of /proc/meminfo's MemAvailable and the cgroup's memory.max - memory.current;
// ERANK_MEMORY_LIMIT_BYTES replaces both (tests, or a budget of one's own). nullopt: unknown.
std::optional<AvailableMemory> available_memory();

// Throws erank::Error when the estimate exceeds the available memory: "erank loss: needs about
// X GiB (...), Y GiB available (MemAvailable); try --batch-tokens N ...". `knob` names the
// option that trades memory for speed ("--batch-tokens", "--batch"), now `knob_value`, each unit
// of it costing `bytes_per_knob_unit`. Skipped when ERANK_NO_MEMORY_CHECK=1.
// `otherwise`: the advice when the knob cannot help (e.g. "a smaller --max-context").
void check_memory(const MemoryEstimate& e, const std::string& what, const std::string& knob,
                  int64_t knob_value, double bytes_per_knob_unit,
                  const std::string& otherwise = "");

}  // namespace erank
