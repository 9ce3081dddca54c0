#include "tasks/task_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "core/error.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

#ifndef ERANK_SOURCE_DIR_DEFAULT
#define ERANK_SOURCE_DIR_DEFAULT ""
#endif

namespace erank {
namespace {

// PyYAML's YAML 1.1 resolvers, hand-scanned (std::regex trips g++ 12's maybe-uninitialized
// warning in the sanitizer build). Sexagesimal numbers, .inf and .nan are left as strings.
bool all_of_class(std::string_view s, const char* cls) {
  return !s.empty() && s.find_first_not_of(cls) == std::string_view::npos &&
         s.find_first_not_of('_') != std::string_view::npos;
}

// [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
std::optional<long long> yaml11_int(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  int base = 10;
  std::string_view digits = s;
  if (s == "0") {
    return 0;
  } else if (s.starts_with("0b")) {
    base = 2, digits = s.substr(2);
    if (!all_of_class(digits, "01_")) return std::nullopt;
  } else if (s.starts_with("0x")) {
    base = 16, digits = s.substr(2);
    if (!all_of_class(digits, "0123456789abcdefABCDEF_")) return std::nullopt;
  } else if (s[0] == '0') {
    base = 8, digits = s.substr(1);
    if (!all_of_class(digits, "01234567_")) return std::nullopt;
  } else if (s[0] < '1' || s[0] > '9' || !all_of_class(s, "0123456789_")) {
    return std::nullopt;
  }
  std::string t(digits);
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  errno = 0;
  long long v = std::strtoll(t.c_str(), nullptr, base);
  if (errno == ERANGE) return std::nullopt;  // Python's ints are unbounded; keep the text
  return neg ? -v : v;
}

// [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9_]+([eE][-+][0-9]+)?
std::optional<double> yaml11_float(std::string_view s) {
  std::string_view body = s;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) body.remove_prefix(1);
  const size_t dot = body.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const bool signed_ = body.size() != s.size();
  std::string_view int_part = body.substr(0, dot), rest = body.substr(dot + 1);
  const size_t e = rest.find_first_of("eE");
  std::string_view frac = rest.substr(0, e);
  if (e != std::string_view::npos) {
    std::string_view exp = rest.substr(e + 1);
    if (exp.size() < 2 || (exp[0] != '-' && exp[0] != '+') ||
        exp.substr(1).find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
  }
  if (!frac.empty() && frac.find_first_not_of("0123456789_") != std::string_view::npos)
    return std::nullopt;
  if (int_part.empty()) {
    if (signed_ || !all_of_class(frac, "0123456789_")) return std::nullopt;
  } else if (int_part[0] < '0' || int_part[0] > '9' || !all_of_class(int_part, "0123456789_")) {
    return std::nullopt;
  }
  std::string t(s);
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  return std::strtod(t.c_str(), nullptr);
}

// A plain (unquoted) scalar typed as PyYAML's YAML 1.1 resolver does for what task files hold:
// null, booleans, decimal integers and floats; everything else is a string.
ojson plain_scalar(const std::string& s) {
  static const std::set<std::string> nulls = {"", "~", "null", "Null", "NULL"};
  static const std::set<std::string> trues = {"true", "True", "TRUE", "yes", "Yes",
                                              "YES",  "on",   "On",   "ON"};
  static const std::set<std::string> falses = {"false", "False", "FALSE", "no", "No",
                                               "NO",    "off",   "Off",   "OFF"};
  if (nulls.count(s)) return nullptr;
  if (trues.count(s)) return true;
  if (falses.count(s)) return false;
  if (auto i = yaml11_int(s)) return *i;
  if (auto f = yaml11_float(s)) return *f;
  return s;
}

ojson to_json(const YAML::Node& n, const std::string& file) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& tag = n.Tag();
      if (tag == "!function") return ojson{{"!function", n.Scalar()}};
      if (tag == "!") return n.Scalar();  // quoted
      if (tag != "?" && !tag.empty() && tag != "tag:yaml.org,2002:str")
        fail("{}:{}: YAML tag '{}' is not supported", file, n.Mark().line + 1, tag);
      return tag == "tag:yaml.org,2002:str" ? ojson(n.Scalar()) : plain_scalar(n.Scalar());
    }
    case YAML::NodeType::Sequence: {
      ojson a = ojson::array();
      for (const auto& x : n) a.push_back(to_json(x, file));
      return a;
    }
    case YAML::NodeType::Map: {
      ojson o = ojson::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = to_json(kv.second, file);
      return o;
    }
  }
  return nullptr;
}

std::vector<ojson> parse_yaml(const std::string& text, const std::string& file) {
  std::vector<ojson> docs;
  try {
    for (const auto& d : YAML::LoadAll(text)) {
      if (d.IsNull()) continue;
      if (!d.IsMap())
        fail("{}:{}: a task file document must be a mapping", file, d.Mark().line + 1);
      docs.push_back(to_json(d, file));
    }
  } catch (const YAML::Exception& e) {
    fail("{}:{}: malformed YAML: {}", file, e.mark.line + 1, e.msg);
  }
  return docs;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) fail("{}: cannot read the task file", p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// `include: other.yaml` (relative to the including file): the included mapping first, this one
// over it, recursively, as lm-eval's loader does.
ojson resolve_includes(ojson doc, const fs::path& file, int depth = 0) {
  if (!doc.contains("include")) return doc;
  if (depth > 16) fail("{}: includes nested more than 16 deep (a cycle?)", file.string());
  if (!doc["include"].is_string()) fail("{}: `include` must be a file name", file.string());
  fs::path inc = doc["include"].get<std::string>();
  if (inc.is_relative()) inc = file.parent_path() / inc;
  if (!fs::exists(inc)) fail("{}: included file {} does not exist", file.string(), inc.string());
  auto docs = parse_yaml(read_text(inc), inc.string());
  if (docs.size() != 1) fail("{}: an included file must hold one document", inc.string());
  ojson base = resolve_includes(docs[0], inc, depth + 1);
  doc.erase("include");
  for (auto& [k, v] : doc.items()) base[k] = v;
  return base;
}

std::string str_field(const ojson& j, const char* key, const std::string& file,
                      const std::string& def = "") {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_string()) fail("{}: `{}` must be a string", file, key);
  return j[key].get<std::string>();
}

std::optional<std::string> opt_str(const ojson& j, const char* key, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_string()) fail("{}: `{}` must be a string", file, key);
  return j[key].get<std::string>();
}

bool glob_match(const std::string& pat, const std::string& s) {
  // Shell-style `*` and `?` (fnmatch without classes), iterative with backtracking.
  size_t p = 0, i = 0, star = std::string::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p, ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++, mark = i;
    } else if (star != std::string::npos) {
      p = star + 1, i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

}  // namespace

std::string TaskConfig::eval_split() const {
  if (test_split) return *test_split;
  if (validation_split) return *validation_split;
  fail("{}: task {} has neither test_split nor validation_split", file, task);
}

double TaskConfig::version() const {
  if (metadata.is_object() && metadata.contains("version") && metadata["version"].is_number())
    return metadata["version"].get<double>();
  return 0;
}

TaskConfig task_from_json(const ojson& j, const std::string& file) {
  TaskConfig t;
  t.raw = j;
  t.file = file;
  t.task = str_field(j, "task", file);
  if (t.task.empty()) fail("{}: a task needs a `task` name", file);
  const std::string where = file + " (task " + t.task + ")";
  t.task_alias = str_field(j, "task_alias", where);
  if (j.contains("tag")) {
    if (j["tag"].is_string())
      t.tags.push_back(j["tag"]);
    else if (j["tag"].is_array())
      for (auto& x : j["tag"]) t.tags.push_back(x.get<std::string>());
  }
  t.dataset_path = str_field(j, "dataset_path", where);
  t.dataset_name = str_field(j, "dataset_name", where);
  if (j.contains("dataset_kwargs") && j["dataset_kwargs"].is_object())
    t.dataset_kwargs = j["dataset_kwargs"];
  t.training_split = opt_str(j, "training_split", where);
  t.validation_split = opt_str(j, "validation_split", where);
  t.test_split = opt_str(j, "test_split", where);
  t.fewshot_split = opt_str(j, "fewshot_split", where);
  if (j.contains("process_docs") && !j["process_docs"].is_null()) {
    const auto& p = j["process_docs"];
    if (p.is_object() && p.contains("!function"))
      fail(
          "{}: process_docs is a Python function ({}); erank runs no Python: name one of its "
          "built-in processors instead (see tasks/README.md)",
          where, p["!function"].get<std::string>());
    if (!p.is_string()) fail("{}: `process_docs` must be a built-in processor name", where);
    t.process_docs = p.get<std::string>();
  }
  auto field = [&](const char* key) -> ojson {
    if (!j.contains(key)) return nullptr;
    const ojson& v = j[key];
    if (v.is_object() && v.contains("!function"))
      fail("{}: `{}` is a Python function ({}); write it as a Jinja template", where, key,
           v["!function"].get<std::string>());
    if (!(v.is_null() || v.is_string() || v.is_number_integer() || v.is_array() || v.is_object()))
      fail("{}: `{}` must be a field name, a template, an index or a list", where, key);
    return v;
  };
  t.doc_to_text = field("doc_to_text");
  t.doc_to_target = field("doc_to_target");
  t.doc_to_choice = field("doc_to_choice");
  t.description = str_field(j, "description", where);
  t.target_delimiter = str_field(j, "target_delimiter", where, " ");
  t.fewshot_delimiter = str_field(j, "fewshot_delimiter", where, "\n\n");
  t.gen_prefix = str_field(j, "gen_prefix", where);
  if (j.contains("fewshot_config") && j["fewshot_config"].is_object()) {
    const auto& f = j["fewshot_config"];
    t.fewshot_sampler = str_field(f, "sampler", where, "default");
    if (auto s = opt_str(f, "split", where)) t.fewshot_split = s;
    if (f.contains("doc_to_text")) t.fewshot_doc_to_text = f["doc_to_text"];
    if (f.contains("doc_to_target")) t.fewshot_doc_to_target = f["doc_to_target"];
    if (f.contains("doc_to_choice")) t.fewshot_doc_to_choice = f["doc_to_choice"];
    t.fewshot_target_delimiter = opt_str(f, "target_delimiter", where);
    t.fewshot_fewshot_delimiter = opt_str(f, "fewshot_delimiter", where);
    if (f.contains("samples")) {
      if (!f["samples"].is_array())
        fail("{}: fewshot_config.samples must be a list of documents (erank runs no Python)",
             where);
      t.fewshot_samples = f["samples"];
    }
  }
  if (t.fewshot_sampler != "default" && t.fewshot_sampler != "first_n")
    fail("{}: fewshot sampler '{}' is not one of: default, first_n", where, t.fewshot_sampler);
  if (j.contains("num_fewshot") && !j["num_fewshot"].is_null()) {
    if (!j["num_fewshot"].is_number_integer() || j["num_fewshot"].get<int>() < 0)
      fail("{}: `num_fewshot` must be a non-negative integer", where);
    t.num_fewshot = j["num_fewshot"].get<int>();
  }
  t.output_type = str_field(j, "output_type", where, "generate_until");
  if (j.contains("metric_list") && j["metric_list"].is_array()) {
    for (auto& m : j["metric_list"]) {
      MetricSpec ms;
      if (m.is_object() && m.contains("metric") && m["metric"].is_object() &&
          m["metric"].contains("!function"))
        fail("{}: metric {} is a Python function; name one of erank's metrics instead", where,
             m["metric"]["!function"].get<std::string>());
      if (!m.is_object() || !m.contains("metric") || !m["metric"].is_string())
        fail("{}: every metric_list entry needs a `metric` name", where);
      ms.metric = m["metric"];
      if (m.contains("aggregation") && m["aggregation"].is_string())
        ms.aggregation = m["aggregation"];
      if (m.contains("higher_is_better") && m["higher_is_better"].is_boolean())
        ms.higher_is_better = m["higher_is_better"];
      for (auto& [k, v] : m.items())
        if (k != "metric" && k != "aggregation" && k != "higher_is_better") ms.kwargs[k] = v;
      t.metrics.push_back(ms);
    }
  }
  if (t.metrics.empty() && t.output_type == "multiple_choice")
    t.metrics = {{"acc", "mean", true}, {"acc_norm", "mean", true}};
  if (j.contains("metadata") && j["metadata"].is_object()) t.metadata = j["metadata"];
  if (j.contains("generation_kwargs") && !j["generation_kwargs"].is_null()) {
    if (!j["generation_kwargs"].is_object())
      fail("{}: `generation_kwargs` must be a mapping", where);
    t.generation_kwargs = j["generation_kwargs"];
  }
  if (j.contains("repeats") && !j["repeats"].is_null()) {
    if (!j["repeats"].is_number_integer() || j["repeats"].get<int>() < 1)
      fail("{}: `repeats` must be a positive integer", where);
    t.repeats = j["repeats"];
  }
  if (j.contains("filter_list") && !j["filter_list"].is_null()) {
    if (!j["filter_list"].is_array()) fail("{}: `filter_list` must be a list", where);
    for (auto& f : j["filter_list"])
      if (!f.is_object() || !f.contains("name") || !f.contains("filter") || !f["filter"].is_array())
        fail("{}: every filter_list entry needs a `name` and a `filter` list", where);
    t.filter_list = j["filter_list"];
  }
  if (j.contains("process_results") && !j["process_results"].is_null()) {
    const auto& p = j["process_results"];
    if (p.is_object() && p.contains("!function"))
      fail(
          "{}: process_results is a Python function ({}); name one of erank's built-in "
          "processors instead",
          where, p["!function"].get<std::string>());
    if (!p.is_string()) fail("{}: `process_results` must be a built-in processor name", where);
    t.process_results = p;
  }
  if (j.contains("unsafe_code") && j["unsafe_code"].is_boolean()) t.unsafe_code = j["unsafe_code"];
  if (t.output_type != "multiple_choice" && t.output_type != "generate_until")
    fail("{}: output_type '{}' is not supported (multiple_choice, generate_until)", where,
         t.output_type);
  if (j.contains("data_layout")) {
    if (j["data_layout"].is_string())
      t.data_layout.push_back(j["data_layout"]);
    else if (j["data_layout"].is_array())
      for (auto& x : j["data_layout"]) t.data_layout.push_back(x.get<std::string>());
  }
  if (!t.test_split && !t.validation_split)
    fail("{}: the task needs a test_split or a validation_split", where);
  return t;
}

void TaskRegistry::add_yaml(const std::string& text, const std::string& file) {
  for (ojson doc : parse_yaml(text, file)) {
    doc = resolve_includes(std::move(doc), file);
    if (doc.contains("group") && doc.contains("task") && doc["task"].is_array()) {
      GroupConfig g;
      g.file = file;
      g.group = str_field(doc, "group", file);
      g.group_alias = str_field(doc, "group_alias", file);
      for (auto& x : doc["task"]) {
        if (!x.is_string()) fail("{}: group {}: `task` entries must be names", file, g.group);
        g.tasks.push_back(x);
      }
      if (doc.contains("aggregate_metric_list"))
        for (auto& m : doc["aggregate_metric_list"]) {
          AggregateSpec a;
          a.metric = str_field(m, "metric", file);
          if (m.contains("weight_by_size") && m["weight_by_size"].is_boolean())
            a.weight_by_size = m["weight_by_size"];
          g.aggregate.push_back(a);
        }
      if (doc.contains("metadata")) g.metadata = doc["metadata"];
      if (groups_.count(g.group)) fail("{}: group {} is defined twice", file, g.group);
      groups_[g.group] = g;
      continue;
    }
    std::vector<ojson> variants;
    if (doc.contains("variants")) {
      if (!doc["variants"].is_array()) fail("{}: `variants` must be a list of mappings", file);
      ojson base = doc;
      base.erase("variants");
      for (auto& v : doc["variants"]) {
        if (!v.is_object()) fail("{}: `variants` must be a list of mappings", file);
        ojson m = base;
        for (auto& [k, x] : v.items()) m[k] = x;
        variants.push_back(std::move(m));
      }
    } else {
      variants.push_back(doc);
    }
    for (auto& v : variants) {
      TaskConfig t = task_from_json(v, file);
      if (tasks_.count(t.task))
        fail("{}: task {} is already defined in {}", file, t.task, tasks_[t.task].file);
      order_.push_back(t.task);
      tasks_[t.task] = std::move(t);
    }
  }
}

TaskRegistry TaskRegistry::load(const std::vector<std::string>& dirs) {
  TaskRegistry reg;
  for (const auto& d : dirs) {
    if (!fs::is_directory(d)) continue;
    std::vector<fs::path> files;
    for (auto& e : fs::recursive_directory_iterator(d))
      if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      // Files starting with `_` are templates for `include`, as lm-eval's _default_template_yaml.
      if (f.filename().string().starts_with("_")) continue;
      reg.add_yaml(read_text(f), f.string());
    }
  }
  return reg;
}

std::vector<std::string> TaskRegistry::default_dirs(const std::vector<std::string>& extra) {
  std::vector<std::string> dirs;
  if (const char* e = std::getenv("ERANK_TASKS"); e && *e) dirs.emplace_back(e);
  if (const char* s = ERANK_SOURCE_DIR_DEFAULT; *s) dirs.push_back(std::string(s) + "/tasks");
  for (auto& x : extra) dirs.push_back(x);
  return dirs;
}

const TaskConfig* TaskRegistry::task(const std::string& name) const {
  auto it = tasks_.find(name);
  return it == tasks_.end() ? nullptr : &it->second;
}

const GroupConfig* TaskRegistry::group(const std::string& name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

std::vector<std::string> TaskRegistry::tagged(const std::string& tag) const {
  std::vector<std::string> out;
  for (auto& n : order_) {
    auto& t = tasks_.at(n);
    if (std::find(t.tags.begin(), t.tags.end(), tag) != t.tags.end()) out.push_back(n);
  }
  return out;
}

std::vector<std::string> TaskRegistry::task_names() const {
  return order_;
}

std::vector<std::string> TaskRegistry::group_names() const {
  std::vector<std::string> out;
  for (auto& [k, v] : groups_) out.push_back(k);
  return out;
}

namespace {

TaskNode expand(const TaskRegistry& reg, const std::string& name, int depth) {
  if (depth > 32) fail("task group {} nests more than 32 deep (a cycle?)", name);
  TaskNode n{name, false, nullptr, {}};
  if (reg.task(name)) return n;
  if (const GroupConfig* g = reg.group(name)) {
    n.is_group = true;
    n.group = g;
    for (auto& c : g->tasks) n.children.push_back(expand(reg, c, depth + 1));
    return n;
  }
  auto tagged = reg.tagged(name);
  if (!tagged.empty()) {  // a tag is a group without its own aggregate
    n.is_group = true;
    for (auto& t : tagged) n.children.push_back({t, false, nullptr, {}});
    return n;
  }
  // Close matches: names sharing the longest prefix.
  std::vector<std::string> all = reg.task_names();
  for (auto& g : reg.group_names()) all.push_back(g);
  std::vector<std::pair<size_t, std::string>> scored;
  for (auto& a : all) {
    size_t k = 0;
    while (k < a.size() && k < name.size() && a[k] == name[k]) ++k;
    scored.push_back({k, a});
  }
  std::sort(scored.begin(), scored.end(), [](auto& x, auto& y) { return x.first > y.first; });
  std::string hint;
  for (size_t i = 0; i < std::min<size_t>(5, scored.size()); ++i)
    hint += (i ? ", " : "") + scored[i].second;
  fail("unknown task '{}'{}", name, hint.empty() ? "" : "; close: " + hint);
}

void leaves(const TaskNode& n, std::vector<std::string>& out, std::set<std::string>& seen) {
  if (!n.is_group) {
    if (seen.insert(n.name).second) out.push_back(n.name);
    return;
  }
  for (auto& c : n.children) leaves(c, out, seen);
}

}  // namespace

std::vector<TaskNode> resolve_tasks(const TaskRegistry& reg,
                                    const std::vector<std::string>& names) {
  std::vector<TaskNode> roots;
  for (auto& name : names) {
    if (name.find_first_of("*?") != std::string::npos) {
      bool any = false;
      for (auto& t : reg.task_names())
        if (glob_match(name, t)) roots.push_back({t, false, nullptr, {}}), any = true;
      if (!any) fail("no task matches '{}'", name);
      continue;
    }
    roots.push_back(expand(reg, name, 0));
  }
  if (roots.empty()) fail("no task given (--tasks)");
  return roots;
}

std::vector<std::string> leaf_tasks(const std::vector<TaskNode>& roots) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& r : roots) leaves(r, out, seen);
  return out;
}

}  // namespace erank
