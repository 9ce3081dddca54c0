// Multiple-choice metrics as lm-eval computes them (api/task.py process_results, api/metrics.py):
// per document acc / acc_norm (log-likelihood per character) / acc_bytes (per UTF-8 byte) /
// exact_match (the gold continuation is greedy), TruthfulQA's MC2; per task the mean and its
// standard error; per group the size-weighted mean and the pooled standard error.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace erank {

// lls[i], greedy[i] for choice i; gold: one index, or several (any counts). `wanted` names the
// metrics to return (acc, acc_norm, acc_bytes, exact_match); argmax takes the first maximum.
std::map<std::string, double> mc_doc_metrics(const std::vector<double>& lls,
                                             const std::vector<bool>& greedy,
                                             const std::vector<std::string>& choices,
                                             const std::vector<int64_t>& gold,
                                             const std::vector<std::string>& wanted);

// TruthfulQA MC2 (lm-eval tasks/truthfulqa/utils.py process_results_mc2): the choices before the
// first 0 in doc["mc2_targets"]["labels"] are true; acc = their share of the probability mass.
std::map<std::string, double> mc2_metrics(const std::vector<double>& lls,
                                          const nlohmann::ordered_json& doc,
                                          const std::string& task);

// TruthfulQA MC3 (TruthfulQA's MC_calcs, used by the DoLa paper): over the same choices, the
// fraction of true answers that score above every false one. lm-eval has no MC3 task.
std::map<std::string, double> mc3_metrics(const std::vector<double>& lls,
                                          const nlohmann::ordered_json& doc,
                                          const std::string& task);

double mean(const std::vector<double>& v);
double mean_stderr(const std::vector<double>& v);  // sample std (n - 1) / sqrt(n)
// Group stderr over subtasks weighted by size (lm-eval pooled_sample_stderr).
double pooled_sample_stderr(const std::vector<double>& stderrs, const std::vector<double>& sizes);
double unweighted_mean_stderr(const std::vector<double>& stderrs);

}  // namespace erank
