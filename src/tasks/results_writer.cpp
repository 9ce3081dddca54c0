#include "tasks/results_writer.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <set>

#include "core/error.h"
#include "io/atomic_file.h"
#include "tasks/contamination.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace erank {
namespace {

void put_metrics(ojson& o, const std::map<std::string, double>& m,
                 const std::map<std::string, double>& se) {
  for (auto& [k, v] : m) {
    // "metric,filter" (generated answers) or a bare metric (filter "none").
    const size_t comma = k.find(',');
    const std::string metric = k.substr(0, comma);
    const std::string filter = comma == std::string::npos ? "none" : k.substr(comma + 1);
    o[metric + "," + filter] = v;
    auto e = se.find(k);
    if (e != se.end())
      o[metric + "_stderr," + filter] = e->second;
    else
      o[metric + "_stderr," + filter] = "N/A";
  }
}

std::string version_str(double v) {
  if (v == static_cast<int64_t>(v)) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

std::string sanitize_model_name(const std::string& name) {
  std::string s;
  for (char c : name)
    s += (c == '/' || c == '\\' || c == ':') ? std::string("__") : std::string(1, c);
  return s;
}

std::string iso_stamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H-%M-%S", &tm);
  return fmt::format("{}.{:06d}", buf, us);
}

ojson results_json(const EvalOutput& out, const RunInfo& info) {
  ojson r;
  ojson results = ojson::object(), groups = ojson::object(), subtasks = ojson::object();
  ojson configs = ojson::object(), versions = ojson::object(), nshot = ojson::object();
  ojson hib = ojson::object(), nsamples = ojson::object();
  for (auto& g : out.groups) {
    ojson o{{"name", g.name}, {"alias", g.alias}};
    if (g.has_aggregate) {
      o["sample_len"] = g.sample_len;
      put_metrics(o, g.metrics, g.stderrs);
      groups[g.name] = o;
    }
    results[g.name] = o;
  }
  for (auto& t : out.tasks) {
    ojson o{{"name", t.name}, {"alias", t.alias}, {"sample_len", t.n_effective}};
    put_metrics(o, t.metrics, t.stderrs);
    results[t.name] = o;
    configs[t.name] = t.config->raw;
    versions[t.name] = t.config->version();
    nshot[t.name] = t.n_shot;
    ojson h = ojson::object();
    for (auto& m : t.config->metrics) h[m.metric] = m.higher_is_better;
    hib[t.name] = h;
    nsamples[t.name] = {{"original", t.n_original}, {"effective", t.n_effective}};
  }
  std::function<void(const TaskNode&)> sub = [&](const TaskNode& n) {
    if (!n.is_group) return;
    ojson c = ojson::array();
    for (auto& x : n.children) c.push_back(x.name);
    subtasks[n.name] = c;
    for (auto& x : n.children) sub(x);
  };
  for (auto& t : out.trees) sub(t);
  for (auto& g : out.groups) {
    versions[g.name] = nullptr;
    std::set<int> shots;
    for (auto& l : g.leaves)
      for (auto& t : out.tasks)
        if (t.name == l) shots.insert(t.n_shot);
    if (shots.size() == 1) nshot[g.name] = *shots.begin();
  }
  r["results"] = results;
  if (!groups.empty()) r["groups"] = groups;
  r["group_subtasks"] = subtasks;
  r["configs"] = configs;
  r["versions"] = versions;
  r["n-shot"] = nshot;
  r["higher_is_better"] = hib;
  r["n-samples"] = nsamples;
  for (auto& t : out.tasks)  // --contamination: per task, beside lm-eval's fields
    if (!t.contamination.is_null()) r["contamination"][t.name] = t.contamination;
  ojson cfg{{"model", "erank"}, {"model_args", info.model_args}};
  for (auto& [k, v] : info.settings.items()) cfg[k] = v;
  r["config"] = cfg;
  r["date"] = static_cast<double>(std::time(nullptr));
  r["erank_version"] = ERANK_VERSION_STRING;
  r["max_length"] = info.max_length;
  r["model_source"] = info.model_source;
  r["model_name"] = info.model_name;
  r["model_name_sanitized"] = sanitize_model_name(info.model_name);
  r["system_instruction"] =
      info.system_instruction.empty() ? ojson() : ojson(info.system_instruction);
  r["fewshot_as_multiturn"] = info.fewshot_as_multiturn;
  r["chat_template"] = info.chat_template.empty() ? ojson() : ojson(info.chat_template);
  r["total_evaluation_time_seconds"] = fmt::format("{}", out.seconds);
  r["n_requests"] = out.n_requests;
  return r;
}

std::string write_results(const std::string& dir, const EvalOutput& out, const RunInfo& info,
                          const std::string& stamp, bool samples) {
  const fs::path base = fs::path(dir) / sanitize_model_name(info.model_name);
  std::error_code ec;
  fs::create_directories(base, ec);
  if (ec) fail("{}: cannot create the output folder: {}", base.string(), ec.message());
  if (samples)
    for (auto& t : out.tasks) {
      AtomicFile f((base / fmt::format("samples_{}_{}.jsonl", t.name, stamp)).string());
      for (auto& s : t.samples)
        f.write(s.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
      f.commit();
    }
  const std::string path = (base / fmt::format("results_{}.json", stamp)).string();
  write_file_atomic(
      path,
      results_json(out, info).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return path;
}

std::string results_table(const EvalOutput& out) {
  struct Row {
    std::string name, version, filter, nshot, metric, arrow, value, pm, err;
  };
  std::vector<Row> rows;
  auto add = [&](const std::string& name, const std::string& version, const std::string& nshot,
                 const std::map<std::string, double>& m, const std::map<std::string, double>& se,
                 const std::map<std::string, bool>& hib) {
    bool first = true;
    std::string last_filter;
    for (auto& [key, v] : m) {
      const size_t comma = key.find(',');
      const std::string k = key.substr(0, comma);
      const std::string filter = comma == std::string::npos ? "none" : key.substr(comma + 1);
      Row r{first ? name : "",
            first ? version : "",
            first || filter != last_filter ? filter : "",
            first ? nshot : "",
            k,
            "",
            fmt::format("{:.4f}", v),
            "±",
            "N/A"};
      auto h = hib.find(k.starts_with("pass@") ? std::string("pass_at_k") : k);
      r.arrow = h == hib.end() ? "" : (h->second ? "↑" : "↓");
      auto e = se.find(key);
      if (e != se.end()) r.err = fmt::format("{:.4f}", e->second);
      rows.push_back(r);
      first = false;
      last_filter = filter;
    }
  };
  std::map<std::string, const TaskResult*> by_name;
  for (auto& t : out.tasks) by_name[t.name] = &t;
  std::set<std::string> shown;
  std::function<void(const TaskNode&, int)> walk = [&](const TaskNode& n, int depth) {
    const std::string pad = depth ? std::string(size_t(depth - 1) * 1, ' ') + " - " : "";
    if (!n.is_group) {
      const TaskResult* t = by_name.at(n.name);
      std::map<std::string, bool> hib;
      for (auto& m : t->config->metrics) hib[m.metric] = m.higher_is_better;
      add(pad + t->alias, version_str(t->config->version()), std::to_string(t->n_shot), t->metrics,
          t->stderrs, hib);
      return;
    }
    for (auto& g : out.groups)
      if (g.name == n.name && shown.insert(g.name).second) {
        if (g.has_aggregate) {
          std::map<std::string, bool> hib;
          for (auto& [k, v] : g.metrics) hib[k] = true;
          add(pad + g.alias, "", "", g.metrics, g.stderrs, hib);
        } else {
          rows.push_back({pad + g.alias, "", "", "", "", "", "", "", ""});
        }
        break;
      }
    for (auto& c : n.children) walk(c, depth + 1);
  };
  for (auto& t : out.trees) walk(t, 0);
  const std::vector<std::string> head = {"Tasks", "Version", "Filter", "n-shot", "Metric",
                                         "",      "Value",   "",       "Stderr"};
  std::vector<size_t> w(head.size());
  auto cells = [](const Row& r) {
    return std::vector<std::string>{r.name,  r.version, r.filter, r.nshot, r.metric,
                                    r.arrow, r.value,   r.pm,     r.err};
  };
  auto width = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (size_t i = 0; i < head.size(); ++i) w[i] = std::max<size_t>(1, width(head[i]));
  for (auto& r : rows) {
    auto c = cells(r);
    for (size_t i = 0; i < c.size(); ++i) w[i] = std::max(w[i], width(c[i]));
  }
  const std::vector<bool> right = {false, true, false, true, false, false, true, false, true};
  auto line = [&](const std::vector<std::string>& c) {
    std::string s = "|";
    for (size_t i = 0; i < c.size(); ++i) {
      const std::string fill(w[i] - width(c[i]), ' ');
      s += right[i] ? fill + c[i] : c[i] + fill;
      s += "|";
    }
    return s + "\n";
  };
  std::string s = line(head);
  s += "|";
  for (size_t i = 0; i < w.size(); ++i)
    s += std::string(w[i] - 1, '-') + (right[i] ? ":" : "-") + "|";
  s += "\n";
  for (auto& r : rows) s += line(cells(r));
  return s + contamination_table(out);
}

}  // namespace erank
