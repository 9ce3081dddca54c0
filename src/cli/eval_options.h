// Options shared by diff, rank and loss: model/engine, dataset selection, layers, outputs.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "eval/run.h"

namespace erank::cli {

struct EvalOptions {
  RunSettings run;
  std::string dataset, data, field = "text", format, out;
  int64_t limit = -1, sample = -1;
  uint64_t sample_seed = 123;
  // diff only: benchmark items as texts (question + correct answer) and the task's accuracy
  std::string task;
  bool with_accuracy = false;
  std::vector<std::string> task_data;  // TASK=PATH or TASK:SPLIT=PATH, as erank eval's --data
  std::vector<std::string> include_paths;
  // sweep only
  std::string models, tasks, work_dir;
  std::optional<int> num_fewshot;
};

// "TASK=PATH" / "TASK:SPLIT=PATH" -> pairs; throws erank::Error for a malformed or missing one.
std::vector<std::pair<std::string, std::string>> parse_task_data(
    const std::vector<std::string>& items, const std::string& option);

// Declares the options; `twin` adds --twins/--seed/--twin-mode and --no-loss; `sweep` swaps
// --model/--task/--per-text for --models/--tasks/--work-dir.
std::shared_ptr<EvalOptions> add_eval_options(CLI::App& app, bool twin, bool layers,
                                              bool sweep = false);
// The dataset of --dataset/--data/--field/--format/--sample/--limit (default: the embedded one).
DatasetSpec dataset_spec(EvalOptions& o);
// Runs, prints the table, writes --out atomically. Returns the exit code.
int run_eval_command(EvalOptions& o);

}  // namespace erank::cli
