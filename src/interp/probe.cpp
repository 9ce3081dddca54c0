#include "interp/probe.h"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "backend/backend.h"
#include "core/error.h"
#include "data/py_random.h"
#include "interp/entities.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace erank {
namespace {

using clk = std::chrono::steady_clock;
double secs(clk::time_point a) {
  return std::chrono::duration<double>(clk::now() - a).count();
}

// Rows `idx` of f as doubles [idx.size(), d] (the regression runs in double).
std::vector<double> gather(const Features& f, const std::vector<int64_t>& idx) {
  std::vector<double> x(idx.size() * size_t(f.d));
  for (size_t i = 0; i < idx.size(); ++i)
    for (int64_t c = 0; c < f.d; ++c)
      x[i * size_t(f.d) + size_t(c)] = f.v[size_t(idx[i] * f.d + c)];
  return x;
}

std::vector<double> column(const std::vector<double>& y, int t, int k) {
  std::vector<double> c(y.size() / size_t(t));
  for (size_t i = 0; i < c.size(); ++i) c[i] = y[i * size_t(t) + size_t(k)];
  return c;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Distance pick_distance(const std::string& spec, const std::vector<std::string>& targets) {
  if (spec == "euclidean") return Distance::euclidean;
  if (spec == "haversine") {
    if (targets.size() != 2) fail("--distance haversine needs two targets (latitude, longitude)");
    return Distance::haversine;
  }
  if (spec != "auto") fail("--distance '{}': expected auto, euclidean or haversine", spec);
  if (targets.size() == 2 && lower(targets[0]).rfind("lat", 0) == 0 &&
      (lower(targets[1]).rfind("lon", 0) == 0 || lower(targets[1]).rfind("lng", 0) == 0))
    return Distance::haversine;
  return Distance::euclidean;
}

std::unique_ptr<Tokenizer> tokenizer_for(const ModelSource& src) {
  if (src.kind == ModelSource::Kind::gguf) return Tokenizer::from_gguf(GGUFFile(src.path));
  return Tokenizer::from_hf_folder(src.path);
}

nlohmann::json per_target(const std::vector<std::string>& names, const std::vector<double>& v) {
  nlohmann::json o = nlohmann::json::object();
  for (size_t k = 0; k < names.size(); ++k) o[names[k]] = v[k];
  return o;
}

nlohmann::json layer_json(const ProbeLayerResult& r, const std::vector<std::string>& names) {
  nlohmann::json r2 = per_target(names, r.r2);
  r2["mean"] = r.r2_mean;
  return {{"layer", r.layer},
          {"r2", r2},
          {"pearson", per_target(names, r.pearson)},
          {"spearman", per_target(names, r.spearman)},
          {"proximity_error", r.proximity_error},
          {"alpha", per_target(names, r.alpha)},
          {"train_r2", per_target(names, r.train_r2)}};
}

}  // namespace

ProbeSplit make_split(const std::vector<char>& is_test) {
  ProbeSplit s;
  for (size_t i = 0; i < is_test.size(); ++i) (is_test[i] ? s.test : s.train).push_back(int64_t(i));
  return s;
}

ProbeLayerResult probe_layer(const Features& f, const std::vector<double>& y, int t,
                             const ProbeSplit& split, const RidgeCVOptions& ridge, Distance dist,
                             RidgeFit* fit_out) {
  const auto ntr = int64_t(split.train.size()), nte = int64_t(split.test.size());
  // z-score the targets with the train split's mean and (population) std, as the paper's code
  std::vector<double> mu(size_t(t), 0.0), sd(size_t(t), 0.0);
  for (int64_t i : split.train)
    for (int k = 0; k < t; ++k) mu[size_t(k)] += y[size_t(i * t + k)];
  for (double& m : mu) m /= double(ntr);
  for (int64_t i : split.train)
    for (int k = 0; k < t; ++k) {
      const double e = y[size_t(i * t + k)] - mu[size_t(k)];
      sd[size_t(k)] += e * e;
    }
  for (int k = 0; k < t; ++k) {
    sd[size_t(k)] = std::sqrt(sd[size_t(k)] / double(ntr));
    if (!(sd[size_t(k)] > 0)) fail("target {} is constant on the train split", k + 1);
  }
  std::vector<double> ytr(size_t(ntr * t));
  for (int64_t r = 0; r < ntr; ++r)
    for (int k = 0; k < t; ++k)
      ytr[size_t(r * t + k)] =
          (y[size_t(split.train[size_t(r)] * t + k)] - mu[size_t(k)]) / sd[size_t(k)];

  const std::vector<double> xtr = gather(f, split.train), xte = gather(f, split.test);
  RidgeFit fit = ridge_cv(xtr, ntr, f.d, ytr, t, ridge);
  auto unscale = [&](std::vector<double> p) {
    for (size_t i = 0; i < p.size(); ++i) p[i] = p[i] * sd[i % size_t(t)] + mu[i % size_t(t)];
    return p;
  };
  const std::vector<double> pte = unscale(fit.predict(xte, nte));
  const std::vector<double> ptr = unscale(fit.predict(xtr, ntr));
  std::vector<double> yte(size_t(nte * t)), ytr_raw(size_t(ntr * t));
  for (int64_t r = 0; r < nte; ++r)
    for (int k = 0; k < t; ++k) yte[size_t(r * t + k)] = y[size_t(split.test[size_t(r)] * t + k)];
  for (int64_t r = 0; r < ntr; ++r)
    for (int k = 0; k < t; ++k)
      ytr_raw[size_t(r * t + k)] = y[size_t(split.train[size_t(r)] * t + k)];

  ProbeLayerResult res;
  res.alpha = fit.alpha;
  for (int k = 0; k < t; ++k) {
    const auto yt = column(yte, t, k), pt = column(pte, t, k);
    res.r2.push_back(r2_score(yt, pt));
    res.pearson.push_back(pearson(yt, pt));
    res.spearman.push_back(spearman(yt, pt));
    res.train_r2.push_back(r2_score(column(ytr_raw, t, k), column(ptr, t, k)));
  }
  double s = 0;
  for (double v : res.r2) s += v;
  res.r2_mean = s / double(t);  // r2_score's uniform_average over targets
  res.proximity_error = proximity_error(yte, pte, t, dist);
  if (fit_out) *fit_out = std::move(fit);
  return res;
}

nlohmann::json run_probe(const ProbeSettings& s) {
  const auto t0 = clk::now();
  auto say = [&](const std::string& m) {
    if (!s.quiet) fmt::print(stderr, "probe: {}\n", m);
  };
  // Entities and split
  EntityTable ents;
  if (s.data.empty()) {
    if (!s.targets.empty() && s.targets != std::vector<std::string>{"latitude", "longitude"})
      fail("--target: the embedded cities have latitude, longitude; give --data for others");
    ents = load_geonames_cities(s.limit >= 0 ? s.limit : kDefaultCities);
  } else {
    ents = load_entities(s.data, s.entity_field, s.targets, s.split_field);
    if (s.limit >= 0 && ents.size() > s.limit) {
      ents.names.resize(size_t(s.limit));
      ents.y.resize(size_t(s.limit) * ents.targets.size());
      if (!ents.is_test.empty()) ents.is_test.resize(size_t(s.limit));
    }
  }
  const int t = static_cast<int>(ents.targets.size());
  if (ents.n_skipped > 0)
    fmt::print(stderr, "probe: warning: {} rows of {} skipped (a target is missing)\n",
               ents.n_skipped, ents.origin);
  std::vector<char> is_test = ents.is_test;
  if (is_test.empty()) is_test = random_split(ents.size(), s.test_fraction, s.seed);
  const ProbeSplit split = make_split(is_test);
  if (split.train.size() < 3 || split.test.size() < 2)
    fail(
        "{}: {} entities ({} to train, {} to test); a probe needs at least 3 to train "
        "(leave-one-out folds) and 2 to test",
        ents.origin, ents.size(), split.train.size(), split.test.size());
  const Distance dist = pick_distance(s.distance, ents.targets);
  const PromptTemplate prompt = parse_prompt(s.prompt);

  // Model, tokens, activations
  const ModelSource src = resolve_model_source(s.model);
  const Architecture* arch = nullptr;
  const int L = static_cast<int>(load_config(src, &arch).n_layers);  // layers checked before
  const std::vector<int> layers = parse_probe_layers(s.layers, L);   // the weights are loaded
  auto tok = tokenizer_for(src);
  auto model = load_model(src);
  const int64_t vocab = model->config().vocab_size;
  const EntityTokens toks = tokenize_entities(*tok, ents.names, prompt, vocab, s.seed);
  auto be = make_backend(s.backend, s.threads);
  say(fmt::format("{} entities ({} train, {} test) from {}, {} targets, prompt '{}', layers {}",
                  ents.size(), split.train.size(), split.test.size(), ents.origin, t, s.prompt,
                  s.layers));
  auto progress = [&](int64_t done, int64_t total) {
    if (!s.quiet && (done == total || done % 1000 < 200))
      fmt::print(stderr, "probe: forward {}/{} ({:.0f} s)\n", done, total, secs(t0));
  };
  const auto tf = clk::now();
  const std::map<int, Features> feats =
      last_token_states(*model, *be, toks.ids, layers, s.batch_tokens, progress);
  const double forward_s = secs(tf);

  if (!s.save_features.empty()) {
    std::vector<TensorToWrite> out;
    for (const auto& [l, f] : feats)
      out.push_back(make_f32("layer." + std::to_string(l), {f.n, f.d}, f.v));
    TensorToWrite ty{"targets", DType::f64, {ents.size(), t}, {}};
    ty.bytes.resize(ents.y.size() * sizeof(double));
    std::memcpy(ty.bytes.data(), ents.y.data(), ty.bytes.size());
    out.push_back(std::move(ty));
    std::vector<int32_t> it(is_test.begin(), is_test.end());
    out.push_back(make_i32("is_test", {ents.size()}, it));
    const nlohmann::json meta = {{"model", src.name},       {"layers", layers},
                                 {"targets", ents.targets}, {"entities", ents.names},
                                 {"prompt", s.prompt},      {"n_layers", L}};
    write_safetensors(s.save_features, out, {{"erank", meta.dump()}});
    say("features written to " + s.save_features);
  }

  const RidgeCVOptions ridge{s.alphas, s.alpha_per_target};
  const auto tp = clk::now();
  nlohmann::json jl = nlohmann::json::array();
  int best = -1;
  double best_r2 = -std::numeric_limits<double>::infinity();
  for (const auto& [l, f] : feats) {
    ProbeLayerResult r = probe_layer(f, ents.y, t, split, ridge, dist);
    r.layer = l;
    if (std::isfinite(r.r2_mean) && r.r2_mean > best_r2) {
      best_r2 = r.r2_mean;
      best = l;
    }
    jl.push_back(layer_json(r, ents.targets));
  }
  const double fit_s = secs(tp);

  nlohmann::json res = {
      {"schema_version", kProbeSchemaVersion},
      {"command", "probe"},
      {"model", src.name},
      {"data", ents.origin},
      {"n_entities", ents.size()},
      {"n_train", split.train.size()},
      {"n_test", split.test.size()},
      {"n_skipped", ents.n_skipped},
      {"targets", ents.targets},
      {"prompt", s.prompt},
      {"split", ents.is_test.empty()
                    ? nlohmann::json{{"test_fraction", s.test_fraction}, {"seed", s.seed}}
                    : nlohmann::json{{"field", s.split_field}}},
      {"alphas", s.alphas},
      {"alpha_per_target", s.alpha_per_target},
      {"distance", dist == Distance::haversine ? "haversine" : "euclidean"},
      {"best_layer", best},
      {"layers", jl}};

  if (s.control_random) {
    // Random labels: the targets shuffled across entities (same split). Random tokens: each
    // entity's own tokens replaced by random ones, true targets.
    std::vector<int64_t> perm(size_t(ents.size()));
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = int64_t(i);
    PyRandom rng(s.seed + 1);
    random_shuffle(rng, perm);
    std::vector<double> yperm(ents.y.size());
    for (size_t i = 0; i < perm.size(); ++i)
      for (int k = 0; k < t; ++k)
        yperm[i * size_t(t) + size_t(k)] = ents.y[size_t(perm[i]) * size_t(t) + size_t(k)];
    say("control: random tokens forward");
    const EntityTokens rtoks = randomise_entity_tokens(toks, vocab, s.seed + 2);
    const std::map<int, Features> rfeats =
        last_token_states(*model, *be, rtoks.ids, layers, s.batch_tokens, progress);
    nlohmann::json labels = nlohmann::json::array(), tokens = nlohmann::json::array();
    for (const auto& [l, f] : feats) {
      ProbeLayerResult r = probe_layer(f, yperm, t, split, ridge, dist);
      r.layer = l;
      labels.push_back(layer_json(r, ents.targets));
      ProbeLayerResult q = probe_layer(rfeats.at(l), ents.y, t, split, ridge, dist);
      q.layer = l;
      tokens.push_back(layer_json(q, ents.targets));
    }
    res["controls"] = {{"random_labels", labels}, {"random_tokens", tokens}};
  }
  res["seconds"] = {{"forward", forward_s}, {"fit", fit_s}, {"total", secs(t0)}};
  return res;
}

std::string format_probe(const nlohmann::json& r) {
  auto num = [](const nlohmann::json& v) {
    return v.is_number() ? fmt::format("{:7.3f}", v.get<double>()) : std::string("    nan");
  };
  const auto& targets = r.at("targets");
  std::string head = fmt::format("{:>5}", "layer");
  for (const auto& tn : targets)
    head += fmt::format(" {:>9}", "R2 " + tn.get<std::string>().substr(0, 6));
  head += fmt::format(" {:>7} ", "R2 mean");
  for (const auto& tn : targets)
    head += fmt::format(" {:>9}", "rho " + tn.get<std::string>().substr(0, 5));
  head += fmt::format(" {:>7}", "prox");
  for (const auto& tn : targets)
    head += fmt::format(" {:>9}", "a " + tn.get<std::string>().substr(0, 7));
  const bool ctl = r.contains("controls");
  if (ctl) head += "  ctl:labels ctl:tokens";
  std::string out = head + "\n";
  const auto& layers = r.at("layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    std::string line = fmt::format("{:>5}", l.at("layer").get<int>());
    for (const auto& tn : targets) line += "   " + num(l.at("r2").at(tn.get<std::string>()));
    line += " " + num(l.at("r2").at("mean")) + " ";
    for (const auto& tn : targets) line += "   " + num(l.at("spearman").at(tn.get<std::string>()));
    line += " " + num(l.at("proximity_error"));
    for (const auto& tn : targets)
      line += fmt::format(" {:>9.1f}", l.at("alpha").at(tn.get<std::string>()).get<double>());
    if (ctl) {
      line += "     " + num(r["controls"]["random_labels"][i]["r2"]["mean"]);
      line += "     " + num(r["controls"]["random_tokens"][i]["r2"]["mean"]);
    }
    out += line + "\n";
  }
  out += fmt::format("best layer {} ({} entities: {} train, {} test; {})\n",
                     r.at("best_layer").get<int>(), r.at("n_entities").get<int64_t>(),
                     r.at("n_train").get<int64_t>(), r.at("n_test").get<int64_t>(),
                     r.at("model").get<std::string>());
  return out;
}

}  // namespace erank
