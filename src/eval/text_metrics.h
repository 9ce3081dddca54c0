// Per-text evaluation shared by `erank diff`, `rank` and `loss`: one forward per model per batch
// of texts, with a sink that turns the wanted hidden states into eRanks and the logits into the
// next-token loss as they are produced (no hidden state outlives its batch).
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "metrics/erank.h"
#include "metrics/loss.h"
#include "models/model.h"

namespace erank {

// One model's metrics on one text.
struct ModelOnText {
  std::vector<ERank> erank;  // one per requested layer, in the order of `layers`
  TextLoss loss;             // n_tokens == 0 when loss was not requested
};

// What one text produced: the trained model and each twin (in seed order).
struct TextRecord {
  int64_t index = 0;       // position in the dataset
  std::string id;          // file:line
  int64_t n_tokens = 0;    // after truncation
  bool truncated = false;  // the text had more than --max-tokens tokens
  ModelOnText trained;
  std::vector<ModelOnText> twins;
};

// One model's metrics on one text as JSON (the per-text file) and back; from_json throws
// erank::Error when malformed.
nlohmann::json model_json(const ModelOnText& m);
ModelOnText model_from_json(const nlohmann::json& j, int64_t n_tokens);

// Runs `model` on a batch of sequences, packed (each attends only to itself); one result per
// sequence, in order: eRank at each of `layers` (HF hidden_states indices), and the loss when
// `with_loss`. train_seed: dropout active (train mode) with this seed. metric_s, when given, is
// increased by the seconds spent in eRank and loss (the rest is the forward).
std::vector<ModelOnText> evaluate_batch(const Model& model, Backend& be,
                                        const std::vector<std::vector<int32_t>>& seqs,
                                        const std::vector<int>& layers, bool with_loss,
                                        std::optional<uint64_t> train_seed = std::nullopt,
                                        double* metric_s = nullptr);

// One sequence alone.
ModelOnText evaluate(const Model& model, Backend& be, const std::vector<int32_t>& ids,
                     const std::vector<int>& layers, bool with_loss,
                     std::optional<uint64_t> train_seed = std::nullopt);

}  // namespace erank
