#include "eval/sweep.h"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "metrics/correlation.h"
#include "tasks/results_writer.h"

#ifndef ERANK_VERSION
#define ERANK_VERSION "0.1.0"
#endif

namespace erank {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct TextSet {
  std::string name, kind;  // kind: dataset | task
  Dataset texts;
};

json num_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json at_or_null(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return nullptr;
    p = &(*p)[k];
  }
  return *p;
}

// One model's row: the last layer's numbers, the loss, the layer ablation, the accuracy.
json model_row(const std::string& name, const json& res, const json& accuracy,
               const std::string& results_file) {
  const int n_layers = res["model"]["n_layers"].get<int>();
  json row = {{"name", name},
              {"path", res["model"]["path"]},
              {"status", "ok"},
              {"architecture", res["model"]["architecture"]},
              {"n_params", res["model"]["n_params"]},
              {"n_layers", n_layers},
              {"hidden_size", res["model"]["hidden_size"]}};
  json last = nullptr;
  json per_layer = json::array();
  json ablation = json::object();
  for (const auto& L : res["per_layer"]) {
    const int layer = L["layer"].get<int>();
    json e = {{"layer", layer},
              {"position", ""},
              {"relative_depth", n_layers > 0 ? double(layer) / n_layers : 0.0},
              {"erank_trained_a", at_or_null(L, {"trained", "erank_a"})},
              {"erank_untrained_a", at_or_null(L, {"erank_a_untrained"})},
              {"diff_a", at_or_null(L, {"diff_a"})},
              {"diff_b", at_or_null(L, {"diff_b"})}};
    for (const char* pos : {"first", "middle", "last"})
      if (named_layer(pos, n_layers) == layer) {
        if (e["position"] == "") e["position"] = pos;
        ablation[pos] = e;
        ablation[pos].erase("position");
      }
    if (layer == n_layers) last = L;
    per_layer.push_back(std::move(e));
  }
  row["diff_a"] = at_or_null(last, {"diff_a"});
  row["diff_a_stderr"] = at_or_null(last, {"diff_a_stderr"});
  row["diff_b"] = at_or_null(last, {"diff_b"});
  row["diff_b_stderr"] = at_or_null(last, {"diff_b_stderr"});
  row["erank_trained_a"] = at_or_null(last, {"trained", "erank_a"});
  row["erank_untrained_a"] = at_or_null(last, {"erank_a_untrained"});
  row["loss_trained"] = at_or_null(res, {"loss", "trained", "per_token"});
  row["loss_untrained"] = at_or_null(res, {"loss", "untrained", "per_token"});
  row["reduced_loss_per_token"] = at_or_null(res, {"loss", "reduced_per_token"});
  row["reduced_loss_per_text"] = at_or_null(res, {"loss", "reduced_per_text"});
  row["accuracy"] = at_or_null(accuracy, {"value"});
  row["accuracy_stderr"] = at_or_null(accuracy, {"stderr"});
  row["accuracy_metric"] = at_or_null(accuracy, {"metric"});
  row["per_layer"] = std::move(per_layer);
  row["ablation"] = std::move(ablation);
  row["results_file"] = results_file;
  return row;
}

json read_json_or_null(const fs::path& p) {
  std::ifstream f(p);
  if (!f) return nullptr;
  try {
    return json::parse(f);
  } catch (const json::exception&) {
    return nullptr;  // a torn file from a killed sweep: recomputed
  }
}

// The accuracy of one model on one task, cached beside its results so --resume reuses it.
json accuracy_for(const SweepSettings& s, const std::string& model, const std::string& task,
                  const fs::path& file) {
  const json key = {{"model", model},
                    {"task", task},
                    {"limit", s.task_inputs.limit ? json(*s.task_inputs.limit) : json(nullptr)},
                    {"num_fewshot", s.num_fewshot ? json(*s.num_fewshot) : json(nullptr)}};
  if (s.run.resume) {
    const json cached = read_json_or_null(file);
    if (cached.is_object() && cached.value("settings", json()) == key) return cached["accuracy"];
  }
  const json acc = task_accuracy(*s.registry, model, task, s.task_inputs, s.num_fewshot,
                                 s.run.backend, s.run.threads);
  write_file_atomic(file.string(), json{{"settings", key}, {"accuracy", acc}}.dump(2) + "\n");
  return acc;
}

// A model's name in the table: the last part of a path, at most 28 characters.
std::string short_name(const json& name) {
  std::string n = fs::path(name.get<std::string>()).filename().string();
  if (n.empty()) n = name.get<std::string>();
  return n.size() > 28 ? "..." + n.substr(n.size() - 25) : n;
}

std::vector<TextSet> text_sets(const SweepSettings& s) {
  std::vector<TextSet> sets;
  if (s.tasks.empty()) {
    Dataset d = load_dataset(s.run.data);
    if (d.texts.empty()) fail("{}: no non-empty texts", d.name);
    sets.push_back({d.name, "dataset", std::move(d)});
    return sets;
  }
  if (!s.registry) fail("sweep: tasks without a task registry");
  for (const auto& t : s.tasks)
    sets.push_back({t, "task", task_texts(*s.registry, t, s.task_inputs)});
  return sets;
}

}  // namespace

json sweep_correlations(const json& models) {
  static const char* keys[] = {
      "n_params", "diff_a", "diff_b", "reduced_loss_per_token", "reduced_loss_per_text",
      "accuracy"};
  json out = json::array();
  std::vector<const json*> ok;
  for (const auto& m : models)
    if (m.value("status", "") == "ok") ok.push_back(&m);
  for (size_t a = 0; a < std::size(keys); ++a)
    for (size_t b = a + 1; b < std::size(keys); ++b) {
      std::vector<double> x, y;
      bool all = true;
      for (const json* m : ok) {
        const json &u = (*m)[keys[a]], &v = (*m)[keys[b]];
        if (!u.is_number() || !v.is_number()) {
          all = false;
          break;
        }
        x.push_back(u.get<double>());
        y.push_back(v.get<double>());
      }
      if (!all || ok.empty()) continue;
      const bool enough = x.size() >= 3;  // two points are always perfectly correlated
      out.push_back(
          {{"x", keys[a]},
           {"y", keys[b]},
           {"n", x.size()},
           {"pearson", enough ? num_or_null(stats::pearson(x, y)) : json(nullptr)},
           {"spearman", enough ? num_or_null(stats::spearman(x, y)) : json(nullptr)},
           {"kendall", enough ? num_or_null(stats::kendall_tau_b(x, y)) : json(nullptr)}});
    }
  return out;
}

json run_sweep(const SweepSettings& s) {
  const auto t0 = std::chrono::steady_clock::now();
  if (s.models.empty()) fail("--models: no model given");
  if (s.with_accuracy && s.tasks.empty())
    fail("--with-accuracy needs --tasks (a dataset has no accuracy)");
  if (s.work_dir.empty()) fail("sweep: no work folder");
  std::vector<TextSet> sets = text_sets(s);
  fs::create_directories(s.work_dir);
  // The last layer always: Diff-eRank at the last layer is every row's headline number.
  const std::string layers = s.run.layers == "all" ? "all" : s.run.layers + ",last";

  json out_sets = json::array();
  for (TextSet& set : sets) {
    const fs::path dir = fs::path(s.work_dir) / sanitize_model_name(set.name);
    fs::create_directories(dir);
    json rows = json::array();
    for (size_t i = 0; i < s.models.size(); ++i) {
      const std::string& model = s.models[i];
      // The index keeps two models with the same file name apart.
      const std::string stem = fmt::format("{:02d}-{}", i, sanitize_model_name(short_name(model)));
      const fs::path results_file = dir / (stem + ".json");
      const fs::path per_text = dir / (stem + ".per_text.jsonl");
      if (fs::exists(per_text) && !s.run.resume)
        fail(
            "{}: a sweep was started in this folder; pass --resume to continue it, or remove "
            "the folder",
            s.work_dir);
      if (!s.run.quiet)
        fmt::print(stderr, "sweep: {} on {} ({} texts)\n", model, set.name, set.texts.texts.size());
      try {
        RunSettings r = s.run;
        r.model = model;
        r.layers = layers;
        r.texts = set.texts;
        r.data.name = set.name;
        r.per_text = per_text.string();
        json res = run_evaluation(r);
        json acc = nullptr;
        if (s.with_accuracy)
          acc = accuracy_for(s, model, set.name, dir / (stem + ".accuracy.json"));
        if (set.kind == "task") {
          res["task"] = {{"name", set.name},
                         {"text", "question + target_delimiter + correct answer"}};
          if (!acc.is_null()) res["task"]["accuracy"] = acc;
        }
        write_file_atomic(results_file.string(), res.dump(2) + "\n");
        rows.push_back(model_row(model, res, acc, results_file.string()));
      } catch (const std::exception& e) {
        // One model's failure (a missing or corrupt file, a run that throws) is its row's error.
        fmt::print(stderr, "sweep: {} failed on {}: {}\n", model, set.name, e.what());
        rows.push_back(
            {{"name", model}, {"path", model}, {"status", "failed"}, {"error", e.what()}});
      }
    }
    json corr = sweep_correlations(rows);
    out_sets.push_back({{"name", set.name},
                        {"kind", set.kind},
                        {"n_texts", set.texts.texts.size()},
                        {"sha256", set.texts.sha256},
                        {"models", std::move(rows)},
                        {"correlations", std::move(corr)}});
  }
  json settings = {{"models", s.models},
                   {"layers", s.run.layers},
                   {"max_tokens", s.run.max_tokens},
                   {"twins", s.run.twins},
                   {"seed", s.run.seed},
                   {"twin_mode", s.run.twin_mode},
                   {"with_accuracy", s.with_accuracy},
                   {"num_fewshot", s.num_fewshot ? json(*s.num_fewshot) : json(nullptr)},
                   {"limit", s.task_inputs.limit ? json(*s.task_inputs.limit) : json(nullptr)},
                   {"work_dir", s.work_dir}};
  return {
      {"schema_version", kSweepSchemaVersion},
      {"kind", "sweep"},
      {"erank_version", ERANK_VERSION},
      {"settings", std::move(settings)},
      {"sets", std::move(out_sets)},
      {"timings",
       {{"run_s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}}}};
}

std::string format_sweep(const json& sw) {
  auto f = [](const json& v, int prec = 2) {
    return v.is_number() ? fmt::format("{:.{}f}", v.get<double>(), prec) : std::string("-");
  };
  auto params = [](const json& v) {
    if (!v.is_number()) return std::string("-");
    const double p = v.get<double>();
    return p >= 1e9 ? fmt::format("{:.2f}B", p / 1e9) : fmt::format("{:.1f}M", p / 1e6);
  };
  std::string o;
  for (const auto& set : sw["sets"]) {
    o += fmt::format("\n{} ({}, {} texts)\n", set["name"].get<std::string>(),
                     set["kind"].get<std::string>(), set["n_texts"].get<int64_t>());
    o += fmt::format("{:<28} {:>8} {:>10} {:>10} {:>9} {:>8}\n", "model", "params", "diff (a)",
                     "diff (b)", "dL/token", "acc");
    for (const auto& m : set["models"]) {
      std::string name = short_name(m["name"]);
      if (m["status"] != "ok") {
        o += fmt::format("{:<28} failed: {}\n", name, m["error"].get<std::string>());
        continue;
      }
      o += fmt::format("{:<28} {:>8} {:>10} {:>10} {:>9} {:>8}\n", name, params(m["n_params"]),
                       f(m["diff_a"]), f(m["diff_b"]), f(m["reduced_loss_per_token"], 4),
                       f(m["accuracy"], 4));
    }
    o += fmt::format("\nlayer ablation, Diff-eRank (a)\n{:<28} {:>9} {:>9} {:>9}\n", "model",
                     "first", "middle", "last");
    for (const auto& m : set["models"]) {
      if (m["status"] != "ok") continue;
      const std::string name = short_name(m["name"]);
      auto at = [&](const char* pos) { return f(at_or_null(m, {"ablation", pos, "diff_a"})); };
      o += fmt::format("{:<28} {:>9} {:>9} {:>9}\n", name, at("first"), at("middle"), at("last"));
    }
    if (!set["correlations"].empty()) {
      o += fmt::format("\n{:<24} {:<24} {:>3} {:>8} {:>8} {:>8}\n", "correlation x", "y", "n",
                       "pearson", "spearman", "kendall");
      for (const auto& c : set["correlations"])
        o += fmt::format("{:<24} {:<24} {:>3} {:>8} {:>8} {:>8}\n", c["x"].get<std::string>(),
                         c["y"].get<std::string>(), c["n"].get<int64_t>(), f(c["pearson"], 3),
                         f(c["spearman"], 3), f(c["kendall"], 3));
    }
  }
  o += fmt::format("\n{:.1f} s\n", sw["timings"]["run_s"].get<double>());
  return o;
}

}  // namespace erank
