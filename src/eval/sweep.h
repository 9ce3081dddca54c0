// `erank sweep`: every model on the same texts (a dataset, or each benchmark's items), one
// results document with per-model Diff-eRank, reduced loss, accuracy, the layer ablation and the
// correlations across models (schema in docs/sweep-schema.md). Each model's run is an ordinary
// `erank diff` run with its own per-text file under the work folder, so a killed sweep resumes
// per (model, text); a model that fails (to load, or later) is reported and the others finish.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/run.h"
#include "eval/task_inputs.h"

namespace erank {

class TaskRegistry;

struct SweepSettings {
  std::vector<std::string> models;
  RunSettings run;                         // model, per_text and texts are set per model and set
  std::vector<std::string> tasks;          // empty: run.data is the one text set
  const TaskRegistry* registry = nullptr;  // with tasks
  TaskInputOptions task_inputs;
  bool with_accuracy = false;
  std::optional<int> num_fewshot;
  std::string work_dir;
};

inline constexpr int kSweepSchemaVersion = 1;

// Runs the sweep; throws erank::Error only for what stops every model (bad options, unreadable
// texts, a work folder from other settings without --resume).
nlohmann::json run_sweep(const SweepSettings& s);

// The table printed at the end: per set, models x (params, Diff-eRank (a)/(b), reduced loss,
// accuracy), the layer ablation and the correlations.
std::string format_sweep(const nlohmann::json& sweep);

// The correlations of one set's models (every pair of the sweep-schema keys that all ok models
// have, n >= 3; else the coefficients are null).
nlohmann::json sweep_correlations(const nlohmann::json& models);

}  // namespace erank
