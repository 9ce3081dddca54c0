// The Diff-eRank sections: a comparison of erank diff/rank/loss results over models, and an
// erank sweep (per text set: Diff-eRank, reduced loss and accuracy against parameter count, the
// layer ablation, eRank per layer per model, correlations, failed models).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "report/sections.h"

namespace erank::report {

using json = nlohmann::json;

std::string basename_of(const std::string& path) {
  const size_t s = path.find_last_of('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

std::vector<std::string> display_names(const std::vector<std::string>& names) {
  // Models are often named by their paths (/tmp/x/models/gpt2): show the last path component,
  // or as many trailing components as it takes to tell them apart.
  auto tail = [](const std::string& n, int k) {
    std::string s = n;
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    size_t pos = s.size();
    for (int i = 0; i < k; ++i) {
      const size_t slash = pos == 0 ? std::string::npos : s.find_last_of('/', pos - 1);
      if (slash == std::string::npos || slash == 0) return s;
      pos = slash;
    }
    return s.substr(pos + 1);
  };
  for (int k = 1; k < 16; ++k) {
    std::vector<std::string> out;
    for (const auto& n : names) out.push_back(tail(n, k));
    if (std::set<std::string>(out.begin(), out.end()).size() == names.size() || k == 15)
      return unique_names(out);
  }
  return unique_names(names);
}

std::vector<std::string> unique_names(std::vector<std::string> names) {
  std::map<std::string, int> seen;
  for (auto& n : names) {
    const int k = ++seen[n];
    if (k > 1) n += fmt::format(" ({})", k);
  }
  return names;
}

double or_nan(std::optional<double> v) {
  return v ? *v : NAN;
}

Table series_table(const std::vector<Series>& series, const std::string& xname,
                   const std::string& caption, bool x_as_count) {
  std::set<double> xs;
  for (const auto& s : series)
    for (double x : s.x)
      if (std::isfinite(x)) xs.insert(x);
  Table t;
  t.caption = caption;
  t.head.push_back(xname);
  for (const auto& s : series) t.head.push_back(s.name);
  for (double x : xs) {
    std::vector<std::string> row{x_as_count ? count(x) : num(x, 6)};
    for (const auto& s : series) {
      std::string cell = "";
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        if (s.x[i] == x) cell = num(s.y[i]);
      row.push_back(cell);
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string figure(const std::string& svg, const Table& t, const std::string& note) {
  return "<div class=\"figure\"><div class=\"plot-wrap\">" + svg +
         (note.empty() ? "" : "<p class=\"note\">" + esc(note) + "</p>") +
         "</div><div class=\"table-wrap\">" + table_html(t) + "</div></div>\n";
}

std::string section_html(const Section& s) {
  json files = s.files;
  return fmt::format(
      "<section class=\"report-section\" id=\"{}\" data-kind=\"{}\" data-files=\"{}\">\n"
      "<h2>{}</h2>\n{}</section>\n",
      esc(s.id), esc(s.kind), esc(files.dump(-1, ' ', false, json::error_handler_t::replace)),
      esc(s.title), s.body);
}

namespace {

const json& last_layer(const json& doc) {
  return doc.at("per_layer").back();
}

std::string short_sha(const json& ds) {
  const std::string s = opt_str(ds, "sha256");
  return s.size() > 12 ? s.substr(0, 12) + "\u2026" : s;
}

// The numbers of one model at the last layer, from a results document or a sweep entry.
struct ModelPoint {
  std::string label;
  double n_params = NAN;
  std::optional<double> diff_a, diff_a_se, diff_b, diff_b_se, red_tok, red_text, acc, acc_se;
};

std::string vs_params_plots(const std::string& prefix, const std::vector<ModelPoint>& pts,
                            const std::string& what) {
  std::string out;
  auto make = [&](const std::string& name, auto get) {
    Series s{name, {}, {}};
    for (const auto& p : pts) {
      s.x.push_back(p.n_params);
      s.y.push_back(or_nan(get(p)));
    }
    return s;
  };
  auto table = [&](const std::string& caption, std::vector<std::string> head, auto row) {
    Table t;
    t.caption = caption;
    t.head = std::move(head);
    for (const auto& p : pts) t.rows.push_back(row(p));
    return t;
  };
  XYPlot diff{prefix + "diff-vs-params",
              "Diff-eRank against parameter count (" + what + ")",
              "parameters (log scale)",
              "Diff-eRank",
              true,
              {}};
  diff.series.push_back(make("Diff-eRank (a)", [](const ModelPoint& p) { return p.diff_a; }));
  diff.series.push_back(make("Diff-eRank (b)", [](const ModelPoint& p) { return p.diff_b; }));
  diff.series.back().dashed = true;  // (a) and (b) are often close: keep both visible
  const bool any_diff = std::any_of(
      pts.begin(), pts.end(), [](auto& p) { return p.diff_a.has_value() || p.diff_b.has_value(); });
  if (any_diff)  // erank rank has no twin, so no Diff-eRank
    out += figure(xy_svg(diff), table("Diff-eRank at the last layer (\u00b1 standard error)",
                                      {"model", "parameters", "Diff-eRank (a)", "Diff-eRank (b)"},
                                      [](const ModelPoint& p) {
                                        return std::vector<std::string>{p.label, count(p.n_params),
                                                                        pm(p.diff_a, p.diff_a_se),
                                                                        pm(p.diff_b, p.diff_b_se)};
                                      }));
  const bool any_loss = std::any_of(pts.begin(), pts.end(), [](auto& p) {
    return p.red_tok.has_value() || p.red_text.has_value();
  });
  if (any_loss) {
    XYPlot loss{prefix + "loss-vs-params",
                "Reduced loss against parameter count (" + what + ")",
                "parameters (log scale)",
                "L(untrained) - L(trained), nats",
                true,
                {}};
    loss.series.push_back(
        make("reduced loss per token", [](const ModelPoint& p) { return p.red_tok; }));
    loss.series.push_back(
        make("reduced loss per text", [](const ModelPoint& p) { return p.red_text; }));
    loss.series.back().dashed = true;
    out += figure(xy_svg(loss),
                  table("Reduced loss (nats)", {"model", "parameters", "per token", "per text"},
                        [](const ModelPoint& p) {
                          return std::vector<std::string>{p.label, count(p.n_params),
                                                          num(p.red_tok), num(p.red_text)};
                        }));
  }
  const bool any_acc =
      std::any_of(pts.begin(), pts.end(), [](auto& p) { return p.acc.has_value(); });
  if (any_acc) {
    XYPlot acc{prefix + "accuracy-vs-params",
               "Accuracy against parameter count (" + what + ")",
               "parameters (log scale)",
               "accuracy",
               true,
               {}};
    acc.series.push_back(make("accuracy", [](const ModelPoint& p) { return p.acc; }));
    out += figure(
        xy_svg(acc),
        table("Accuracy (\u00b1 standard error)", {"model", "parameters", "accuracy"},
              [](const ModelPoint& p) {
                return std::vector<std::string>{p.label, count(p.n_params), pm(p.acc, p.acc_se)};
              }));
  }
  return out;
}

}  // namespace

namespace {

// Accuracy of each model (from its erank eval results) against size: one series per task.
std::string accuracy_plot(const std::vector<const Input*>& files,
                          const std::vector<std::string>& names,
                          const std::vector<const Input*>& evals) {
  std::vector<const Input*> ev;
  std::vector<std::string> tasks;
  for (const Input* f : files) {
    ev.push_back(eval_of(f->doc, evals));
    if (ev.back())
      for (const auto& [task, r] : ev.back()->doc.at("results").items())
        if (!main_metric(r).first.empty() &&
            std::find(tasks.begin(), tasks.end(), task) == tasks.end())
          tasks.push_back(task);
  }
  if (tasks.empty()) return "";
  XYPlot p{"accuracy-vs-params",
           "Benchmark accuracy against parameter count (erank eval)",
           "parameters (log scale)",
           "main metric",
           true,
           {}};
  Table t;
  t.caption = "Main metric per task (\u00b1 standard error)";
  t.head = {"model", "parameters", "eval file"};
  for (const auto& task : tasks) t.head.push_back(task);
  for (const auto& task : tasks) p.series.push_back({task, {}, {}});
  for (size_t i = 0; i < files.size(); ++i) {
    const double n = files[i]->doc["model"]["n_params"].get<double>();
    std::vector<std::string> row{names[i], count(n), ev[i] ? basename_of(ev[i]->path) : "none"};
    for (size_t k = 0; k < tasks.size(); ++k) {
      std::string cell;
      if (ev[i] && ev[i]->doc["results"].contains(tasks[k])) {
        const json& r = ev[i]->doc["results"][tasks[k]];
        const auto [key, metric] = main_metric(r);
        if (!key.empty()) {
          const std::string filter = key.substr(key.find(',') + 1);
          p.series[k].x.push_back(n);
          p.series[k].y.push_back(r[key].get<double>());
          cell = metric + " " +
                 pm(r[key].get<double>(), opt_num(r, (metric + "_stderr," + filter).c_str()));
        }
      }
      row.push_back(cell);
    }
    t.rows.push_back(std::move(row));
  }
  return figure(xy_svg(p), t);
}

}  // namespace

Section results_section(const std::vector<const Input*>& files, const std::string& id,
                        const std::vector<const Input*>& evals) {
  Section sec;
  sec.id = id;
  sec.kind = "results";
  const json& ds0 = files[0]->doc.at("dataset");
  sec.title = fmt::format("Model comparison: {} model{} on {} ({} texts)", files.size(),
                          files.size() == 1 ? "" : "s", opt_str(ds0, "name", "?"),
                          opt_str(ds0, "n_texts", "?"));
  std::vector<std::string> names;
  for (const Input* f : files) {
    sec.files.push_back(f->path);
    names.push_back(f->doc.at("model").at("name").get<std::string>());
  }
  const std::vector<std::string> given = names;
  names = display_names(names);

  // Settings of every file (they may differ in what does not break the comparison).
  Table set;
  set.caption = "Inputs and settings";
  set.head = {"model",     "model path", "results file",  "erank",      "command",
              "dataset",   "texts",      "tokens",        "max tokens", "twin seeds",
              "twin mode", "backend",    "dataset sha256"};
  for (size_t i = 0; i < files.size(); ++i) {
    const json& d = files[i]->doc;
    const json& st = d.value("settings", json::object());
    const json& tw = d.value("twin", json::object());
    set.rows.push_back({names[i], given[i], files[i]->path, opt_str(d, "erank_version"),
                        opt_str(d, "command"), opt_str(d["dataset"], "name"),
                        opt_str(d["dataset"], "n_texts"), opt_str(d["dataset"], "n_tokens"),
                        opt_str(st, "max_tokens"), opt_str(tw, "seeds"), opt_str(tw, "mode"),
                        opt_str(st, "backend"), short_sha(d["dataset"])});
  }
  sec.body += "<div class=\"table-wrap wide\">" + table_html(set) + "</div>\n";

  // eRank per layer: one series per model and (dashed) its untrained twin.
  XYPlot pl{"erank-per-layer",
            "eRank per layer: exp(mean entropy) of each model (dashed: twin)",
            "layer (hidden_states index)",
            "eRank",
            false,
            {}};
  for (size_t i = 0; i < files.size(); ++i) {
    Series tr{names[i] + " trained", {}, {}, true, false, int(i)};
    Series un{names[i] + " untrained", {}, {}, true, true, int(i)};
    for (const json& L : files[i]->doc.at("per_layer")) {
      const double layer = L.at("layer").get<double>();
      tr.x.push_back(layer);
      tr.y.push_back(or_nan(opt_num(L.at("trained"), "erank_a")));
      un.x.push_back(layer);
      un.y.push_back(or_nan(opt_num(L, "erank_a_untrained")));
    }
    pl.series.push_back(std::move(tr));
    pl.series.push_back(std::move(un));
  }
  sec.body += "<h3>eRank per layer</h3>\n" +
              figure(xy_svg(pl), series_table(pl.series, "layer", "eRank per layer"));

  std::vector<ModelPoint> pts;
  for (size_t i = 0; i < files.size(); ++i) {
    const json& d = files[i]->doc;
    const json& L = last_layer(d);
    const json& loss = d.value("loss", json::object());
    pts.push_back({names[i], d["model"]["n_params"].get<double>(), opt_num(L, "diff_a"),
                   opt_num(L, "diff_a_stderr"), opt_num(L, "diff_b"), opt_num(L, "diff_b_stderr"),
                   opt_num(loss, "reduced_per_token"), opt_num(loss, "reduced_per_text"),
                   std::nullopt, std::nullopt});
  }
  sec.body += "<h3>Against model size</h3>\n" + vs_params_plots("", pts, "last layer") +
              accuracy_plot(files, names, evals);

  Table mt;
  mt.caption = "Models (last layer)";
  mt.head = {"model",
             "architecture",
             "parameters",
             "layers",
             "hidden",
             "eRank trained",
             "eRank untrained",
             "loss trained (per token)",
             "loss untrained (per token)"};
  for (size_t i = 0; i < files.size(); ++i) {
    const json& d = files[i]->doc;
    const json& L = last_layer(d);
    const json& loss = d.value("loss", json::object());
    mt.rows.push_back({names[i], opt_str(d["model"], "architecture"),
                       count(d["model"]["n_params"].get<double>()), opt_str(d["model"], "n_layers"),
                       opt_str(d["model"], "hidden_size"), num(opt_num(L["trained"], "erank_a")),
                       num(opt_num(L, "erank_a_untrained")),
                       num(opt_num(loss.value("trained", json::object()), "per_token")),
                       num(opt_num(loss.value("untrained", json::object()), "per_token"))});
  }
  sec.body += "<div class=\"table-wrap wide\">" + table_html(mt) + "</div>\n";
  return sec;
}

Section sweep_section(const Input& in, const std::string& id) {
  const json& d = in.doc;
  Section sec;
  sec.id = id;
  sec.kind = "sweep";
  sec.files = {in.path};
  sec.title = "Sweep: " + basename_of(in.path);
  std::vector<std::pair<std::string, std::string>> kv{{"file", in.path},
                                                      {"erank", opt_str(d, "erank_version")}};
  const json settings = d.value("settings", json::object());
  for (const auto& [k, v] : settings.items()) kv.emplace_back(k, text_of(v));
  if (d.contains("timings")) kv.emplace_back("run time (s)", num(opt_num(d["timings"], "run_s")));
  sec.body += settings_html(kv);

  const json& sets = d.at("sets");
  for (size_t si = 0; si < sets.size(); ++si) {
    const json& set = sets[si];
    const std::string prefix = fmt::format("set{}/", si);
    sec.body += fmt::format("<h3>Set {}: {} ({}, {} texts, sha256 {})</h3>\n", si + 1,
                            esc(opt_str(set, "name")), esc(opt_str(set, "kind")),
                            esc(opt_str(set, "n_texts")), esc(short_sha(set)));
    std::vector<const json*> ok;
    std::vector<std::string> names;
    for (const json& m : set.at("models"))
      if (m.at("status") == "ok") {
        ok.push_back(&m);
        names.push_back(m.at("name").get<std::string>());
      }
    names = display_names(names);

    std::vector<ModelPoint> pts;
    for (size_t i = 0; i < ok.size(); ++i) {
      const json& m = *ok[i];
      pts.push_back({names[i], m.at("n_params").get<double>(), opt_num(m, "diff_a"),
                     opt_num(m, "diff_a_stderr"), opt_num(m, "diff_b"), opt_num(m, "diff_b_stderr"),
                     opt_num(m, "reduced_loss_per_token"), opt_num(m, "reduced_loss_per_text"),
                     opt_num(m, "accuracy"), opt_num(m, "accuracy_stderr")});
    }
    sec.body += vs_params_plots(prefix, pts, opt_str(set, "name"));

    // The layer ablation: Diff-eRank (a) at the first, middle and last layer, against size.
    std::vector<std::string> positions;
    for (const json* m : ok)
      for (const json& L : m->value("per_layer", json::array())) {
        const std::string p = opt_str(L, "position");
        if (!p.empty() && std::find(positions.begin(), positions.end(), p) == positions.end())
          positions.push_back(p);
      }
    const std::vector<std::string> order{"first", "middle", "last"};
    std::stable_sort(positions.begin(), positions.end(), [&](auto& a, auto& b) {
      return std::find(order.begin(), order.end(), a) < std::find(order.begin(), order.end(), b);
    });
    if (!positions.empty()) {
      XYPlot ab{prefix + "layer-ablation",
                "Layer ablation: Diff-eRank (a) at each position",
                "parameters (log scale)",
                "Diff-eRank (a)",
                true,
                {}};
      Table t;
      t.caption = "Diff-eRank (a) by layer position (layer index in brackets)";
      t.head = {"model", "parameters"};
      for (const auto& p : positions) {
        ab.series.push_back({p, {}, {}});
        t.head.push_back(p);
      }
      for (size_t i = 0; i < ok.size(); ++i) {
        std::vector<std::string> row{names[i], count(pts[i].n_params)};
        for (size_t k = 0; k < positions.size(); ++k) {
          std::string cell;
          for (const json& L : ok[i]->value("per_layer", json::array()))
            if (opt_str(L, "position") == positions[k]) {
              ab.series[k].x.push_back(pts[i].n_params);
              ab.series[k].y.push_back(or_nan(opt_num(L, "diff_a")));
              cell = num(opt_num(L, "diff_a")) + " [" + opt_str(L, "layer") + "]";
            }
          row.push_back(cell);
        }
        t.rows.push_back(std::move(row));
      }
      sec.body += figure(xy_svg(ab), t);
    }

    XYPlot pl{prefix + "erank-per-layer",
              "eRank per layer per model (dashed: untrained twin)",
              "layer (hidden_states index)",
              "eRank",
              false,
              {}};
    for (size_t i = 0; i < ok.size(); ++i) {
      Series tr{names[i] + " trained", {}, {}, true, false, int(i)};
      Series un{names[i] + " untrained", {}, {}, true, true, int(i)};
      for (const json& L : ok[i]->value("per_layer", json::array())) {
        tr.x.push_back(L.at("layer").get<double>());
        tr.y.push_back(or_nan(opt_num(L, "erank_trained_a")));
        un.x.push_back(L.at("layer").get<double>());
        un.y.push_back(or_nan(opt_num(L, "erank_untrained_a")));
      }
      pl.series.push_back(std::move(tr));
      pl.series.push_back(std::move(un));
    }
    sec.body += figure(xy_svg(pl), series_table(pl.series, "layer", "eRank per layer"));

    Table mt;
    mt.caption = "Models";
    mt.head = {"model",           "status",       "architecture",
               "parameters",      "layers",       "eRank trained",
               "eRank untrained", "loss trained", "loss untrained",
               "accuracy metric", "error"};
    std::string failed;
    for (const json& m : set.at("models")) {
      const bool good = m.at("status") == "ok";
      mt.rows.push_back({opt_str(m, "name"), opt_str(m, "status"), opt_str(m, "architecture"),
                         good ? count(m.at("n_params").get<double>()) : "",
                         opt_str(m, "n_layers", ""), num(opt_num(m, "erank_trained_a")),
                         num(opt_num(m, "erank_untrained_a")), num(opt_num(m, "loss_trained")),
                         num(opt_num(m, "loss_untrained")),
                         m.contains("accuracy") && opt_num(m, "accuracy")
                             ? opt_str(m, "accuracy_metric", "") + " " +
                                   pm(opt_num(m, "accuracy"), opt_num(m, "accuracy_stderr"))
                             : "",
                         opt_str(m, "error", "")});
      if (!good)
        failed += "<li><b>" + esc(opt_str(m, "name")) +
                  "</b>: " + esc(opt_str(m, "error", "(no error given)")) + "</li>";
    }
    sec.body += "<div class=\"table-wrap wide\">" + table_html(mt) + "</div>\n";
    if (!failed.empty())
      sec.body +=
          "<p>Failed models (left out of the plots):</p><ul class=\"failed\">" + failed + "</ul>\n";

    Table ct;
    ct.caption = "Correlations across the models that ran";
    ct.head = {"x", "y", "n", "Pearson", "Spearman", "Kendall tau-b"};
    for (const json& c : set.value("correlations", json::array()))
      ct.rows.push_back({opt_str(c, "x"), opt_str(c, "y"), opt_str(c, "n"),
                         num(opt_num(c, "pearson")), num(opt_num(c, "spearman")),
                         num(opt_num(c, "kendall"))});
    if (!ct.rows.empty())
      sec.body += "<div class=\"table-wrap wide\">" + table_html(ct) + "</div>\n";
  }
  if (sets.empty()) sec.body += "<p>This sweep holds no text sets.</p>\n";
  return sec;
}

}  // namespace erank::report
