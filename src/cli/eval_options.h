// Options shared by diff, rank and loss: model/engine, dataset selection, layers, outputs.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>

#include "cli/command.h"
#include "eval/run.h"

namespace erank::cli {

struct EvalOptions {
  RunSettings run;
  std::string dataset, data, field = "text", format, out;
  int64_t limit = -1, sample = -1;
  uint64_t sample_seed = 123;
};

// Declares the options; `twin` adds --twins/--seed/--twin-mode, `loss` adds --no-loss.
std::shared_ptr<EvalOptions> add_eval_options(CLI::App& app, bool twin, bool layers);
// Runs, prints the table, writes --out atomically. Returns the exit code.
int run_eval_command(EvalOptions& o);

}  // namespace erank::cli
