#include "tasks/filters.h"

#include <utf8proc.h>

#include <set>

#include "core/error.h"
#include "tasks/gen_metrics.h"
#include "template/pystr.h"

namespace erank::grading {
namespace {

using ojson = nlohmann::ordered_json;
namespace pystr = tmpl::pystr;

std::string py_strip(std::string_view s) {
  return pystr::strip(s, std::nullopt, true, true);
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// str.translate with every Unicode punctuation (category P*) deleted, as MultiChoiceRegexFilter.
std::string drop_punctuation(std::string_view s) {
  std::vector<char32_t> kept;
  for (char32_t c : pystr::decode(s)) {
    const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    if (cat < UTF8PROC_CATEGORY_PC || cat > UTF8PROC_CATEGORY_PO) kept.push_back(c);
  }
  return pystr::encode(kept);
}

// find_match of MultiChoiceRegexFilter: "" when there is no match (Python's falsy []).
std::string find_match(const PyRegex& re, std::string_view resp, int64_t group_select,
                       const std::map<std::string, std::string>* convert) {
  const auto all = re.findall(resp);
  if (all.empty()) return "";
  const int64_t n = int64_t(all.size());
  const int64_t i = group_select < 0 ? n + group_select : group_select;
  if (i < 0 || i >= n) fail("multi_choice_regex: group_select {} with {} matches", group_select, n);
  const auto& m = all[size_t(i)];
  std::string out;
  if (re.groups() <= 1) {
    out = m[0];
  } else {
    auto it = std::find_if(m.begin(), m.end(), [](const std::string& g) { return !g.empty(); });
    if (it == m.end()) return "";
    out = *it;
  }
  out = py_strip(out);
  if (convert && !out.empty()) {
    auto c = convert->find(out);
    if (c != convert->end()) out = c->second;
  }
  return out;
}

const ojson& list_of(const ojson& v, std::string_view fn) {
  if (!v.is_array())
    fail("filter {}: needs the list of responses, got {} (a step after take_first?)", fn, v.dump());
  return v;
}

std::string str_of(const ojson& v, std::string_view fn) {
  if (!v.is_string()) fail("filter {}: response {} is not a string", fn, v.dump());
  return v.get<std::string>();
}

// Arguments of one step: checked against the names the filter's constructor takes.
struct Args {
  const ojson& step;
  std::string fn;
  Args(const ojson& s, std::string f, std::initializer_list<const char*> known) : step(s), fn(f) {
    std::set<std::string> ok(known.begin(), known.end());
    for (auto& [k, v] : step.items())
      if (k != "function" && !ok.count(k)) fail("filter {}: unexpected argument '{}'", fn, k);
  }
  bool has(const char* k) const { return step.contains(k); }
  std::string str(const char* k, std::string def) const {
    if (!has(k)) return def;
    if (!step[k].is_string()) fail("filter {}: '{}' must be a string", fn, k);
    return step[k].get<std::string>();
  }
  int64_t integer(const char* k, int64_t def) const {
    if (!has(k)) return def;
    if (!step[k].is_number_integer()) fail("filter {}: '{}' must be an integer", fn, k);
    return step[k].get<int64_t>();
  }
  bool boolean(const char* k) const {
    if (!has(k)) return false;
    if (!step[k].is_boolean()) fail("filter {}: '{}' must be true or false", fn, k);
    return step[k].get<bool>();
  }
};

template <typename F>
FilterPipeline::Step each_string(std::string fn, F f) {
  return [fn, f](const ojson& v, const ojson&) {
    ojson out = ojson::array();
    for (auto& r : list_of(v, fn)) out.push_back(f(r));
    return out;
  };
}

FilterPipeline::Step humaneval_step(bool instruct) {
  // build_predictions[_instruct]: the function's prompt + each completion (cut at ``` for
  // instruct models), the program the sandbox runs with the tests.
  return [instruct](const ojson& v, const ojson& doc) {
    if (!doc.contains("prompt") || !doc["prompt"].is_string())
      fail("filter create_test: the document has no string 'prompt'");
    const std::string prompt = doc["prompt"].get<std::string>();
    ojson out = ojson::array();
    for (auto& r : list_of(v, "create_test")) {
      std::string s = str_of(r, "create_test");
      if (instruct) s = s.substr(0, s.find("```"));
      out.push_back(prompt + s);
    }
    return out;
  };
}

FilterPipeline::Step make_step(const ojson& step) {
  if (!step.is_object() || !step.contains("function") || !step["function"].is_string())
    fail("filter step {} has no \"function\"", step.dump());
  const std::string fn = step["function"].get<std::string>();
  if (fn == "regex") {
    Args a(step, fn, {"regex_pattern", "group_select", "fallback"});
    const PyRegex& re = py_regex_cached(a.str("regex_pattern", R"(#### (\-?[0-9\.\,]+))"));
    const int64_t sel = a.integer("group_select", 0);
    const std::string fb = a.str("fallback", "[invalid]");
    return each_string(fn, [&re, sel, fb](const ojson& r) {
      return regex_extract(re, r.is_string() ? r.get<std::string>() : "", sel, fb);
    });
  }
  if (fn == "multi_choice_regex") {
    Args a(step, fn,
           {"regex_pattern", "group_select", "fallback", "ignore_case", "ignore_punctuation",
            "regexes_to_ignore"});
    MultiChoiceOptions o;
    o.regex_pattern = a.str("regex_pattern", o.regex_pattern);
    o.group_select = a.integer("group_select", 0);
    o.fallback = a.str("fallback", o.fallback);
    o.ignore_case = a.boolean("ignore_case");
    o.ignore_punctuation = a.boolean("ignore_punctuation");
    if (a.has("regexes_to_ignore") && !step["regexes_to_ignore"].is_null()) {
      for (auto& r : step["regexes_to_ignore"]) {
        if (!r.is_string()) fail("filter {}: regexes_to_ignore must be strings", fn);
        py_regex_cached(r.get<std::string>());  // a bad pattern fails now
        o.regexes_to_ignore.push_back(r.get<std::string>());
      }
    }
    py_regex_cached(o.regex_pattern);
    return [o](const ojson& v, const ojson& doc) {
      if (!doc.contains("choices") || !doc["choices"].is_array())
        fail("filter multi_choice_regex: the document has no 'choices' list");
      std::vector<std::string> choices;
      for (auto& c : doc["choices"]) choices.push_back(str_of(c, "multi_choice_regex"));
      const MultiChoiceExtractor ex(o, choices);
      ojson out = ojson::array();
      for (auto& r : list_of(v, "multi_choice_regex"))
        out.push_back(ex(r.is_string() ? r.get<std::string>() : ""));
      return out;
    };
  }
  if (fn == "take_first") {
    Args a(step, fn, {});
    return [](const ojson& v, const ojson&) {
      const ojson& l = list_of(v, "take_first");
      if (l.empty()) fail("filter take_first: no responses");
      return l[0];
    };
  }
  if (fn == "take_first_k") {
    Args a(step, fn, {"k"});
    if (!a.has("k")) fail("filter take_first_k: missing 'k'");
    const int64_t k = a.integer("k", 0);
    return [k](const ojson& v, const ojson&) {
      const ojson& l = list_of(v, "take_first_k");
      if (int64_t(l.size()) < k)
        fail("filter take_first_k: need at least {} responses per doc, got {} (raise repeats)", k,
             l.size());
      ojson out = ojson::array();
      for (int64_t i = 0; i < k; ++i) out.push_back(l[size_t(i)]);
      return out;
    };
  }
  if (fn == "majority_vote") {
    Args a(step, fn, {});
    return [](const ojson& v, const ojson&) {
      const ojson& l = list_of(v, "majority_vote");
      if (l.empty()) fail("filter majority_vote: no responses");
      // Counter.most_common(1): highest count, first seen among equals.
      std::vector<std::pair<ojson, size_t>> counts;
      for (auto& r : l) {
        auto it = std::find_if(counts.begin(), counts.end(), [&](auto& c) { return c.first == r; });
        if (it == counts.end())
          counts.emplace_back(r, 1);
        else
          ++it->second;
      }
      size_t best = 0;
      for (size_t i = 1; i < counts.size(); ++i)
        if (counts[i].second > counts[best].second) best = i;
      return ojson::array({counts[best].first});
    };
  }
  if (fn == "remove_whitespace") {
    Args a(step, fn, {});
    return each_string(fn, [fn](const ojson& r) { return py_strip(str_of(r, fn)); });
  }
  if (fn == "lowercase" || fn == "uppercase") {
    Args a(step, fn, {});
    const bool lower = fn == "lowercase";
    return each_string(fn, [fn, lower](const ojson& r) {
      return lower ? py_lower(str_of(r, fn)) : py_upper(str_of(r, fn));
    });
  }
  if (fn == "map") {
    Args a(step, fn, {"mapping_dict", "default_value"});
    const ojson dict = a.has("mapping_dict") ? step["mapping_dict"] : ojson::object();
    if (!dict.is_object() && !dict.is_null()) fail("filter map: mapping_dict must be a mapping");
    const ojson def = a.has("default_value") ? step["default_value"] : ojson();
    return each_string(fn, [dict, def](const ojson& r) {
      if (r.is_string() && dict.is_object() && dict.contains(r.get<std::string>()))
        return dict[r.get<std::string>()];
      return def;
    });
  }
  if (fn == "create_test" || fn == "create_test_instruct") {
    Args a(step, fn, {});
    return humaneval_step(fn == "create_test_instruct");
  }
  if (fn == "custom") {
    Args a(step, fn, {"filter_fn"});
    const std::string f = a.str("filter_fn", "");
    if (f.ends_with("build_predictions")) return humaneval_step(false);
    if (f.ends_with("build_predictions_instruct")) return humaneval_step(true);
    fail(
        "filter custom: unknown filter_fn '{}' (erank knows HumanEval's build_predictions and "
        "build_predictions_instruct)",
        f);
  }
  fail(
      "unknown filter function '{}' (known: regex, multi_choice_regex, take_first, "
      "take_first_k, majority_vote, remove_whitespace, lowercase, uppercase, map, create_test, "
      "create_test_instruct, custom)",
      fn);
}

}  // namespace

std::string regex_extract(const PyRegex& re, std::string_view resp, int64_t group_select,
                          std::string_view fallback) {
  const auto all = re.findall(resp);
  if (all.empty()) return std::string(fallback);
  const int64_t n = int64_t(all.size());
  const int64_t i = group_select < 0 ? n + group_select : group_select;
  if (i < 0 || i >= n)
    fail("filter regex: group_select {} is out of range for {} matches of '{}'", group_select, n,
         re.pattern());
  const auto& m = all[size_t(i)];
  if (re.groups() <= 1) return py_strip(m[0]);
  for (auto& g : m)
    if (!g.empty()) return py_strip(g);
  return py_strip(fallback);
}

MultiChoiceExtractor::MultiChoiceExtractor(const MultiChoiceOptions& o,
                                           const std::vector<std::string>& choices)
    : o_(o), main_(&py_regex_cached(o.regex_pattern)) {
  std::vector<std::string> by_text, letters;
  char letter = 'A';
  for (auto& c : choices) {
    const std::string m = ignore(py_strip(c));
    by_text.push_back(py_re_escape(m));
    text_to_letter_[m] = fmt::format("({})", letter);
    letters.emplace_back(1, letter);
    letter_to_target_[std::string(1, letter)] = fmt::format("({})", letter);
    ++letter;
  }
  // Longest choice first (stable, by code points): a choice that is a prefix of another must not
  // shadow it in the alternation.
  std::stable_sort(by_text.begin(), by_text.end(), [](const std::string& a, const std::string& b) {
    return code_points(a) > code_points(b);
  });
  std::string alt, alt_letters;
  for (size_t i = 0; i < by_text.size(); ++i) alt += (i ? "|" : "") + by_text[i];
  for (size_t i = 0; i < letters.size(); ++i) alt_letters += (i ? "|" : "") + letters[i];
  by_text_.emplace(alt);
  by_letter_.emplace(":[\\s]*(" + alt_letters + ")");
}

std::string MultiChoiceExtractor::ignore(std::string s) const {
  for (auto& r : o_.regexes_to_ignore) s = py_regex_cached(r).sub("", s);
  if (o_.ignore_case) s = py_lower(s);
  if (o_.ignore_punctuation) s = drop_punctuation(s);
  return s;
}

std::string MultiChoiceExtractor::operator()(std::string_view resp) const {
  std::string m = find_match(*main_, resp, o_.group_select, nullptr);
  if (m.empty())
    m = find_match(*by_text_, ignore(std::string(resp)), o_.group_select, &text_to_letter_);
  if (m.empty()) m = find_match(*by_letter_, resp, o_.group_select, &letter_to_target_);
  return m.empty() ? o_.fallback : m;
}

std::string majority_vote(const std::vector<std::string>& resps) {
  if (resps.empty()) fail("majority_vote: no responses");
  std::vector<std::pair<std::string, size_t>> counts;
  for (auto& r : resps) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](auto& c) { return c.first == r; });
    if (it == counts.end())
      counts.emplace_back(r, 1);
    else
      ++it->second;
  }
  size_t best = 0;
  for (size_t i = 1; i < counts.size(); ++i)
    if (counts[i].second > counts[best].second) best = i;
  return counts[best].first;
}

FilterPipeline::FilterPipeline(const ojson& entry) {
  if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string())
    fail("filter_list entry {} has no \"name\"", entry.dump());
  name_ = entry["name"].get<std::string>();
  if (!entry.contains("filter") || !entry["filter"].is_array())
    fail("filter_list entry '{}' has no \"filter\" list", name_);
  try {
    for (auto& step : entry["filter"]) steps_.push_back(make_step(step));
  } catch (const Error& e) {
    fail("filter_list '{}': {}", name_, e.what());
  }
}

FilterPipeline FilterPipeline::none() {
  FilterPipeline p;
  p.name_ = "none";
  p.steps_.push_back(make_step(ojson{{"function", "take_first"}}));
  return p;
}

ojson FilterPipeline::apply(const std::vector<std::string>& resps, const ojson& doc) const {
  ojson v = ojson::array();
  for (auto& r : resps) v.push_back(r);
  for (auto& s : steps_) v = s(v, doc);
  return v;
}

const std::vector<std::string>& filter_functions() {
  static const std::vector<std::string> names = {"regex",
                                                 "multi_choice_regex",
                                                 "take_first",
                                                 "take_first_k",
                                                 "majority_vote",
                                                 "remove_whitespace",
                                                 "lowercase",
                                                 "uppercase",
                                                 "map",
                                                 "create_test",
                                                 "create_test_instruct",
                                                 "custom"};
  return names;
}

}  // namespace erank::grading
