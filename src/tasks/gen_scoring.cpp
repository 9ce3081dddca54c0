#include "tasks/gen_scoring.h"

#include <algorithm>

#include "core/error.h"
#include "tasks/code_exec.h"
#include "tasks/math_answer.h"
#include "tasks/prompt.h"

namespace erank {
namespace {

using ojson = nlohmann::ordered_json;

const std::vector<std::string> kProcessResults = {"minerva_math", "hendrycks_math"};
const std::vector<std::string> kMetrics = {"exact_match", "pass_at_k"};

std::vector<int64_t> ks_of(const MetricSpec& m) {
  std::vector<int64_t> ks;
  const ojson k = m.kwargs.contains("k") ? m.kwargs["k"] : ojson(1);
  if (k.is_number_integer()) ks.push_back(k);
  if (k.is_array())
    for (auto& x : k)
      if (x.is_number_integer()) ks.push_back(x);
  return ks;
}

std::string solution_of(const ojson& doc, const std::string& task) {
  if (!doc.contains("solution") || !doc["solution"].is_string())
    fail("task {}: a document has no `solution` to take the answer from", task);
  return doc["solution"];
}

}  // namespace

GenScorer::GenScorer(const TaskConfig& t, const ojson& filters, const CodeExecution& exec)
    : t_(t), exec_(exec) {
  if (t.unsafe_code && !exec.allowed)
    fail(
        "task {} runs model-written code: pass --allow-code-execution to run it in erank's "
        "sandbox (no network, rlimits, {} s per program)",
        t.task, exec.timeout_s);
  for (const auto& f : filters) {
    try {
      pipelines_.emplace_back(f);
    } catch (const Error& e) {
      fail("task {}: filter {}: {}", t.task, f.value("name", ""), e.what());
    }
  }
  if (!t.process_results.empty()) {
    if (std::find(kProcessResults.begin(), kProcessResults.end(), t.process_results) ==
        kProcessResults.end())
      fail(
          "task {}: unknown process_results '{}' (built-in for generated answers: "
          "minerva_math, hendrycks_math)",
          t.task, t.process_results);
    return;
  }
  if (t.metrics.empty()) fail("task {}: a generate_until task needs a metric_list", t.task);
  for (const auto& m : t.metrics) {
    if (std::find(kMetrics.begin(), kMetrics.end(), m.metric) == kMetrics.end())
      fail(
          "task {}: metric '{}' is not one erank computes for generated answers (exact_match, "
          "pass_at_k)",
          t.task, m.metric);
    if (m.metric == "pass_at_k") {
      if (ks_of(m).empty()) fail("task {}: pass_at_k needs k (an integer or a list)", t.task);
      if (!t.unsafe_code)
        fail("task {}: pass_at_k runs code: the task must say unsafe_code: true", t.task);
    }
    ojson entry = m.kwargs;
    entry["metric"] = m.metric;
    try {
      em_.push_back(m.metric == "exact_match" ? grading::ExactMatchOptions::from_json(entry)
                                              : grading::ExactMatchOptions{});
    } catch (const Error& e) {
      fail("task {}: metric {}: {}", t.task, m.metric, e.what());
    }
  }
}

std::vector<FilterScore> GenScorer::score(const ojson& doc, const std::vector<std::string>& resps,
                                          const ojson& target) const {
  std::vector<FilterScore> out;
  for (const auto& p : pipelines_) {
    FilterScore s;
    s.filter = p.name();
    s.filtered = p.apply(resps, doc);
    if (!t_.process_results.empty()) {
      if (!s.filtered.is_string())
        fail("task {}: process_results {} expects one answer after the filters", t_.task,
             t_.process_results);
      const std::string r = s.filtered;
      if (t_.process_results == "minerva_math") {
        if (!doc.contains("answer") || !doc["answer"].is_string())
          fail("task {}: a document has no `answer` (process_docs: minerva_math)", t_.task);
        s.metrics["exact_match"] =
            grading::minerva_exact_match(r, doc["answer"].get<std::string>());
      } else {
        s.metrics["exact_match"] = grading::hendrycks_exact_match(r, solution_of(doc, t_.task));
      }
      out.push_back(std::move(s));
      continue;
    }
    for (size_t i = 0; i < t_.metrics.size(); ++i) {
      const MetricSpec& m = t_.metrics[i];
      if (m.metric == "exact_match") {
        if (!s.filtered.is_string())
          fail(
              "task {}: filter {} leaves {} answers; exact_match needs one (end it with "
              "take_first)",
              t_.task, s.filter, s.filtered.size());
        s.metrics["exact_match"] =
            grading::exact_match({s.filtered.get<std::string>()}, {py_str(target)}, em_[i]);
      } else if (m.metric == "pass_at_k") {
        std::vector<std::string> programs;
        if (s.filtered.is_string())
          programs.push_back(s.filtered);
        else
          for (auto& x : s.filtered) programs.push_back(x.is_string() ? x.get<std::string>() : "");
        const int64_t c = count_passing(programs, py_str(target), exec_);
        const int64_t n = int64_t(programs.size());
        // HF evaluate's code_eval reports pass@k only where every problem has n >= k samples.
        for (int64_t k : ks_of(m))
          if (n >= k) s.metrics["pass@" + std::to_string(k)] = grading::pass_at_k(n, c, k);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

void minerva_math_docs(std::vector<ojson>& docs, const std::string& task) {
  for (auto& d : docs) d["answer"] = grading::minerva_doc_answer(solution_of(d, task));
}

void hendrycks_math_docs(std::vector<ojson>& docs, const std::string& task) {
  for (auto& d : docs) {
    const auto boxed = grading::last_boxed_only_string(solution_of(d, task));
    if (!boxed) fail("task {}: a solution has no \\boxed{{...}} answer", task);
    d["answer"] = grading::remove_boxed(*boxed);
  }
}

}  // namespace erank
