// `erank eval`'s engine: tasks -> documents -> prompts -> requests (loglikelihood requests scored
// in shared batches across tasks; generate_until requests decoded together) -> per-document
// metrics (filters first for generated answers) -> task and group aggregates, as
// lm-evaluation-harness's simple_evaluate does it.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "tasks/gen_scoring.h"
#include "tasks/generate_until.h"
#include "tasks/prompt.h"
#include "tasks/task_config.h"

namespace erank {

class Model;
class Tokenizer;
struct ChatTemplate;

struct EvalSettings {
  std::vector<std::string> tasks;
  std::optional<int> num_fewshot;      // overrides the task files'
  std::optional<int64_t> limit;        // first N documents of each task
  std::string system;                  // --system (lm-eval's system_instruction)
  std::string role;                    // --role: a role prompt put before the system instruction
  std::string description;             // --description: replaces the task files'
  const ChatTemplate* chat = nullptr;  // --apply-chat-template
  nlohmann::ordered_json chat_vars;    // bos_token, eos_token ... for the template
  bool fewshot_as_multiturn = false;
  std::string fewshot_labels = "gold";  // gold | random | flipped
  uint64_t fewshot_seed = 1234;
  uint64_t label_seed = 0;  // draws of --fewshot-labels random
  // --data: "TASK" / "TASK:SPLIT" / a tag or family name -> a file or folder
  std::vector<std::pair<std::string, std::string>> data;
  std::string data_option = "--data";     // how the command names it, for the missing-split error
  std::string scoring = "loglikelihood";  // or "opencompass-ppl"
  // --dola: multiple-choice requests scored by DoLa's contrast over these candidate layers
  // (LLOptions::dola_layers); empty: log-probabilities. Generative tasks refuse it.
  std::vector<int> dola_layers;
  // --contamination: Min-K% Prob and Min-K%++ of each document's zero-shot text at these k
  // (tasks/contamination.h); empty: off.
  std::vector<double> contamination_k;
  int64_t batch_tokens = 4096;
  int64_t max_length = 0;  // 0: the model's positions
  bool log_samples = false;
  // Resume: completed documents are appended to this file and skipped when found there.
  std::string partial_path;

  // generate_until tasks
  int64_t gen_batch = 16;               // sequences decoded together
  std::optional<int64_t> max_gen_toks;  // caps every task's max_gen_toks
  std::string cot_trigger;   // appended to the answer prefix ("Let's think step by step.")
  int self_consistency = 0;  // k > 1: k sampled chains, majority answer per filter
  double temperature = 0.7;  // of the self-consistency chains
  uint64_t gen_seed = 1234;  // sampling streams: (seed, task, document, repeat)
  CodeExecution exec;        // --allow-code-execution
};

// One scored document: its prompts, requests and (once scored) results.
struct PreparedDoc {
  int64_t doc_id = 0;
  std::vector<std::string> contexts, conts;  // one pair per request
  std::vector<std::string> choices;
  std::vector<int64_t> gold;
  nlohmann::ordered_json target;
  std::string prefix_text;  // system + shots: the part shared with other documents
  std::string key;          // hash of the request strings (resume checks it)
  std::vector<double> lls;
  std::vector<bool> greedy;
  std::vector<std::string> resps;  // generate_until: one response per repeat
  bool done = false;
};

struct PreparedTask {
  const TaskConfig* cfg = nullptr;
  std::vector<nlohmann::ordered_json> eval_docs, shot_docs;
  std::unique_ptr<PromptBuilder> prompts;
  int n_shot = 0;
  int64_t n_original = 0;
  std::vector<PreparedDoc> docs;
  GenKwargs gen;    // generate_until: the normalised generation_kwargs
  int repeats = 1;  // responses per document
  // lm-eval's filter_list after the options (self-consistency adds majority-vote pipelines).
  nlohmann::ordered_json filters;
  std::shared_ptr<const GenScorer> scorer;
  bool generative() const { return cfg->output_type == "generate_until"; }
};

// Documents and request strings of every task (no model): what lm-eval's build_all_requests
// makes. Throws erank::Error for missing data, fields or labels outside the choices.
std::vector<PreparedTask> prepare_tasks(const TaskRegistry& reg, const EvalSettings& s);

struct TaskResult {
  std::string name, alias;
  const TaskConfig* config = nullptr;
  int n_shot = 0;
  int64_t n_original = 0, n_effective = 0;
  std::map<std::string, double> metrics;        // acc, acc_norm ...
  std::map<std::string, double> stderrs;        // missing: "N/A"
  std::vector<nlohmann::ordered_json> samples;  // lm-eval samples lines (when log_samples)
  nlohmann::ordered_json contamination;         // --contamination's block (null when off)
};

struct GroupResult {
  std::string name, alias;
  int depth = 0;
  bool has_aggregate = false;
  int64_t sample_len = 0;
  std::map<std::string, double> metrics, stderrs;
  std::vector<std::string> leaves;
};

struct EvalOutput {
  std::vector<TaskResult> tasks;    // in the order resolved
  std::vector<GroupResult> groups;  // pre-order over the requested trees
  std::vector<TaskNode> trees;
  double seconds = 0;
  int64_t n_requests = 0, n_tokens = 0;
  int64_t n_generated = 0;  // tokens generated (generate_until)
};

struct EvalProgress {
  std::function<void(const std::string& stage, int64_t done, int64_t total)> fn;
};

EvalOutput evaluate(const TaskRegistry& reg, const Model& model, const Tokenizer& tok, Backend& be,
                    const EvalSettings& s, const EvalProgress& progress = {});

// lm-eval's tokenisation of a request: trailing whitespace of the context moves to the
// continuation; the pair is encoded whole and split at len(encode(context)); an empty context
// becomes [BOS] (else EOS). Strings that start with the BOS text are encoded without special
// tokens, as HFLM.tok_encode does.
std::pair<std::vector<int32_t>, std::vector<int32_t>> encode_pair(const Tokenizer& tok,
                                                                  const std::string& context,
                                                                  const std::string& continuation);

}  // namespace erank
