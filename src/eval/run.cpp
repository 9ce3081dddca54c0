#include "eval/run.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "eval/progress.h"
#include "io/gguf.h"
#include "models/memory_estimate.h"
#include "tokenizer/tokenizer.h"

#ifndef ERANK_VERSION
#define ERANK_VERSION "0.1.0"
#endif

namespace erank {

namespace {

using clk = std::chrono::steady_clock;
double secs(clk::time_point a) {
  return std::chrono::duration<double>(clk::now() - a).count();
}

}  // namespace

std::vector<int> parse_layers(const std::string& spec, int n_layers) {
  std::set<int> out;
  if (spec == "all") {
    for (int i = 0; i <= n_layers; ++i) out.insert(i);
    return {out.begin(), out.end()};
  }
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t end = std::min(spec.find(',', pos), spec.size());
    const std::string tok = spec.substr(pos, end - pos);
    pos = end + 1;
    if (const int named = named_layer(tok, n_layers); named >= 0) {
      out.insert(named);
      continue;
    }
    char* e = nullptr;
    long v = std::strtol(tok.c_str(), &e, 10);
    if (tok.empty() || *e)
      fail("--layers: '{}' is not all or a list of first, middle, last and layer indices", spec);
    if (v < 0) v += n_layers + 1;
    if (v < 0 || v > n_layers) fail("--layers: {} is outside 0..{}", tok, n_layers);
    out.insert(static_cast<int>(v));
  }
  return {out.begin(), out.end()};
}

int named_layer(const std::string& name, int n_layers) {
  if (name == "first") return std::min(1, n_layers);
  if (name == "middle") return n_layers / 2;
  if (name == "last") return n_layers;
  return -1;
}

namespace {

std::unique_ptr<Tokenizer> tokenizer_for(const ModelSource& src) {
  if (src.kind == ModelSource::Kind::gguf) return Tokenizer::from_gguf(GGUFFile(src.path));
  return Tokenizer::from_hf_folder(src.path);
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / double(v.size());
}
double sd_of(const std::vector<double>& v) {
  if (v.size() < 2) return NAN;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

// One model pass: the trained model (seed unused) or one twin.
struct Pass {
  std::string model;  // "trained" | "twin"
  uint64_t seed = 0;
};

// The per-text file: a header line with the settings that must match on --resume, then one line
// per (text, model) as each batch finishes. A torn last line (killed mid-write) is dropped and cut
// off. Returns done[pass][text].
std::vector<std::map<int64_t, ModelOnText>> read_per_text(const std::string& path,
                                                          const nlohmann::json& header,
                                                          const std::vector<Pass>& passes) {
  std::vector<std::map<int64_t, ModelOnText>> done(passes.size());
  std::ifstream f(path);
  if (!f) return done;
  std::string line;
  int64_t lineno = 0, good_bytes = 0, pos = 0;
  while (std::getline(f, line)) {
    ++lineno;
    const bool complete = !f.eof();
    pos += static_cast<int64_t>(line.size()) + (complete ? 1 : 0);
    if (!complete) break;  // torn last line
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail("{}:{}: not valid JSON (the per-text file is corrupt)", path, lineno);
    }
    if (lineno == 1) {
      if (!j.contains("erank_per_text") || j["erank_per_text"] != 2 ||
          j["settings"] != header["settings"])
        fail(
            "{}: made with different settings (model, data, layers, twins, tokens) or by another "
            "erank version; use another --per-text file or remove it",
            path);
    } else {
      try {
        const std::string model = j.at("model").get<std::string>();
        const uint64_t seed = j.value("seed", uint64_t(0));
        size_t p = 0;
        while (p < passes.size() && !(passes[p].model == model && passes[p].seed == seed)) ++p;
        if (p == passes.size()) fail("{}:{}: record of an unknown model", path, lineno);
        done[p][j.at("index").get<int64_t>()] = model_from_json(j, j.at("n_tokens").get<int64_t>());
      } catch (const nlohmann::json::exception& e) {
        fail("{}:{}: malformed record: {}", path, lineno, e.what());
      }
    }
    good_bytes = pos;
  }
  f.close();
  if (std::filesystem::file_size(path) != static_cast<uintmax_t>(good_bytes))
    std::filesystem::resize_file(path, static_cast<uintmax_t>(good_bytes));
  return done;
}

// Batches of text indices: longest first (the memory peak comes early, and similar lengths
// share a batch), each at most `budget` tokens (a longer text runs alone).
std::vector<std::vector<int64_t>> make_batches(std::vector<int64_t> todo,
                                               const std::vector<std::vector<int32_t>>& ids,
                                               int64_t budget) {
  std::stable_sort(todo.begin(), todo.end(), [&](int64_t a, int64_t b) {
    return ids[size_t(a)].size() > ids[size_t(b)].size();
  });
  std::vector<std::vector<int64_t>> out;
  int64_t used = 0;
  for (int64_t i : todo) {
    const int64_t n = static_cast<int64_t>(ids[size_t(i)].size());
    if (out.empty() || used + n > budget) {
      out.emplace_back();
      used = 0;
    }
    out.back().push_back(i);
    used += n;
  }
  return out;
}

nlohmann::json summarize(const RunSettings& s, const std::vector<int>& layers,
                         const std::vector<uint64_t>& seeds, const std::vector<TextRecord>& recs) {
  nlohmann::json per_layer = nlohmann::json::array();
  for (size_t k = 0; k < layers.size(); ++k) {
    std::vector<ERank> m1;
    for (auto& r : recs) m1.push_back(r.trained.erank[k]);
    nlohmann::json L = {{"layer", layers[k]}};
    // Trained model alone (also what `rank` reports).
    {
      std::vector<ERank> same = m1;
      const DiffSummary d = summarize_diff(same, m1);
      L["trained"] = {{"erank_a", d.erank_a1},       {"mean_entropy", d.mean_entropy1},
                      {"mean_erank", d.mean_erank1}, {"stderr_erank", d.stderr_erank1},
                      {"n_texts", d.n_texts},        {"n_skipped", d.n_skipped}};
    }
    if (!seeds.empty()) {
      nlohmann::json tw = nlohmann::json::array();
      std::vector<double> da, db, e0;
      for (size_t t = 0; t < seeds.size(); ++t) {
        std::vector<ERank> m0;
        for (auto& r : recs) m0.push_back(r.twins[t].erank[k]);
        const DiffSummary d = summarize_diff(m0, m1);
        tw.push_back({{"seed", seeds[t]},
                      {"diff_a", d.diff_a},
                      {"diff_a_stderr", d.diff_a_stderr},
                      {"diff_b", d.diff_b},
                      {"diff_b_stderr", d.diff_b_stderr},
                      {"erank_a_untrained", d.erank_a0},
                      {"erank_a_trained", d.erank_a1},
                      {"mean_erank_untrained", d.mean_erank0},
                      {"mean_erank_trained", d.mean_erank1},
                      {"n_texts", d.n_texts},
                      {"n_skipped", d.n_skipped}});
        da.push_back(d.diff_a);
        db.push_back(d.diff_b);
        e0.push_back(d.erank_a0);
      }
      L["twins"] = tw;
      L["diff_a"] = tw[0]["diff_a"];
      L["diff_a_stderr"] = tw[0]["diff_a_stderr"];
      L["diff_b"] = tw[0]["diff_b"];
      L["diff_b_stderr"] = tw[0]["diff_b_stderr"];
      L["erank_a_untrained"] = tw[0]["erank_a_untrained"];
      L["mean_erank_untrained"] = tw[0]["mean_erank_untrained"];
      L["over_twins"] = {{"k", seeds.size()},
                         {"diff_a_mean", mean_of(da)},
                         {"diff_a_sd", sd_of(da)},
                         {"diff_b_mean", mean_of(db)},
                         {"diff_b_sd", sd_of(db)},
                         {"erank_a_untrained_mean", mean_of(e0)},
                         {"erank_a_untrained_sd", sd_of(e0)}};
    }
    per_layer.push_back(L);
  }
  nlohmann::json out = {{"per_layer", per_layer}};
  if (s.with_loss) {
    std::vector<TextLoss> l1;
    for (auto& r : recs) l1.push_back(r.trained.loss);
    const LossSummary t = summarize_loss(l1);
    out["loss"] = {{"trained",
                    {{"per_token", t.per_token},
                     {"per_text", t.per_text},
                     {"perplexity", std::exp(t.per_token)},
                     {"n_tokens", t.n_tokens},
                     {"n_texts", t.n_texts},
                     {"n_skipped", t.n_skipped}}}};
    if (!seeds.empty()) {
      std::vector<TextLoss> l0;
      for (auto& r : recs) l0.push_back(r.twins[0].loss);
      const DeltaLoss d = delta_loss(l0, l1);
      out["loss"]["untrained"] = {{"per_token", d.m0.per_token}, {"per_text", d.m0.per_text}};
      out["loss"]["reduced_per_token"] = d.delta_per_token;
      out["loss"]["reduced_per_text"] = d.delta_per_text;
    }
  }
  return out;
}

}  // namespace

nlohmann::json run_evaluation(const RunSettings& s) {
  const auto t0 = clk::now();
  if (s.twin_mode != "eval" && s.twin_mode != "train")
    fail("--twin-mode must be eval or train, not '{}'", s.twin_mode);
  if (s.twin_dtype != "f32" && s.twin_dtype != "bf16")
    fail("--twin-dtype must be f32 or bf16, not '{}'", s.twin_dtype);
  if (s.twins < 0 || s.twins > 64) fail("--twins must be between 0 and 64");
  if (s.max_tokens < 2) fail("--max-tokens must be at least 2");
  if (s.batch_tokens < 1) fail("--batch-tokens must be at least 1");
  const ModelSource src = resolve_model_source(s.model);
  Dataset data = s.texts ? *s.texts : load_dataset(s.data);
  if (data.texts.empty()) fail("{}: no non-empty texts", data.name);
  auto tok = tokenizer_for(src);
  const Architecture* arch = nullptr;
  const ModelConfig cfg = load_config(src, &arch);
  const std::vector<int> layers = parse_layers(s.layers, static_cast<int>(cfg.n_layers));
  std::vector<uint64_t> seeds;
  std::vector<Pass> passes = {{"trained", 0}};
  for (int k = 0; k < s.twins; ++k) {
    seeds.push_back(s.seed + static_cast<uint64_t>(k));
    passes.push_back({"twin", seeds.back()});
  }

  // Tokenise once; only the ids stay in memory, the texts are released.
  const size_t n_texts = data.texts.size();
  std::vector<std::vector<int32_t>> ids(n_texts);
  std::vector<std::string> text_ids(n_texts);
  std::vector<char> truncated(n_texts, 0);
  int64_t tokens = 0, n_truncated = 0;
  for (size_t i = 0; i < n_texts; ++i) {
    ids[i] = tok->encode(data.texts[i].text, s.add_special_tokens);
    if (static_cast<int64_t>(ids[i].size()) > s.max_tokens) {
      ids[i].resize(static_cast<size_t>(s.max_tokens));
      truncated[i] = 1;
      ++n_truncated;
    }
    text_ids[i] = data.texts[i].id;
    tokens += static_cast<int64_t>(ids[i].size());
  }
  data.texts.clear();
  data.texts.shrink_to_fit();

  {  // Refuse a run that will not fit, before any model is loaded (models/memory_estimate.h).
    int64_t longest = 0;
    for (const auto& v : ids) longest = std::max<int64_t>(longest, int64_t(v.size()));
    const MemoryPlan plan{.batch_tokens = std::min(std::max(s.batch_tokens, longest), tokens),
                          .logits = s.with_loss,
                          .twins = s.twins,
                          .twin_bf16 = s.twin_dtype == "bf16",
                          .threads = s.threads};
    const MemoryEstimate est = estimate_memory(src, cfg, *arch, plan);
    check_memory(est, "erank " + s.command,
                 longest > s.batch_tokens ? "--max-tokens and --batch-tokens" : "--batch-tokens",
                 plan.batch_tokens, est.bytes_per_row);
  }

  nlohmann::json settings = {{"command", s.command},
                             {"model", src.path},
                             {"dataset_sha256", data.sha256},
                             {"n_texts", n_texts},
                             {"layers", layers},
                             {"max_tokens", s.max_tokens},
                             {"add_special_tokens", s.add_special_tokens},
                             {"twin_seeds", seeds},
                             {"twin_mode", s.twin_mode},
                             {"loss", s.with_loss},
                             {"backend", s.backend}};
  // Only when not the default, so per-text files written before the option still resume.
  if (s.twin_dtype != "f32") settings["twin_dtype"] = s.twin_dtype;
  const nlohmann::json header = {{"erank_per_text", 2}, {"settings", settings}};
  std::vector<std::map<int64_t, ModelOnText>> done(passes.size());
  std::ofstream per_text;
  if (!s.per_text.empty()) {
    if (std::filesystem::exists(s.per_text)) {
      if (!s.resume) fail("{}: exists; pass --resume to continue it, or remove it", s.per_text);
      done = read_per_text(s.per_text, header, passes);
    }
    const bool fresh =
        !std::filesystem::exists(s.per_text) || std::filesystem::file_size(s.per_text) == 0;
    per_text.open(s.per_text, std::ios::app);
    if (!per_text) fail("{}: cannot open for writing", s.per_text);
    if (fresh) per_text << header.dump() << "\n" << std::flush;
  }
  int64_t resumed = 0;
  for (auto& d : done) resumed += static_cast<int64_t>(d.size());

  auto be = make_backend(s.backend, s.threads);
  Progress prog(s.command, static_cast<int64_t>(n_texts * passes.size()), ::isatty(2) == 1,
                s.quiet);
  double load_s = secs(t0), pass_load_s = 0, forward_s = 0, metric_s = 0, flops = 0;
  int64_t units = resumed, unit_tokens = 0, computed = 0;
  nlohmann::json model_info;
  const auto t1 = clk::now();
  // One model at a time: the trained model over every text, then each twin; a model is freed
  // before the next one is built, so at most one set of weights is ever resident.
  for (size_t p = 0; p < passes.size(); ++p) {
    std::vector<int64_t> todo;
    for (size_t i = 0; i < n_texts; ++i)
      if (!done[p].count(static_cast<int64_t>(i))) todo.push_back(static_cast<int64_t>(i));
    if (todo.empty() && p > 0) continue;
    const auto tl = clk::now();
    std::unique_ptr<Model> model =
        p == 0 ? load_model(src) : make_twin(cfg, *arch, passes[p].seed, s.twin_dtype == "bf16");
    load_s += secs(tl);
    pass_load_s += secs(tl);
    if (p == 0)
      model_info = {{"name", src.name},
                    {"path", src.path},
                    {"architecture", model->arch().name},
                    {"model_type", cfg.model_type},
                    {"n_layers", cfg.n_layers},
                    {"hidden_size", cfg.hidden},
                    {"n_params", model->n_params()},
                    {"file_dtype", model->report().source_dtype}};
    // Train mode: the original's twin ran with dropout active, its mask different per text; one
    // text per forward keeps each text's mask independent of the batching.
    const bool train = p > 0 && s.twin_mode == "train";
    for (const auto& batch : make_batches(todo, ids, train ? 1 : s.batch_tokens)) {
      std::vector<std::vector<int32_t>> seqs;
      std::vector<int64_t> lens;
      for (int64_t i : batch)
        if (!ids[size_t(i)].empty()) {
          seqs.push_back(ids[size_t(i)]);
          lens.push_back(static_cast<int64_t>(ids[size_t(i)].size()));
        }
      std::vector<ModelOnText> res;
      if (!seqs.empty()) {
        std::optional<uint64_t> drop;
        if (train) drop = passes[p].seed * 1000003ull + static_cast<uint64_t>(batch[0]);
        const auto tf = clk::now();
        double m = 0;
        res = evaluate_batch(*model, *be, seqs, layers, s.with_loss, drop, &m);
        forward_s += secs(tf) - m;
        metric_s += m;
        flops += forward_flops(cfg, *arch, lens, s.with_loss);
      }
      size_t r = 0;
      for (int64_t i : batch) {
        ModelOnText mt;
        if (ids[size_t(i)].empty()) {  // nothing to run: counted as skipped by the aggregates
          ERank e;
          e.erank = e.entropy = NAN;
          e.skipped = "no tokens";
          mt.erank.assign(layers.size(), e);
        } else {
          mt = std::move(res[r++]);
        }
        if (per_text.is_open()) {
          nlohmann::json j = {{"index", i},
                              {"id", text_ids[size_t(i)]},
                              {"n_tokens", ids[size_t(i)].size()},
                              {"truncated", truncated[size_t(i)] != 0},
                              {"model", passes[p].model}};
          if (p > 0) j["seed"] = passes[p].seed;
          j.update(model_json(mt));
          per_text << j.dump() << "\n";
        }
        unit_tokens += static_cast<int64_t>(ids[size_t(i)].size());
        done[p][i] = std::move(mt);
        ++units;
        ++computed;
      }
      if (per_text.is_open()) per_text << std::flush;
      prog.update(units, unit_tokens);
    }
  }
  prog.finish();
  const double run_s = secs(t1) - pass_load_s;  // loading and twin building count as load_s

  std::vector<TextRecord> recs(n_texts);
  for (size_t i = 0; i < n_texts; ++i) {
    TextRecord& r = recs[i];
    r.index = static_cast<int64_t>(i);
    r.id = text_ids[i];
    r.n_tokens = static_cast<int64_t>(ids[i].size());
    r.truncated = truncated[i] != 0;
    r.trained = done[0].at(r.index);
    for (size_t p = 1; p < passes.size(); ++p) r.twins.push_back(done[p].at(r.index));
  }
  nlohmann::json res = summarize(s, layers, seeds, recs);
  int64_t skipped_texts = 0;
  for (auto& r : recs)
    if (!r.trained.erank.empty() && !r.trained.erank.back().ok) ++skipped_texts;
  if (skipped_texts > 0 && !s.quiet)
    fmt::print(stderr,
               "warning: {} text(s) skipped for eRank (fewer than 2 tokens or a degenerate "
               "representation); see per_layer[].n_skipped\n",
               skipped_texts);
  res["schema_version"] = kResultsSchemaVersion;
  res["erank_version"] = ERANK_VERSION;
  res["command"] = s.command;
  res["model"] = model_info;
  res["twin"] = {{"seeds", seeds},
                 {"mode", s.twin_mode},
                 {"dtype", s.twin_dtype},
                 {"init", "Hugging Face _init_weights of the architecture, erank's seeded RNG"}};
  res["dataset"] = {{"name", data.name},
                    {"files", s.data.files},
                    {"field", s.data.field},
                    {"n_records", data.n_records},
                    {"n_texts", n_texts},
                    {"n_empty", data.n_empty},
                    {"n_duplicates", data.n_duplicates},
                    {"sample", s.data.sample},
                    {"sample_seed", s.data.seed},
                    {"limit", s.data.limit},
                    {"sha256", data.sha256},
                    {"n_tokens", tokens},
                    {"n_truncated", n_truncated}};
  res["settings"] = settings;
  res["timings"] = {{"load_s", load_s},
                    {"run_s", run_s},
                    {"forward_s", forward_s},
                    {"metrics_s", metric_s},
                    {"forward_gflops", forward_s > 0 ? flops / forward_s / 1e9 : 0.0},
                    {"evaluations_computed", computed},
                    {"evaluations_resumed", resumed},
                    {"tokens_per_s", run_s > 0 ? double(unit_tokens) / run_s : 0.0},
                    {"batch_tokens", s.batch_tokens},
                    {"threads", s.threads}};
  return res;
}

std::string format_results(const nlohmann::json& r) {
  std::string o;
  auto f = [](const nlohmann::json& v, int prec = 2) {
    return v.is_number() ? fmt::format("{:.{}f}", v.get<double>(), prec) : std::string("n/a");
  };
  const auto& ds = r["dataset"];
  o += fmt::format("erank {}: {} ({}, {} layers) on {} ({} texts, {} tokens)\n",
                   r["command"].get<std::string>(), r["model"]["name"].get<std::string>(),
                   r["model"]["architecture"].get<std::string>(),
                   r["model"]["n_layers"].get<int64_t>(), ds["name"].get<std::string>(),
                   ds["n_texts"].get<int64_t>(), ds["n_tokens"].get<int64_t>());
  const auto& seeds = r["twin"]["seeds"];
  const auto& last = r["per_layer"].back();
  if (!seeds.empty()) {
    o += fmt::format("untrained twin: seed(s) {}, {} mode\n\n", seeds.dump(),
                     r["twin"]["mode"].get<std::string>());
    o += fmt::format("Diff-eRank at layer {}:\n", last["layer"].get<int>());
    o += fmt::format("  Algorithm (a) exp(mean H0) - exp(mean H1): {:>9} +- {}  ({} - {})\n",
                     f(last["diff_a"]), f(last["diff_a_stderr"]), f(last["erank_a_untrained"]),
                     f(last["trained"]["erank_a"]));
    o += fmt::format("  Algorithm (b) mean eRank0 - mean eRank1:   {:>9} +- {}  ({} - {})\n",
                     f(last["diff_b"]), f(last["diff_b_stderr"]), f(last["mean_erank_untrained"]),
                     f(last["trained"]["mean_erank"]));
    if (seeds.size() > 1)
      o += fmt::format("  over {} twins: (a) {} sd {}, (b) {} sd {}\n", seeds.size(),
                       f(last["over_twins"]["diff_a_mean"]), f(last["over_twins"]["diff_a_sd"]),
                       f(last["over_twins"]["diff_b_mean"]), f(last["over_twins"]["diff_b_sd"]));
  } else {
    o += fmt::format("\neRank at layer {}: exp(mean H) {}, mean eRank {} +- {}\n",
                     last["layer"].get<int>(), f(last["trained"]["erank_a"]),
                     f(last["trained"]["mean_erank"]), f(last["trained"]["stderr_erank"]));
  }
  if (r.contains("loss")) {
    const auto& l = r["loss"];
    o += fmt::format("Loss (nats/token): trained {} (perplexity {})",
                     f(l["trained"]["per_token"], 4), f(l["trained"]["perplexity"], 2));
    if (l.contains("untrained"))
      o += fmt::format(", untrained {}\nReduced loss: per token {}, per text {}",
                       f(l["untrained"]["per_token"], 4), f(l["reduced_per_token"], 4),
                       f(l["reduced_per_text"], 4));
    o += "\n";
  }
  if (r.contains("task")) {
    const auto& t = r["task"];
    o += fmt::format("Texts: {} items, question + correct answer\n", t["name"].get<std::string>());
    if (t.contains("accuracy")) {
      const auto& a = t["accuracy"];
      o += fmt::format("Accuracy ({}, {}-shot, {} documents): {} +- {}\n",
                       a["metric"].get<std::string>(), a["num_fewshot"].get<int>(),
                       a["n_docs"].get<int64_t>(), f(a["value"], 4), f(a["stderr"], 4));
    }
  }
  if (r["per_layer"].size() > 1) {
    // The curve over layers as bars: the trained eRank (a) without a twin, else Diff-eRank (a).
    const char* key = seeds.empty() ? "erank_a" : "diff_a";
    double top = 0;
    for (auto& L : r["per_layer"]) {
      const auto& v = seeds.empty() ? L["trained"][key] : L[key];
      if (v.is_number()) top = std::max(top, std::abs(v.get<double>()));
    }
    auto bar = [&](const nlohmann::json& v) {
      if (!v.is_number() || top <= 0) return std::string();
      const double x = v.get<double>();
      const int n = static_cast<int>(std::lround(24.0 * std::abs(x) / top));
      return std::string(x < 0 ? "-" : "") + std::string(size_t(n), '#');
    };
    o += seeds.empty()
             ? fmt::format("\n{:>5} {:>12} {:>12}  {}\n", "layer", "eRank (a)", "mean eRank",
                           "curve of eRank (a)")
             : fmt::format("\n{:>5} {:>14} {:>14} {:>10} {:>10}  {}\n", "layer", "untrained (a)",
                           "trained (a)", "diff (a)", "diff (b)", "curve of diff (a)");
    for (auto& L : r["per_layer"]) {
      if (seeds.empty())
        o += fmt::format("{:>5} {:>12} {:>12}  {}\n", L["layer"].get<int>(),
                         f(L["trained"]["erank_a"]), f(L["trained"]["mean_erank"]),
                         bar(L["trained"]["erank_a"]));
      else
        o += fmt::format("{:>5} {:>14} {:>14} {:>10} {:>10}  {}\n", L["layer"].get<int>(),
                         f(L["erank_a_untrained"]), f(L["trained"]["erank_a"]), f(L["diff_a"]),
                         f(L["diff_b"]), bar(L["diff_a"]));
    }
  }
  o += fmt::format("\n{:.1f} s ({:.0f} tokens/s)\n", r["timings"]["run_s"].get<double>(),
                   r["timings"]["tokens_per_s"].get<double>());
  return o;
}

}  // namespace erank
