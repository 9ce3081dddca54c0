// Scoring generated responses as lm-eval does: each of the task's filter pipelines
// (filter_list; "none" = take_first when it has none) turns a document's responses into one
// filtered answer, then the task's metrics (exact_match with its options, pass_at_k through the
// sandbox) or its built-in process_results (minerva_math, hendrycks_math) score that answer.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tasks/filters.h"
#include "tasks/gen_metrics.h"
#include "tasks/task_config.h"

namespace erank {

struct CodeExecution {
  bool allowed = false;    // --allow-code-execution
  double timeout_s = 3.0;  // per program (HF evaluate's code_eval default)
  int threads = 0;         // programs run at once; 0: the hardware's threads
};

struct FilterScore {
  std::string filter;                     // the filter's name ("none", "strict-match" ...)
  nlohmann::ordered_json filtered;        // what lm-eval logs as filtered_resps[0]
  std::map<std::string, double> metrics;  // exact_match, pass@1 ...
};

class GenScorer {
 public:
  // Checks, before any generation, that the task can be scored: known filters, metrics and
  // processors, code execution allowed when it runs code. Throws erank::Error naming the task.
  // `filters`: the task's filter_list as the run uses it.
  GenScorer(const TaskConfig& t, const nlohmann::ordered_json& filters, const CodeExecution& exec);
  // One document's responses (all repeats) scored under every filter pipeline.
  std::vector<FilterScore> score(const nlohmann::ordered_json& doc,
                                 const std::vector<std::string>& resps,
                                 const nlohmann::ordered_json& target) const;

 private:
  const TaskConfig& t_;
  CodeExecution exec_;
  std::vector<grading::FilterPipeline> pipelines_;
  std::vector<grading::ExactMatchOptions> em_;  // per metric (unused for the others)
};

// process_docs minerva_math / hendrycks_math: each document's `answer` from its solution.
void minerva_math_docs(std::vector<nlohmann::ordered_json>& docs, const std::string& task);
void hendrycks_math_docs(std::vector<nlohmann::ordered_json>& docs, const std::string& task);

}  // namespace erank
