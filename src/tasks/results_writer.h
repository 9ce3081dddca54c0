// lm-eval's output files and table for an evaluation: `results_<ISO time>.json` (results,
// groups, group_subtasks, configs, versions, n-shot, higher_is_better, n-samples, config) and
// `samples_<task>_<ISO time>.jsonl`, with lm-eval's field names, so tools that read lm-eval's
// files read erank's.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "tasks/evaluator.h"

namespace erank {

struct RunInfo {
  std::string model_name;    // what --model named
  std::string model_source;  // "erank"
  nlohmann::ordered_json model_args;
  nlohmann::ordered_json settings;  // limit, batch, seeds ... for "config"
  std::string system_instruction, chat_template;
  bool fewshot_as_multiturn = false;
  int64_t max_length = 0;
};

nlohmann::ordered_json results_json(const EvalOutput& out, const RunInfo& info);

// lm-eval's model_name_sanitized: '/' and other path characters -> "__".
std::string sanitize_model_name(const std::string& name);

// "2026-12-05T17-30-12.123456" as lm-eval names its files.
std::string iso_stamp();

// Writes DIR/<model>/results_<stamp>.json and (with samples) samples_<task>_<stamp>.jsonl, each
// atomically. Returns the results file's path.
std::string write_results(const std::string& dir, const EvalOutput& out, const RunInfo& info,
                          const std::string& stamp, bool samples);

// lm-eval's markdown table (Tasks | Version | Filter | n-shot | Metric | | Value | | Stderr).
std::string results_table(const EvalOutput& out);

}  // namespace erank
