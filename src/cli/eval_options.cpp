#include "cli/eval_options.h"

#include <fmt/core.h>

#include "core/error.h"
#include "data/dataset.h"
#include "io/atomic_file.h"

namespace erank::cli {

std::shared_ptr<EvalOptions> add_eval_options(CLI::App& app, bool twin, bool layers) {
  auto o = std::make_shared<EvalOptions>();
  RunSettings& r = o->run;
  r.model = kDefaultModel;
  app.add_option("-m,--model", r.model, "GGUF file, HF folder, cached HF id or short name")
      ->capture_default_str();
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
  if (layers)
    app.add_option("--layers", r.layers, "last | all | comma-separated HF hidden_states indices")
        ->capture_default_str();
  if (twin) {
    app.add_option("--twins", r.twins, "number of untrained twins (seeds seed .. seed+K-1)")
        ->capture_default_str();
    app.add_option("--seed", r.seed, "seed of the first untrained twin")->capture_default_str();
    app.add_option("--twin-mode", r.twin_mode,
                   "eval (default) or train (the original's dropout-active twin)")
        ->capture_default_str();
    app.add_flag("!--no-loss", r.with_loss, "skip the loss (no LM head pass)");
  }
  app.add_option("--out", o->out, "results JSON (written atomically)");
  app.add_option("--per-text", r.per_text, "per-text JSONL, appended as texts finish");
  app.add_flag("--resume", r.resume, "continue the run recorded in --per-text");
  app.add_flag("-q,--quiet", r.quiet, "no progress output");
  return o;
}

int run_eval_command(EvalOptions& o) {
  RunSettings& r = o.run;
  if (!o.dataset.empty()) {
    r.data = preset_spec(o.dataset, o.data);
  } else if (!o.data.empty()) {
    r.data =
        file_spec(o.data, o.field,
                  o.format.empty() ? std::nullopt : std::optional<Format>(parse_format(o.format)));
  } else {
    // The embedded default: a Python-exact sample of BoolQ's Wikipedia passages.
    r.data = preset_spec(kDefaultDataset);
    if (o.sample < 0 && o.limit < 0) o.sample = 100;
  }
  if (o.sample >= 0) {
    r.data.sample = o.sample;
    r.data.seed = o.sample_seed;
  }
  if (o.limit >= 0) r.data.limit = o.limit;
  if (!o.out.empty() && r.per_text == o.out) fail("--out and --per-text must be different files");
  if (!r.quiet)
    fmt::print(stderr, "erank {}: model {}, data {}{}, layers {}, max tokens {}, backend {}\n",
               r.command, r.model, r.data.name,
               r.data.sample >= 0 ? fmt::format(" (sample {})", r.data.sample) : "", r.layers,
               r.max_tokens, r.backend);
  const nlohmann::json res = run_evaluation(r);
  fmt::print("{}", format_results(res));
  if (!o.out.empty()) write_file_atomic(o.out, res.dump(2) + "\n");
  return 0;
}

}  // namespace erank::cli
