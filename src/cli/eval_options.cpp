#include "cli/eval_options.h"

#include <fmt/core.h>

#include "core/error.h"
#include "data/dataset.h"
#include "eval/task_inputs.h"
#include "io/atomic_file.h"
#include "tasks/task_config.h"

#include <filesystem>
#include <optional>

namespace erank::cli {

std::shared_ptr<EvalOptions> add_eval_options(CLI::App& app, bool twin, bool layers, bool sweep) {
  auto o = std::make_shared<EvalOptions>();
  RunSettings& r = o->run;
  r.model = kDefaultModel;
  if (sweep) {
    app.add_option("--models", o->models,
                   "comma-separated models (GGUF files, HF folders, short names), one row each")
        ->required();
    app.add_option("--tasks", o->tasks,
                   "comma-separated benchmarks: their items (question + correct answer) as texts, "
                   "one set each (instead of a dataset)");
    app.add_option("--num-fewshot", o->num_fewshot,
                   "shots of --with-accuracy (default: the task's)");
  } else {
    app.add_option("-m,--model", r.model, "GGUF file, HF folder, cached HF id or short name")
        ->capture_default_str();
  }
  app.add_option("--backend", r.backend, "cpu or reference")->capture_default_str();
  app.add_option("-t,--threads", r.threads, "threads (0: all cores)")->capture_default_str();
  app.add_option("--dataset", o->dataset,
                 "preset: boolq (embedded), dolly, hh-rlhf, wiki, openwebtext2 (with --data PATH)");
  app.add_option("--data", o->data, "dataset file (JSONL, CSV, text), or the preset's file/folder");
  app.add_option("--field", o->field, "JSONL key / CSV column")->capture_default_str();
  app.add_option("--format", o->format, "jsonl | csv | lines | paragraphs (default: by extension)");
  app.add_option("--limit", o->limit, "use at most this many texts");
  app.add_option("--sample", o->sample,
                 "draw this many records as Python's random.seed(S); random.sample(range(n), N)");
  app.add_option("--sample-seed", o->sample_seed, "S for --sample")->capture_default_str();
  app.add_option("--max-tokens", r.max_tokens, "truncate each text to this many tokens")
      ->capture_default_str();
  app.add_option("--batch-tokens", r.batch_tokens,
                 "tokens per forward: texts are packed into batches of at most this many")
      ->capture_default_str();
  app.add_flag("!--no-special-tokens", r.add_special_tokens, "tokenise without BOS/EOS");
  // Defaults shown by --help: the sweep's layer ablation; rank's curve over every layer.
  if (sweep) r.layers = "first,middle,last";
  if (layers && !twin) r.layers = "all";
  if (layers)
    app.add_option("--layers", r.layers,
                   "last | all | comma-separated first, middle, last and HF hidden_states indices")
        ->capture_default_str();
  if (twin) {
    app.add_option("--twins", r.twins, "number of untrained twins (seeds seed .. seed+K-1)")
        ->capture_default_str();
    app.add_option("--seed", r.seed, "seed of the first untrained twin")->capture_default_str();
    app.add_option("--twin-mode", r.twin_mode,
                   "eval (default) or train (the original's dropout-active twin)")
        ->capture_default_str();
    app.add_flag("!--no-loss", r.with_loss, "skip the loss (no LM head pass)");
    app.add_option(
           "--twin-dtype", r.twin_dtype,
           "f32 (default) or bf16: the twin's matrices rounded to bfloat16, half the memory")
        ->capture_default_str();
  }
  if (twin && layers) {  // erank diff and sweep
    if (!sweep)
      app.add_option("--task", o->task,
                     "benchmark items as texts: each item's question + its correct answer "
                     "(openbookqa, piqa, arc_easy, arc_challenge, mmlu, ...; --limit N documents)");
    app.add_flag("--with-accuracy", o->with_accuracy,
                 "with a task: its accuracy for the trained model, as erank eval");
    app.add_option("--task-data", o->task_data,
                   "with --task(s): TASK=PATH or TASK:SPLIT=PATH, a local copy of a task's data");
    app.add_option("--include-path", o->include_paths, "more folders of task YAML files");
  }
  app.add_option("--out", o->out, "results JSON (written atomically)");
  if (sweep) {
    app.add_option("--work-dir", o->work_dir,
                   "per-model results and per-text files (default: --out's name + .d)");
    app.add_flag("--resume", r.resume, "continue the sweep recorded in --work-dir");
  } else {
    app.add_option("--per-text", r.per_text, "per-text JSONL, appended as texts finish");
    app.add_flag("--resume", r.resume, "continue the run recorded in --per-text");
  }
  app.add_flag("-q,--quiet", r.quiet, "no progress output");
  return o;
}

std::vector<std::pair<std::string, std::string>> parse_task_data(
    const std::vector<std::string>& items, const std::string& option) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& d : items) {
    const auto eq = d.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == d.size())
      fail("{} '{}': expected TASK=PATH or TASK:SPLIT=PATH", option, d);
    const std::string path = d.substr(eq + 1);
    if (!std::filesystem::exists(path))
      fail("{}: no such file or folder ({} {})", path, option, d.substr(0, eq));
    out.push_back({d.substr(0, eq), path});
  }
  return out;
}

DatasetSpec dataset_spec(EvalOptions& o) {
  DatasetSpec d;
  if (!o.dataset.empty()) {
    d = preset_spec(o.dataset, o.data);
  } else if (!o.data.empty()) {
    d = file_spec(o.data, o.field,
                  o.format.empty() ? std::nullopt : std::optional<Format>(parse_format(o.format)));
  } else {
    // The embedded default: a Python-exact sample of BoolQ's Wikipedia passages.
    d = preset_spec(kDefaultDataset);
    if (o.sample < 0 && o.limit < 0) o.sample = 100;
  }
  if (o.sample >= 0) {
    d.sample = o.sample;
    d.seed = o.sample_seed;
  }
  if (o.limit >= 0) d.limit = o.limit;
  return d;
}

int run_eval_command(EvalOptions& o) {
  RunSettings& r = o.run;
  std::optional<TaskRegistry> reg;
  TaskInputOptions task_opts;
  if (!o.task.empty()) {
    if (!o.dataset.empty() || !o.data.empty() || o.sample >= 0)
      fail("--task takes the texts from the benchmark: drop --dataset, --data and --sample");
    reg = TaskRegistry::load(TaskRegistry::default_dirs(o.include_paths));
    if (o.limit >= 0) task_opts.limit = o.limit;
    task_opts.data = parse_task_data(o.task_data, "--task-data");
    r.texts = task_texts(*reg, o.task, task_opts);
    r.data.name = o.task;
  } else if (o.with_accuracy || !o.task_data.empty()) {
    fail("--with-accuracy and --task-data need --task");
  } else {
    r.data = dataset_spec(o);
  }
  if (!o.out.empty() && r.per_text == o.out) fail("--out and --per-text must be different files");
  if (!r.quiet)
    fmt::print(stderr, "erank {}: model {}, data {}{}, layers {}, max tokens {}, backend {}\n",
               r.command, r.model, r.data.name,
               r.data.sample >= 0 ? fmt::format(" (sample {})", r.data.sample) : "", r.layers,
               r.max_tokens, r.backend);
  nlohmann::json res = run_evaluation(r);
  if (!o.task.empty()) {
    res["task"] = {{"name", o.task}, {"text", "question + target_delimiter + correct answer"}};
    if (o.with_accuracy)
      res["task"]["accuracy"] =
          task_accuracy(*reg, r.model, o.task, task_opts, std::nullopt, r.backend, r.threads);
  }
  fmt::print("{}", format_results(res));
  if (!o.out.empty()) write_file_atomic(o.out, res.dump(2) + "\n");
  return 0;
}

}  // namespace erank::cli
