// Per-text evaluation shared by `erank diff`, `rank` and `loss`: one forward per model per text,
// with a sink that turns the wanted hidden states into eRanks and the logits into the next-token
// loss as they are produced (nothing of size N x vocab is kept).
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

nlohmann::json to_json(const TextRecord& r);
TextRecord text_record_from_json(const nlohmann::json& j);  // throws erank::Error when malformed

// Runs `model` on one sequence; eRank at each of `layers` (HF hidden_states indices), and the
// loss when `with_loss`.
// train_seed: dropout active (train mode) with this seed.
ModelOnText evaluate(const Model& model, Backend& be, const std::vector<int32_t>& ids,
                     const std::vector<int>& layers, bool with_loss,
                     std::optional<uint64_t> train_seed = std::nullopt);

}  // namespace erank
