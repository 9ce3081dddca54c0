// erank eval: benchmarks with lm-evaluation-harness's prompts, requests, filters and metrics
// (tasks/*.yaml): multiple-choice tasks by log-likelihood, generative ones (GSM8K, MATH, GPQA
// chain-of-thought, HumanEval in a sandbox) by decoding; lm-eval's table on stdout and its
// results/samples files; sweeps over shots and few-shot label modes in one command.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "data/sha256.h"
#include "eval/progress.h"
#include "generate/dola.h"
#include "models/model.h"
#include "tasks/evaluator.h"
#include "tasks/results_writer.h"
#include "template/chat.h"
#include "tokenizer/tokenizer.h"

namespace erank::cli {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// `erank eval` with no --tasks: a small MMLU 5-shot run on the embedded model.
const std::vector<std::string> kDefaultTasks = {"mmlu_abstract_algebra", "mmlu_anatomy",
                                                "mmlu_high_school_geography",
                                                "mmlu_college_computer_science"};

struct Options {
  EngineOptions engine;
  std::vector<std::string> tasks;
  std::string num_fewshot, fewshot_labels = "gold", description, system, role;
  int64_t limit = -1, batch_tokens = 4096, max_length = 0;
  bool chat = false, multiturn = false, log_samples = false, quiet = false, list = false;
  bool no_resume = false;
  std::vector<std::string> data, include_paths;
  std::string scoring = "loglikelihood", output_path, dola;
  uint64_t fewshot_seed = 1234;
  // generate_until tasks
  int64_t gen_batch = 16, max_gen_toks = -1;
  std::string cot_trigger;
  int self_consistency = 0;
  double temperature = 0.7, code_timeout = 3.0;
  uint64_t gen_seed = 1234;
  bool allow_code = false;
  bool contamination = false;
  std::string contamination_k;
};

template <class T>
std::vector<T> split_list(const std::string& s, const char* what) {
  std::vector<T> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t end = std::min(s.find(',', pos), s.size());
    const std::string item = s.substr(pos, end - pos);
    if (!item.empty()) {
      if constexpr (std::is_same_v<T, int>) {
        size_t used = 0;
        int v = -1;
        try {
          v = std::stoi(item, &used);
        } catch (const std::exception&) {
        }
        if (used != item.size() || v < 0)
          fail("{}: '{}' is not a non-negative integer", what, item);
        out.push_back(v);
      } else {
        out.push_back(item);
      }
    }
    pos = end + 1;
  }
  return out;
}

// --contamination's k list: fractions in (0, 1], no repeats; default 0.2. Empty when off.
std::vector<double> contamination_ks(const Options& o) {
  if (!o.contamination) {
    if (!o.contamination_k.empty()) fail("--contamination-k needs --contamination");
    return {};
  }
  std::vector<double> ks;
  for (auto& item : split_list<std::string>(o.contamination_k.empty() ? "0.2" : o.contamination_k,
                                            "--contamination-k")) {
    size_t used = 0;
    double k = NAN;
    try {
      k = std::stod(item, &used);
    } catch (const std::exception&) {
    }
    if (used != item.size() || !(k > 0 && k <= 1))
      fail("--contamination-k: '{}' is not a fraction in (0, 1]", item);
    if (std::find(ks.begin(), ks.end(), k) != ks.end())
      fail("--contamination-k: {} is given twice", item);
    ks.push_back(k);
  }
  if (ks.empty()) fail("--contamination-k: no value given");
  return ks;
}

int run(const Options& o) {
  auto reg = TaskRegistry::load(TaskRegistry::default_dirs(o.include_paths));
  if (o.list) {
    for (auto& g : reg.group_names()) fmt::print("{} (group)\n", g);
    for (auto& t : reg.task_names()) fmt::print("{}\n", t);
    return 0;
  }
  const bool default_run = o.tasks.empty();
  EvalSettings s;
  for (auto& t : o.tasks)
    for (auto& x : split_list<std::string>(t, "--tasks")) s.tasks.push_back(x);
  if (default_run) s.tasks = kDefaultTasks;
  std::vector<std::optional<int>> shots;
  if (!o.num_fewshot.empty()) {
    for (int k : split_list<int>(o.num_fewshot, "--num-fewshot")) shots.push_back(k);
  } else {
    shots.push_back(default_run ? std::optional<int>(5) : std::nullopt);
  }
  const auto labels = split_list<std::string>(o.fewshot_labels, "--fewshot-labels");
  for (auto& l : labels)
    if (l != "gold" && l != "random" && l != "flipped")
      fail("--fewshot-labels: '{}' is not one of gold, random, flipped", l);
  if (o.scoring != "loglikelihood" && o.scoring != "opencompass-ppl")
    fail("--scoring: '{}' is not one of loglikelihood, opencompass-ppl", o.scoring);
  if (o.multiturn && !o.chat) fail("--fewshot-as-multiturn needs --apply-chat-template");
  s.contamination_k = contamination_ks(o);
  for (auto& d : o.data) {
    const auto eq = d.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == d.size())
      fail("--data '{}': expected TASK=PATH or TASK:SPLIT=PATH", d);
    const std::string path = d.substr(eq + 1);
    if (!fs::exists(path)) fail("{}: no such file or folder (--data {})", path, d.substr(0, eq));
    s.data.push_back({d.substr(0, eq), path});
  }
  // Resolve the task names now, so that an unknown task fails before the model loads.
  resolve_tasks(reg, s.tasks);

  const ModelSource src = resolve_model_source(o.engine.model);
  auto tok = load_tokenizer(src);
  ChatTemplate chat;
  if (o.chat) {
    chat = find_chat_template(src);
    s.chat = &chat;
    s.chat_vars = ojson(special_token_vars(src));
  }
  auto model = load_model(src);
  auto be = o.engine.make();
  s.limit = o.limit >= 0 ? std::optional<int64_t>(o.limit) : std::nullopt;
  s.description = o.description;
  s.system = o.system;
  s.role = o.role;
  s.fewshot_as_multiturn = o.multiturn;
  s.fewshot_seed = o.fewshot_seed;
  s.scoring = o.scoring;
  if (!o.dola.empty())
    s.dola_layers =
        gen::dola_candidates(o.dola, int(model->config().n_layers), model->config().tie_embeddings);
  s.batch_tokens = o.batch_tokens;
  s.max_length = o.max_length;
  s.log_samples = o.log_samples;
  if (o.gen_batch < 1) fail("--gen-batch must be at least 1 (got {})", o.gen_batch);
  s.gen_batch = o.gen_batch;
  if (o.max_gen_toks == 0 || o.max_gen_toks < -1)
    fail("--max-gen-toks must be a positive number of tokens (got {})", o.max_gen_toks);
  if (o.max_gen_toks > 0) s.max_gen_toks = o.max_gen_toks;
  s.cot_trigger = o.cot_trigger;
  if (o.self_consistency == 1 || o.self_consistency < 0)
    fail("--self-consistency needs k >= 2 sampled chains (got {})", o.self_consistency);
  s.self_consistency = o.self_consistency;
  if (!(o.temperature > 0)) fail("--temperature must be > 0 (got {})", o.temperature);
  s.temperature = o.temperature;
  s.gen_seed = o.gen_seed;
  s.exec.allowed = o.allow_code;
  if (!(o.code_timeout > 0)) fail("--code-timeout must be > 0 seconds");
  s.exec.timeout_s = o.code_timeout;
  s.exec.threads = o.engine.threads;
  if (!o.quiet)
    fmt::print(stderr, "erank eval: model {} ({}), backend {}, tasks {}, batch {} tokens\n",
               src.name, src.path, o.engine.backend, fmt::join(s.tasks, ","), o.batch_tokens);

  const std::string stamp = iso_stamp();
  struct Setting {
    std::optional<int> shots;
    std::string labels;
    EvalOutput out;
  };
  std::vector<Setting> runs;
  for (auto& k : shots)
    for (auto& l : labels) runs.push_back({k, l, {}});
  for (auto& r : runs) {
    EvalSettings rs = s;
    rs.num_fewshot = r.shots;
    rs.fewshot_labels = r.labels;
    if (!o.output_path.empty() && !o.no_resume) {
      // Documents scored by an interrupted run with the same settings are reused.
      Sha256 h;
      h.update(src.path);
      h.update(fmt::format("|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", fmt::join(rs.tasks, ","),
                           r.shots ? *r.shots : -1, r.labels, o.limit, o.system, o.role,
                           o.description, o.chat, o.scoring, o.max_length));
      h.update(fmt::format("|{}|{}|{}|{}|{}", o.max_gen_toks, o.cot_trigger, o.self_consistency,
                           o.temperature, o.gen_seed));
      if (!o.dola.empty()) h.update("|dola=" + o.dola);
      for (auto& [k, v] : rs.data) h.update("|" + k + "=" + v);
      const fs::path dir = fs::path(o.output_path) / sanitize_model_name(src.name);
      rs.partial_path = (dir / (".partial_" + h.hex_digest().substr(0, 16) + ".jsonl")).string();
    }
    Progress progress("eval", 1, stderr_is_tty(), o.quiet, "documents");
    std::unique_ptr<Progress> bar;
    EvalProgress ep;
    ep.fn = [&](const std::string& stage, int64_t done, int64_t total) {
      if (stage != "scoring" && stage != "generating") return;
      if (!bar)
        bar = std::make_unique<Progress>("eval", total, stderr_is_tty(), o.quiet, "documents");
      bar->update(done, -1);  // documents, not tokens
    };
    r.out = evaluate(reg, *model, *tok, *be, rs, ep);
    if (bar) bar->finish();
    if (!o.output_path.empty()) {
      RunInfo info;
      info.model_name = src.name;
      info.model_source = "erank";
      info.model_args = {{"model", src.name}, {"path", src.path}, {"backend", o.engine.backend}};
      info.settings = {{"batch_tokens", o.batch_tokens},
                       {"limit", rs.limit ? ojson(*rs.limit) : ojson()},
                       {"bootstrap_iters", 100000},
                       {"random_seed", 0},
                       {"numpy_seed", 1234},
                       {"torch_seed", 1234},
                       {"fewshot_seed", o.fewshot_seed},
                       {"scoring", o.scoring},
                       {"fewshot_labels", r.labels},
                       {"gen_batch", o.gen_batch},
                       {"gen_seed", o.gen_seed}};
      if (o.max_gen_toks > 0) info.settings["max_gen_toks"] = o.max_gen_toks;
      if (!o.cot_trigger.empty()) info.settings["cot_trigger"] = o.cot_trigger;
      if (!o.dola.empty()) info.settings["dola_layers"] = s.dola_layers;
      if (!s.contamination_k.empty()) info.settings["contamination_k"] = s.contamination_k;
      if (o.self_consistency > 1) {
        info.settings["self_consistency"] = o.self_consistency;
        info.settings["temperature"] = o.temperature;
      }
      info.system_instruction = o.system;
      info.chat_template = o.chat ? chat.source : "";
      info.fewshot_as_multiturn = o.multiturn;
      info.max_length = o.max_length > 0 ? o.max_length : model->config().max_positions;
      std::string st = stamp;
      if (runs.size() > 1)
        st += fmt::format("_{}shot_{}", r.shots ? std::to_string(*r.shots) : "default", r.labels);
      const std::string path = write_results(o.output_path, r.out, info, st, o.log_samples);
      if (!rs.partial_path.empty()) fs::remove(rs.partial_path);
      if (!o.quiet) fmt::print(stderr, "erank eval: wrote {}\n", path);
    }
    if (!o.quiet)
      fmt::print(stderr, "erank eval: {} requests, {} tokens{} in {:.1f} s\n", r.out.n_requests,
                 r.out.n_tokens,
                 r.out.n_generated ? fmt::format(" (+{} generated)", r.out.n_generated) : "",
                 r.out.seconds);
  }
  for (auto& r : runs) {
    if (runs.size() > 1)
      fmt::print("\n## num_fewshot {}, fewshot labels {}\n\n",
                 r.shots ? std::to_string(*r.shots) : "(task default)", r.labels);
    fmt::print("{}", results_table(r.out));
  }
  if (runs.size() > 1) {  // the ablation side by side: first metric of each task and group
    fmt::print("\n## side by side (acc)\n\n| Tasks |");
    for (auto& r : runs)
      fmt::print(" {}-shot {} |", r.shots ? std::to_string(*r.shots) : "default", r.labels);
    fmt::print("\n|---|");
    for (size_t i = 0; i < runs.size(); ++i) fmt::print("---:|");
    fmt::print("\n");
    auto cell = [](const std::map<std::string, double>& m) {
      auto it = m.find("acc");
      return it == m.end() ? std::string("") : fmt::format("{:.4f}", it->second);
    };
    for (auto& g : runs[0].out.groups) {
      if (!g.has_aggregate) continue;
      fmt::print("| {} |", g.name);
      for (auto& r : runs)
        for (auto& x : r.out.groups)
          if (x.name == g.name) fmt::print(" {} |", cell(x.metrics));
      fmt::print("\n");
    }
    for (size_t i = 0; i < runs[0].out.tasks.size(); ++i) {
      fmt::print("| {} |", runs[0].out.tasks[i].name);
      for (auto& r : runs) fmt::print(" {} |", cell(r.out.tasks[i].metrics));
      fmt::print("\n");
    }
  }
  return 0;
}

RunFn setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  o->engine.add(app);
  app.add_option("--tasks", o->tasks,
                 "tasks, groups or tags, comma-separated (wildcards: 'mmlu_*'); default: 4 MMLU "
                 "subjects 5-shot");
  app.add_option("--num-fewshot", o->num_fewshot,
                 "shots (overrides the task files); a list (0,1,5) sweeps them");
  app.add_option("--limit", o->limit, "score the first N documents of each task");
  app.add_option("--fewshot-labels", o->fewshot_labels,
                 "answers shown in the shots: gold, random or flipped (a list sweeps them)")
      ->capture_default_str();
  app.add_option("--description", o->description, "replaces the tasks' description");
  app.add_option("--system", o->system, "system instruction (lm-eval's --system_instruction)");
  app.add_option("--role", o->role, "a role prompt put before everything else");
  app.add_flag("--apply-chat-template", o->chat, "render prompts with the model's chat template");
  app.add_flag("--fewshot-as-multiturn", o->multiturn,
               "shots as user/assistant turns (with --apply-chat-template)");
  app.add_option("--data", o->data,
                 "TASK=PATH (the scored split), TASK:SPLIT=PATH, or FAMILY=DIR (CMMLU/C-Eval "
                 "official layouts); parquet, Arrow, JSONL or CSV (repeatable)");
  app.add_option("--include-path", o->include_paths, "more task files (folders of YAML)");
  app.add_option("--scoring", o->scoring,
                 "loglikelihood (lm-eval) or opencompass-ppl (lowest mean perplexity of each "
                 "candidate written out)")
      ->capture_default_str();
  app.add_option("--dola", o->dola,
                 "score multiple choice by DoLa's contrast (the DoLa paper's TruthfulQA MC): "
                 "candidate layers 'low', 'high' or a list of hidden-state indices");
  app.add_option("--batch-tokens", o->batch_tokens, "tokens per forward")->capture_default_str();
  app.add_option("--max-length", o->max_length,
                 "context length for left truncation (0: the model's positions)");
  app.add_option("--fewshot-seed", o->fewshot_seed, "seed of the default few-shot sampler")
      ->capture_default_str();
  app.add_option("--output-path,-o", o->output_path,
                 "folder for results_<time>.json (and samples with --log-samples)");
  app.add_flag("--log-samples", o->log_samples, "write samples_<task>_<time>.jsonl");
  app.add_flag("--no-resume", o->no_resume,
               "ignore documents scored by an interrupted run with the same settings");
  app.add_flag("--list-tasks", o->list, "list the tasks and groups found and exit");
  app.add_option("--gen-batch", o->gen_batch, "generate_until: sequences decoded together")
      ->capture_default_str();
  app.add_option("--max-gen-toks", o->max_gen_toks,
                 "generate_until: at most this many new tokens per answer (caps the tasks')");
  app.add_option("--cot-trigger", o->cot_trigger,
                 "appended after the answer cue, e.g. \"Let's think step by step.\"");
  app.add_option("--self-consistency", o->self_consistency,
                 "K sampled chains per question; adds a majority-vote filter (maj@K) per filter");
  app.add_option("--temperature", o->temperature, "of the --self-consistency chains")
      ->capture_default_str();
  app.add_option("--gen-seed", o->gen_seed, "seed of sampled generations")->capture_default_str();
  app.add_flag("--allow-code-execution", o->allow_code,
               "run model-written code (HumanEval) in erank's sandbox");
  app.add_option("--code-timeout", o->code_timeout, "seconds per program in the sandbox")
      ->capture_default_str();
  app.add_flag("--contamination", o->contamination,
               "add Min-K% Prob and Min-K%++ membership scores of each document's zero-shot "
               "question + gold answer (per item in the samples, distributions in the results)");
  app.add_option("--contamination-k", o->contamination_k,
                 "fraction(s) of lowest-scoring tokens averaged, e.g. 0.1,0.2 (default 0.2)");
  app.add_flag("--quiet,-q", o->quiet, "no progress or timing on stderr");
  return [o] { return run(*o); };
}

ERANK_COMMAND("eval", "multiple-choice benchmarks with lm-evaluation-harness's prompts and scores",
              setup);

}  // namespace
}  // namespace erank::cli
