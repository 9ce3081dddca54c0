#include "report/inputs.h"

#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"

namespace erank::report {
namespace {

using json = nlohmann::json;

const char* const kKnown =
    "erank report reads the --out JSON of erank diff, rank, loss, sweep, lens, probe and arena "
    "rate, and the results_*.json of erank eval";

// Checks that j[key] exists with the wanted type; `where` says where in the file (for the error).
const json& need(const json& j, const char* key, json::value_t type, const std::string& path,
                 const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end()) fail("{}: {} has no '{}'", path, where, key);
  const bool ok = type == json::value_t::number_float     ? it->is_number()
                  : type == json::value_t::number_integer ? it->is_number_integer()
                                                          : it->type() == type;
  if (!ok)
    fail("{}: {}.{} is {}, expected {}", path, where, key, it->type_name(), json(type).type_name());
  return *it;
}
const json& need_array(const json& j, const char* key, const std::string& path,
                       const std::string& where, bool nonempty = true) {
  const json& a = need(j, key, json::value_t::array, path, where);
  if (nonempty && a.empty()) fail("{}: {}.{} is empty", path, where, key);
  return a;
}
void need_objects(const json& a, const std::string& path, const std::string& where) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!a[i].is_object())
      fail("{}: {}[{}] is {}, expected object", path, where, i, a[i].type_name());
}

void check_version(const json& d, int want, const std::string& path, const char* what) {
  const auto it = d.find("schema_version");
  if (it == d.end() || !it->is_number_integer())
    fail("{}: no integer schema_version (results of {} carry one)", path, what);
  const int v = it->get<int>();
  if (v != want)
    fail(
        "{}: schema_version {} of {} results is not one this erank reads (it reads version {}); "
        "rerun the command with this erank or use the erank that wrote it",
        path, v, what, want);
}

constexpr auto kNum = json::value_t::number_float;
constexpr auto kInt = json::value_t::number_integer;
constexpr auto kStr = json::value_t::string;
constexpr auto kObj = json::value_t::object;

void check_results(const json& d, const std::string& p) {
  check_version(d, kResultsSchema, p, "erank diff/rank/loss");
  const json& m = need(d, "model", kObj, p, "the document");
  need(m, "name", kStr, p, "model");
  need(m, "n_params", kNum, p, "model");
  need(d, "dataset", kObj, p, "the document");
  const json& pl = need_array(d, "per_layer", p, "the document");
  need_objects(pl, p, "per_layer");
  for (size_t i = 0; i < pl.size(); ++i) {
    const std::string w = "per_layer[" + std::to_string(i) + "]";
    need(pl[i], "layer", kInt, p, w);
    need(pl[i], "trained", kObj, p, w);
  }
}

void check_sweep(const json& d, const std::string& p) {
  check_version(d, kSweepSchema, p, "erank sweep");
  const json& sets = need_array(d, "sets", p, "the document", false);
  need_objects(sets, p, "sets");
  for (size_t s = 0; s < sets.size(); ++s) {
    const std::string ws = "sets[" + std::to_string(s) + "]";
    need(sets[s], "name", kStr, p, ws);
    const json& models = need_array(sets[s], "models", p, ws, false);
    need_objects(models, p, ws + ".models");
    for (size_t m = 0; m < models.size(); ++m) {
      const std::string wm = ws + ".models[" + std::to_string(m) + "]";
      need(models[m], "name", kStr, p, wm);
      const std::string st = need(models[m], "status", kStr, p, wm).get<std::string>();
      if (st == "failed") continue;
      if (st != "ok") fail("{}: {}.status is '{}', expected 'ok' or 'failed'", p, wm, st);
      need(models[m], "n_params", kNum, p, wm);
      if (models[m].contains("per_layer")) {
        const json& pl = need_array(models[m], "per_layer", p, wm, false);
        need_objects(pl, p, wm + ".per_layer");
        for (size_t i = 0; i < pl.size(); ++i)
          need(pl[i], "layer", kInt, p, wm + ".per_layer[" + std::to_string(i) + "]");
      }
    }
    if (sets[s].contains("correlations"))
      need_objects(need_array(sets[s], "correlations", p, ws, false), p, ws + ".correlations");
  }
}

void check_lens(const json& d, const std::string& p) {
  need_objects(need_array(d, "summary", p, "the document"), p, "summary");
  const json& texts = need_array(d, "texts", p, "the document");
  need_objects(texts, p, "texts");
  for (size_t t = 0; t < texts.size(); ++t) {
    const std::string w = "texts[" + std::to_string(t) + "]";
    const json& tokens = need_array(texts[t], "tokens", p, w);
    const json& layers = need_array(texts[t], "layers", p, w);
    need_objects(layers, p, w + ".layers");
    for (size_t l = 0; l < layers.size(); ++l) {
      const std::string wl = w + ".layers[" + std::to_string(l) + "]";
      need(layers[l], "layer", kInt, p, wl);
      if (need_array(layers[l], "jsd", p, wl).size() != tokens.size())
        fail("{}: {}.jsd has {} values for {} tokens", p, wl, layers[l]["jsd"].size(),
             tokens.size());
    }
  }
}

void check_probe(const json& d, const std::string& p) {
  check_version(d, kProbeSchema, p, "erank probe");
  need_array(d, "targets", p, "the document");
  const json& layers = need_array(d, "layers", p, "the document");
  need_objects(layers, p, "layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string w = "layers[" + std::to_string(i) + "]";
    need(layers[i], "layer", kInt, p, w);
    need(layers[i], "r2", kObj, p, w);
  }
}

void check_arena(const json& d, const std::string& p) {
  const json& models = need_array(d, "models", p, "the document");
  need_objects(models, p, "models");
  for (size_t i = 0; i < models.size(); ++i) {
    const std::string w = "models[" + std::to_string(i) + "]";
    need(models[i], "model", kStr, p, w);
    need(models[i], "bt", kNum, p, w);
    if (need(models[i], "bt_ci", json::value_t::array, p, w).size() != 2)
      fail("{}: {}.bt_ci is not [low, high]", p, w);
  }
}

void check_eval(const json& d, const std::string& p) {
  const json& r = need(d, "results", kObj, p, "the document");
  for (const auto& [name, v] : r.items())
    if (!v.is_object()) fail("{}: results.{} is {}, expected object", p, name, v.type_name());
}

Kind detect(const json& d, const std::string& p) {
  if (!d.is_object()) fail("{}: a JSON {}, not a results object; {}", p, d.type_name(), kKnown);
  if (d.contains("kind")) {
    const json& k = d["kind"];
    if (k.is_string() && k.get<std::string>() == "sweep") return Kind::sweep;
    fail("{}: unknown kind {}; {}", p, k.dump(), kKnown);
  }
  if (d.contains("command")) {
    const std::string c = d["command"].is_string() ? d["command"].get<std::string>() : "";
    if (c == "diff" || c == "rank" || c == "loss") return Kind::results;
    if (c == "probe") return Kind::probe;
    fail("{}: results of command {} are not a kind erank report knows; {}", p, d["command"].dump(),
         kKnown);
  }
  if (d.contains("texts") && d.contains("summary") && d.contains("final_norm")) return Kind::lens;
  if (d.contains("models") && d.contains("bootstrap_rounds")) return Kind::arena;
  if (d.contains("results") && (d.contains("configs") || d.contains("n-shot"))) return Kind::eval;
  fail("{}: unknown kind of results (none of the keys erank's writers use); {}", p, kKnown);
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::results:
      return "results";
    case Kind::sweep:
      return "sweep";
    case Kind::lens:
      return "lens";
    case Kind::probe:
      return "probe";
    case Kind::arena:
      return "arena";
    case Kind::eval:
      return "eval";
  }
  return "?";
}

Input parse_input(const std::string& path, const std::string& text) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    fail("{}: the file is empty, not JSON", path);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    const size_t cut = what.find("] ");
    if (cut != std::string::npos) what = what.substr(cut + 2);
    const bool at_end = e.byte >= text.size();
    fail("{}: not valid JSON{}: {}", path, at_end ? " (truncated?)" : "", what);
  }
  Input in{path, detect(doc, path), std::move(doc)};
  switch (in.kind) {
    case Kind::results:
      check_results(in.doc, path);
      break;
    case Kind::sweep:
      check_sweep(in.doc, path);
      break;
    case Kind::lens:
      check_lens(in.doc, path);
      break;
    case Kind::probe:
      check_probe(in.doc, path);
      break;
    case Kind::arena:
      check_arena(in.doc, path);
      break;
    case Kind::eval:
      check_eval(in.doc, path);
      break;
  }
  return in;
}

Input load_input(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open for reading", path);
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail("{}: read error", path);
  return parse_input(path, ss.str());
}

std::vector<Input> load_inputs(const std::vector<std::string>& paths) {
  if (paths.empty()) fail("report: no results files given (erank report RESULTS.json... --out F)");
  std::set<std::string> seen;
  std::vector<Input> out;
  for (const auto& p : paths) {
    if (!seen.insert(p).second) fail("{}: given twice", p);
    out.push_back(load_input(p));
  }
  return out;
}

std::optional<double> opt_num(const json& j) {
  if (j.is_number()) return j.get<double>();
  return std::nullopt;
}

std::optional<double> opt_num(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find(key);
  return it == j.end() ? std::nullopt : opt_num(*it);
}

std::string opt_str(const json& j, const char* key, const std::string& dflt) {
  if (!j.is_object()) return dflt;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  return text_of(*it);
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "n/a";
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace erank::report
