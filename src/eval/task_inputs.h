// Benchmark items as Diff-eRank inputs (the paper's Table 1: each item's question followed by its
// correct answer) and the benchmark's accuracy beside them, for `erank diff --task` and
// `erank sweep --tasks`. The items come from the task files of `erank eval`, so a task there is a
// task here, with the same documents, fields and answer extraction.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"

namespace erank {

class TaskRegistry;

struct TaskInputOptions {
  std::optional<int64_t> limit;  // first N documents
  // --data overrides as `erank eval` takes them: TASK or TASK:SPLIT -> file or folder
  std::vector<std::pair<std::string, std::string>> data;
};

// One text per document of `task` (a leaf task, or a group: every leaf in order): the document's
// zero-shot question (doc_to_text, without description, system prompt or shots) + the task's
// target_delimiter + its correct answer (the gold choice; the target for generative tasks; for
// multiple-input tasks such as Winogrande, the gold context + the continuation). Ids are
// "<task>:<doc index>". Throws erank::Error for an unknown task, missing data or no documents.
Dataset task_texts(const TaskRegistry& reg, const std::string& task, const TaskInputOptions& o);

// The task's accuracy for one model as `erank eval` computes it (num_fewshot as the task file,
// unless given): {task, metric, value, stderr, n_docs, num_fewshot}; metric is the first of acc,
// exact_match, pass@1 the task reports (a group: its aggregate, if any, else the first leaf's).
nlohmann::json task_accuracy(const TaskRegistry& reg, const std::string& model,
                             const std::string& task, const TaskInputOptions& o,
                             std::optional<int> num_fewshot, const std::string& backend,
                             int threads);

}  // namespace erank
