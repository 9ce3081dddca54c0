// The sections for the other issues' results: the logit lens (heatmaps of JSD, tokens x layers),
// linear probes (R² per layer per target and control), arena ratings (a forest plot of the
// intervals) and lm-eval style task results (a bar chart of each task's main metric).
#include <fmt/format.h>

#include <cmath>
#include <set>

#include "report/sections.h"

namespace erank::report {

using json = nlohmann::json;

namespace {

// A token as shown on the page: whitespace made visible, so a space-only token is not blank.
std::string show_token(const std::string& t) {
  std::string r;
  for (char c : t) {
    if (c == ' ')
      r += "\u2423";
    else if (c == '\n')
      r += "\u21b5";
    else if (c == '\t')
      r += "\u21e5";
    else
      r += c;
  }
  return r.empty() ? "\u2205" : r;
}

}  // namespace

Section lens_section(const Input& in, const std::string& id) {
  const json& d = in.doc;
  Section sec;
  sec.id = id;
  sec.kind = "lens";
  sec.files = {in.path};
  sec.title = "Logit lens: " + opt_str(d, "model", "?");
  sec.body += settings_html({{"file", in.path},
                             {"model", opt_str(d, "model")},
                             {"layers of the model", opt_str(d, "n_layers")},
                             {"final norm", opt_str(d, "final_norm")},
                             {"top-k", opt_str(d, "top_k")},
                             {"texts", std::to_string(d.at("texts").size())},
                             {"units", opt_str(d, "units")}});

  XYPlot mean{"mean-per-layer",
              "Mean KL and JSD to the output distribution per layer",
              "layer (hidden_states index)",
              "nats",
              false,
              {}};
  mean.series = {{"mean KL", {}, {}}, {"mean JSD", {}, {}}};
  Table st;
  st.caption = "Per-layer means over all positions";
  st.head = {"layer", "mean KL", "mean JSD", "mean entropy", "top-1 = final"};
  for (const json& s : d.at("summary")) {
    const double l = or_nan(opt_num(s, "layer"));
    mean.series[0].x.push_back(l);
    mean.series[0].y.push_back(or_nan(opt_num(s, "mean_kl")));
    mean.series[1].x.push_back(l);
    mean.series[1].y.push_back(or_nan(opt_num(s, "mean_jsd")));
    st.rows.push_back({opt_str(s, "layer"), num(opt_num(s, "mean_kl")), num(opt_num(s, "mean_jsd")),
                       num(opt_num(s, "mean_entropy")), num(opt_num(s, "top1_agreement"))});
  }
  sec.body += figure(xy_svg(mean), st);

  const json& texts = d.at("texts");
  for (size_t t = 0; t < texts.size() && t < kLensTexts; ++t) {
    const json& tx = texts[t];
    const size_t n = std::min(tx.at("tokens").size(), kLensTokens);
    HeatmapPlot h;
    h.name = fmt::format("heatmap-t{}", t);
    h.title = fmt::format("Text {}: JSD(output, layer) per position", t);
    h.xlabel = "token";
    h.ylabel = "layer";
    h.series = "JSD";
    h.value_label = "JSD (nats)";
    h.vmin = 0;
    h.vmax = std::log(2.0);  // the largest JSD in nats
    for (size_t i = 0; i < n; ++i) h.cols.push_back(show_token(text_of(tx["tokens"][i])));
    Table tb;
    tb.caption = fmt::format("JSD per layer (rows) and position (columns) of text {}", t);
    tb.head = {"layer"};
    for (size_t i = 0; i < n; ++i) tb.head.push_back(h.cols[i]);
    for (const json& L : tx.at("layers")) {
      h.rows.push_back(opt_str(L, "layer"));
      std::vector<double> v;
      std::vector<std::string> notes, row{opt_str(L, "layer")};
      for (size_t i = 0; i < n; ++i) {
        v.push_back(or_nan(opt_num(L["jsd"][i])));
        row.push_back(num(opt_num(L["jsd"][i]), 3));
        if (L.contains("top1_token") && L["top1_token"].size() > i)
          notes.push_back("top-1 " + show_token(text_of(L["top1_token"][i])));
      }
      h.value.push_back(std::move(v));
      h.notes.push_back(std::move(notes));
      tb.rows.push_back(std::move(row));
    }
    const std::string text = opt_str(tx, "text");
    sec.body += "<h3>Text " + std::to_string(t) + "</h3><p class=\"quote\">" +
                esc(text.size() > 300 ? text.substr(0, 300) + "\u2026" : text) + "</p>\n" +
                figure(heatmap_svg(h), tb,
                       n < tx["tokens"].size()
                           ? fmt::format("first {} of {} positions", n, tx["tokens"].size())
                           : "");
  }
  if (texts.size() > kLensTexts)
    sec.body += fmt::format("<p class=\"note\">Heatmaps of the first {} of {} texts.</p>\n",
                            kLensTexts, texts.size());
  return sec;
}

Section probe_section(const Input& in, const std::string& id) {
  const json& d = in.doc;
  Section sec;
  sec.id = id;
  sec.kind = "probe";
  sec.files = {in.path};
  sec.title = "Linear probes: " + opt_str(d, "model", "?");
  std::vector<std::string> targets;
  for (const json& t : d.at("targets")) targets.push_back(text_of(t));
  sec.body += settings_html({{"file", in.path},
                             {"model", opt_str(d, "model")},
                             {"data", opt_str(d, "data")},
                             {"entities", opt_str(d, "n_entities") + " (" + opt_str(d, "n_train") +
                                              " train, " + opt_str(d, "n_test") + " test)"},
                             {"targets", opt_str(d, "targets")},
                             {"prompt", opt_str(d, "prompt")},
                             {"split", opt_str(d, "split")},
                             {"alpha per target", opt_str(d, "alpha_per_target")},
                             {"distance", opt_str(d, "distance")},
                             {"best layer", opt_str(d, "best_layer")}});
  XYPlot p{"r2-per-layer",
           "Held-out R\u00b2 per layer",
           "layer (hidden_states index)",
           "R\u00b2",
           false,
           {}};
  for (const auto& t : targets) p.series.push_back({"R\u00b2 " + t, {}, {}});
  const json& layers = d.at("layers");
  for (const json& L : layers)
    for (size_t k = 0; k < targets.size(); ++k) {
      p.series[k].x.push_back(L.at("layer").get<double>());
      p.series[k].y.push_back(or_nan(opt_num(L.at("r2"), targets[k].c_str())));
    }
  const json ctl = d.value("controls", json::object());
  for (const auto& [key, label] :
       {std::pair<const char*, const char*>{"random_labels", "control: random labels"},
        {"random_tokens", "control: random tokens"}}) {
    if (!ctl.contains(key)) continue;
    Series s{std::string(label) + " (mean R\u00b2)", {}, {}, true, true};
    for (const json& L : ctl[key]) {
      s.x.push_back(or_nan(opt_num(L, "layer")));
      s.y.push_back(or_nan(opt_num(L.value("r2", json::object()), "mean")));
    }
    p.series.push_back(std::move(s));
  }
  Table t = series_table(p.series, "layer", "Held-out R\u00b2 per layer");
  t.head.push_back("proximity error");
  for (auto& row : t.rows) {
    std::string prox;
    for (const json& L : layers)
      if (num(L.at("layer").get<double>(), 6) == row[0]) prox = num(opt_num(L, "proximity_error"));
    row.push_back(prox);
  }
  sec.body += figure(xy_svg(p), t);
  return sec;
}

Section arena_section(const Input& in, const std::string& id) {
  const json& d = in.doc;
  Section sec;
  sec.id = id;
  sec.kind = "arena";
  sec.files = {in.path};
  sec.title = "Arena ratings: " + basename_of(in.path);
  std::vector<std::pair<std::string, std::string>> kv{
      {"file", in.path},
      {"battles", opt_str(d, "n_battles")},
      {"interval", opt_str(d, "ci")},
      {"bootstrap rounds", opt_str(d, "bootstrap_rounds")},
      {"seed", opt_str(d, "seed")},
      {"finite MLE", opt_str(d, "finite_mle")}};
  if (d.contains("anchor")) kv.emplace_back("anchor", text_of(d["anchor"]));
  if (d.contains("style_coefficients"))
    kv.emplace_back("style coefficients", text_of(d["style_coefficients"]));
  sec.body += settings_html(kv);
  ForestPlot f{"ratings", "Bradley-Terry ratings with 95% intervals", "rating", {}, {}};
  ForestSeries bt{"Bradley-Terry (" + opt_str(d, "ci", "?") + " interval)", {}, {}, {}};
  ForestSeries style{"style-controlled Bradley-Terry", {}, {}, {}};
  Table t;
  t.caption = "Ratings";
  t.head = {"rank", "model", "BT", "95% interval", "Elo", "battles", "style BT", "style interval"};
  auto ci = [](const json& m, const char* key, int i) {
    return m.contains(key) && m[key].is_array() && m[key].size() == 2 ? or_nan(opt_num(m[key][i]))
                                                                      : NAN;
  };
  for (const json& m : d.at("models")) {
    f.rows.push_back(m.at("model").get<std::string>());
    bt.est.push_back(m.at("bt").get<double>());
    bt.lo.push_back(ci(m, "bt_ci", 0));
    bt.hi.push_back(ci(m, "bt_ci", 1));
    style.est.push_back(or_nan(opt_num(m, "style_bt")));
    style.lo.push_back(ci(m, "style_ci", 0));
    style.hi.push_back(ci(m, "style_ci", 1));
    auto interval = [&](const char* key) {
      const double lo = ci(m, key, 0), hi = ci(m, key, 1);
      return std::isfinite(lo) ? "[" + num(lo) + ", " + num(hi) + "]" : std::string();
    };
    t.rows.push_back({opt_str(m, "rank"), f.rows.back(), num(bt.est.back()), interval("bt_ci"),
                      num(opt_num(m, "elo")), opt_str(m, "n_battles"),
                      m.contains("style_bt") ? num(opt_num(m, "style_bt")) : "",
                      interval("style_ci")});
  }
  f.series = {bt, style};
  sec.body += figure(forest_svg(f), t);
  return sec;
}

// The task's main metric: accuracy first (as lm-eval's tables lead with it), then the usual
// generative metrics, else the first number that is not a standard error.
std::pair<std::string, std::string> main_metric(const json& r) {
  if (!r.is_object()) return {"", ""};
  for (const char* m : {"acc", "exact_match", "acc_norm", "f1", "bleu", "mcc", "word_perplexity"})
    for (const auto& [k, v] : r.items())
      if (v.is_number() && k.rfind(std::string(m) + ",", 0) == 0) return {k, m};
  for (const auto& [k, v] : r.items())
    if (v.is_number() && k.find("_stderr") == std::string::npos && k != "sample_len")
      return {k, k.substr(0, k.find(','))};
  return {"", ""};
}

const Input* eval_of(const json& doc, const std::vector<const Input*>& evals) {
  const std::string path = opt_str(doc["model"], "path"), name = opt_str(doc["model"], "name");
  for (const Input* e : evals)
    if (!path.empty() &&
        opt_str(e->doc.value("config", json::object()).value("model_args", json::object()),
                "path") == path)
      return e;
  for (const Input* e : evals)
    if (opt_str(e->doc, "model_name") == name) return e;
  return nullptr;
}

Section eval_section(const Input& in, const std::string& id) {
  const json& d = in.doc;
  Section sec;
  sec.id = id;
  sec.kind = "eval";
  sec.files = {in.path};
  sec.title = "Benchmarks: " + opt_str(d, "model_name", basename_of(in.path));
  const json cfg = d.value("config", json::object());
  sec.body += settings_html({{"file", in.path},
                             {"model", opt_str(d, "model_name")},
                             {"model source", opt_str(d, "model_source")},
                             {"model args", opt_str(cfg, "model_args")},
                             {"erank", opt_str(d, "erank_version")},
                             {"max length", opt_str(d, "max_length")},
                             {"requests", opt_str(d, "n_requests")},
                             {"time (s)", opt_str(d, "total_evaluation_time_seconds")}});
  BarPlot b{"main-metric", "Main metric per task", "score", "", {}, {}, {}};
  Table t;
  t.caption = "Task metrics (\u00b1 standard error)";
  t.head = {"task", "metric", "filter", "value", "stderr", "n-shot", "samples"};
  std::set<std::string> metric_names;
  const json& nshot = d.value("n-shot", json::object());
  for (const auto& [task, r] : d.at("results").items()) {
    const auto [key, metric] = main_metric(r);
    if (!key.empty()) {
      const std::string filter = key.substr(key.find(',') + 1);
      b.labels.push_back(task);
      b.value.push_back(r[key].get<double>());
      b.err.push_back(or_nan(opt_num(r, (metric + "_stderr," + filter).c_str())));
      metric_names.insert(metric);
    }
    for (const auto& [k, v] : r.items()) {
      if (!v.is_number() || k.find("_stderr") != std::string::npos || k == "sample_len") continue;
      const size_t comma = k.find(',');
      const std::string m = k.substr(0, comma),
                        f = comma == std::string::npos ? "" : k.substr(comma + 1);
      t.rows.push_back(
          {task, m, f, num(v.get<double>()), num(opt_num(r, (m + "_stderr," + f).c_str())),
           nshot.contains(task) ? text_of(nshot[task]) : "", opt_str(r, "sample_len")});
    }
  }
  b.series = metric_names.size() == 1 ? *metric_names.begin() : "main metric";
  sec.body += figure(bars_svg(b), t);
  return sec;
}

}  // namespace erank::report
