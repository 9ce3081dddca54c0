// Task files: lm-evaluation-harness's YAML task configs, read as data. A file under tasks/ holds
// one or more YAML documents (`---`), each a task, a family of tasks (`variants:`, erank's one
// extension: each entry is merged over the rest of the document, as lm-eval's generated
// per-subject files `include` a shared template) or a group (`group:` + `task:` list). Field
// names and meanings are lm-eval's, so a user ports a task by copying its YAML; `include:` works
// as in lm-eval. Python hooks (`!function module.fn`) are not run: `process_docs` names one of
// erank's built-in document processors instead (tasks/process_docs.h).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace erank {

struct MetricSpec {
  std::string metric;                // acc, acc_norm, acc_bytes, mc1, mc2 ...
  std::string aggregation = "mean";  // only mean is defined for multiple choice
  bool higher_is_better = true;
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();  // ignore_case, k ...
};

struct TaskConfig {
  std::string task, task_alias;
  std::vector<std::string> tags;
  std::string file;  // the task file it came from, for error messages

  std::string dataset_path, dataset_name;
  nlohmann::ordered_json dataset_kwargs;  // data_files (local files of a ported YAML) is honoured
  std::optional<std::string> training_split, validation_split, test_split, fewshot_split;
  std::string process_docs;  // a built-in processor name, or empty

  // doc_to_*: a field name, a Jinja template (lm-eval's environment) or, for doc_to_choice, a
  // list of strings (or a dict, whose values are the choices); kept as written.
  nlohmann::ordered_json doc_to_text, doc_to_target, doc_to_choice;
  std::string description;  // Jinja template rendered per document
  std::string target_delimiter = " ", fewshot_delimiter = "\n\n";
  std::string gen_prefix;
  // fewshot_config: sampler (default | first_n) and overrides for the shots.
  std::string fewshot_sampler = "default";
  nlohmann::ordered_json fewshot_doc_to_text, fewshot_doc_to_target, fewshot_doc_to_choice;
  std::optional<std::string> fewshot_target_delimiter, fewshot_fewshot_delimiter;
  std::optional<int> num_fewshot;
  // fewshot_config.samples: the shots written in the task file (first_n takes them in order).
  nlohmann::ordered_json fewshot_samples;

  // generate_until: lm-eval's generation_kwargs (until, max_gen_toks, do_sample, temperature
  // ...), repeats (samples per document: maj@k, pass@k) and filter_list (named pipelines of
  // filters run on the responses, each scored separately).
  nlohmann::ordered_json generation_kwargs = nlohmann::ordered_json::object();
  int repeats = 1;
  nlohmann::ordered_json filter_list = nlohmann::ordered_json::array();
  std::string process_results;  // a built-in results processor (minerva_math ...), or empty
  bool unsafe_code = false;     // runs model-written code (needs --allow-code-execution)

  std::string output_type = "multiple_choice";
  std::vector<MetricSpec> metrics;
  nlohmann::ordered_json metadata;  // version, ...
  // erank: where a split's file lies inside a folder given with --data (CMMLU's and C-Eval's
  // official layouts), e.g. "{split}/{dataset_name}.csv".
  std::vector<std::string> data_layout;

  nlohmann::ordered_json raw;  // the merged YAML as written, for the results' "configs"

  // The split scored: test if present, else validation (lm-eval's eval_docs).
  std::string eval_split() const;
  double version() const;  // metadata.version, 0 when absent
};

struct AggregateSpec {
  std::string metric;
  bool weight_by_size = true;
};

struct GroupConfig {
  std::string group, group_alias;
  std::vector<std::string> tasks;  // task, tag or group names
  std::vector<AggregateSpec> aggregate;
  nlohmann::ordered_json metadata;
  std::string file;
};

// All task files found in the search folders.
class TaskRegistry {
 public:
  // Reads every *.yaml under each folder (recursively). Throws erank::Error naming the file and
  // line of a malformed document.
  static TaskRegistry load(const std::vector<std::string>& dirs);
  // Folders searched: $ERANK_TASKS, then <source dir>/tasks, then `extra` (--include-path).
  static std::vector<std::string> default_dirs(const std::vector<std::string>& extra = {});

  // Adds the documents of one YAML text (tests, and load()).
  void add_yaml(const std::string& text, const std::string& file);

  const TaskConfig* task(const std::string& name) const;
  const GroupConfig* group(const std::string& name) const;
  // Tasks carrying a tag, in registry order.
  std::vector<std::string> tagged(const std::string& tag) const;
  std::vector<std::string> task_names() const;
  std::vector<std::string> group_names() const;

 private:
  std::map<std::string, TaskConfig> tasks_;
  std::vector<std::string> order_;  // task names in the order read
  std::map<std::string, GroupConfig> groups_;
};

// One requested name expanded: a tree of groups over tasks, leaves in order.
struct TaskNode {
  std::string name;
  bool is_group = false;
  const GroupConfig* group = nullptr;  // when is_group (null for a tag)
  std::vector<TaskNode> children;
};

// Expands names (tasks, groups, tags; shell-style `*` wildcards over task names) into trees.
// Throws erank::Error for an unknown name, listing close matches.
std::vector<TaskNode> resolve_tasks(const TaskRegistry& reg, const std::vector<std::string>& names);
// Leaves of the trees, each task once, in order.
std::vector<std::string> leaf_tasks(const std::vector<TaskNode>& roots);

// Builds a TaskConfig from a merged YAML mapping (as JSON). Throws for wrong field types.
TaskConfig task_from_json(const nlohmann::ordered_json& j, const std::string& file);

}  // namespace erank
