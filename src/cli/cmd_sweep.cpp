// erank sweep: every model on the same texts (a dataset, or benchmark items with --tasks), with
// per-model Diff-eRank, reduced loss, accuracy, the layer ablation and correlations across models.
#include <fmt/core.h>

#include <optional>

#include "cli/eval_options.h"
#include "core/error.h"
#include "eval/sweep.h"
#include "io/atomic_file.h"
#include "tasks/task_config.h"

namespace erank::cli {
namespace {

std::vector<std::string> split_commas(const std::string& s, const char* option) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t end = std::min(s.find(',', pos), s.size());
    std::string item = s.substr(pos, end - pos);
    if (item.empty()) fail("{}: empty item in '{}'", option, s);
    out.push_back(std::move(item));
    pos = end + 1;
  }
  return out;
}

int run(EvalOptions& o) {
  SweepSettings s;
  s.run = o.run;
  s.models = split_commas(o.models, "--models");
  s.with_accuracy = o.with_accuracy;
  s.num_fewshot = o.num_fewshot;
  std::optional<TaskRegistry> reg;
  if (!o.tasks.empty()) {
    if (!o.dataset.empty() || !o.data.empty() || o.sample >= 0)
      fail("--tasks takes the texts from the benchmarks: drop --dataset, --data and --sample");
    s.tasks = split_commas(o.tasks, "--tasks");
    reg = TaskRegistry::load(TaskRegistry::default_dirs(o.include_paths));
    resolve_tasks(*reg, s.tasks);  // an unknown name fails before any model loads
    s.registry = &*reg;
    if (o.limit >= 0) s.task_inputs.limit = o.limit;
    s.task_inputs.data = parse_task_data(o.task_data, "--task-data");
  } else {
    if (!o.task_data.empty()) fail("--task-data needs --tasks");
    s.run.data = dataset_spec(o);
  }
  if (o.out.empty() && o.work_dir.empty()) fail("sweep: give --out (or at least --work-dir)");
  s.work_dir = o.work_dir.empty() ? o.out + ".d" : o.work_dir;
  if (!s.run.quiet)
    fmt::print(stderr, "erank sweep: {} models, {}, layers {}, work folder {}\n", s.models.size(),
               s.tasks.empty() ? "data " + s.run.data.name : "tasks " + o.tasks, s.run.layers,
               s.work_dir);
  const nlohmann::json res = run_sweep(s);
  fmt::print("{}", format_sweep(res));
  if (!o.out.empty()) write_file_atomic(o.out, res.dump(2) + "\n");
  // Every model failing is a failed sweep; some failing is reported in the table and the file.
  for (const auto& set : res["sets"])
    for (const auto& m : set["models"])
      if (m["status"] == "ok") return 0;
  fmt::print(stderr, "sweep: every model failed\n");
  return 1;
}

RunFn setup(CLI::App& app) {
  auto o = add_eval_options(app, /*twin=*/true, /*layers=*/true, /*sweep=*/true);
  return [o] {
    o->run.command = "diff";
    return run(*o);
  };
}

ERANK_COMMAND("sweep",
              "Diff-eRank, reduced loss and accuracy of several models on the same texts, with "
              "the layer ablation and correlations across models",
              setup);

}  // namespace
}  // namespace erank::cli
