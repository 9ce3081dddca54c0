// One evaluation run over a dataset: the machinery behind `erank diff`, `rank` and `loss`.
// Texts are tokenised with the trained model's tokenizer, truncated, run through the trained
// model and each untrained twin; per-text records are appended to a JSONL file as they finish
// (so --resume continues a killed run without recomputing or losing a text), and the dataset
// aggregates are computed from all records at the end.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "eval/text_metrics.h"

namespace erank {

struct RunSettings {
  std::string command = "diff";  // diff | rank | loss (recorded in the results)
  std::string model;
  std::string backend = "cpu";
  int threads = 0;
  DatasetSpec data;
  // Texts made by the caller (benchmark items of `erank diff --task`): used instead of `data`.
  std::optional<Dataset> texts;
  std::string layers = "last";  // all | last | list of first/middle/last/HF hidden_states indices
  int64_t max_tokens = 2048;
  int64_t batch_tokens = 2048;  // tokens per forward (texts packed, each attending to itself)
  bool add_special_tokens = true;
  int twins = 1;      // 0: no twin (rank, loss)
  uint64_t seed = 0;  // twin k uses seed + k
  std::string twin_mode = "eval";
  std::string twin_dtype = "f32";  // or bf16: the twin's matrices rounded to bfloat16
  bool with_loss = true;
  std::string per_text;  // JSONL path ("" = none)
  bool resume = false;
  bool quiet = false;
};

// "all" | "last" | "first,middle,last" | "0,3,5" (names and indices mix; negative counts from the
// end: -1 = last) -> sorted HF hidden_states indices; throws erank::Error for anything else or
// out of 0..n_layers.
std::vector<int> parse_layers(const std::string& spec, int n_layers);

// The paper's layer ablation positions: first = 1 (the first block's output), middle =
// n_layers / 2, last = n_layers; -1 for any other name.
int named_layer(const std::string& name, int n_layers);

// Runs and returns the results document (schema in docs/results-schema.md).
nlohmann::json run_evaluation(const RunSettings& s);

// The human table for a results document.
std::string format_results(const nlohmann::json& results);

inline constexpr int kResultsSchemaVersion = 1;

}  // namespace erank
