// A task's prompts, as lm-eval's ConfigurableTask builds them: doc_to_text / doc_to_target /
// doc_to_choice (a field name, a Jinja template rendered in lm-eval's environment, or a literal),
// the description, and the few-shot context (system + description, then each shot as
// question + target_delimiter + answer + fewshot_delimiter, then the question), in plain text or
// through the model's chat template (single turn, or multi-turn with --fewshot-as-multiturn).
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tasks/task_config.h"
#include "template/chat.h"
#include "template/template.h"

namespace erank {

using ojson = nlohmann::ordered_json;

struct ChatOptions {
  const ChatTemplate* tmpl = nullptr;  // null: plain text
  nlohmann::ordered_json vars;         // bos_token, eos_token, ...
  bool multiturn = false;              // --fewshot-as-multiturn
};

class PromptBuilder {
 public:
  // features: the scored split's column names (a doc_to_* string naming one is that field).
  PromptBuilder(const TaskConfig& cfg, std::vector<std::string> features);

  // lm-eval's doc_to_text: a string, or an index (multiple-input tasks such as Winogrande).
  ojson doc_to_text(const ojson& doc, const ojson& spec) const;
  ojson doc_to_text(const ojson& doc) const { return doc_to_text(doc, cfg_.doc_to_text); }
  // A string, an index into the choices, or a list of indices (several correct answers).
  ojson doc_to_target(const ojson& doc, const ojson& spec) const;
  ojson doc_to_target(const ojson& doc) const { return doc_to_target(doc, cfg_.doc_to_target); }
  std::vector<std::string> doc_to_choice(const ojson& doc, const ojson& spec) const;
  std::vector<std::string> doc_to_choice(const ojson& doc) const {
    return doc_to_choice(doc, cfg_.doc_to_choice);
  }
  std::string description(const ojson& doc) const;

  // Decided from the first scored document, as lm-eval does: doc_to_text gives an index.
  void detect_multiple_input(const ojson& first_doc);
  bool multiple_input() const { return multiple_input_; }

  // The context(s) of a document after these shots: one string, or one per choice for a
  // multiple-input task. `system` is --system (may be empty).
  std::vector<std::string> contexts(const ojson& doc, const std::vector<const ojson*>& shots,
                                    const std::string& system, const ChatOptions& chat) const;

  // The plain text before the document's own turn (system, description, shots): shared by the
  // documents of a first_n task, so the scorer can compute it once.
  std::string shared_prefix(const ojson& doc, const std::vector<const ojson*>& shots,
                            const std::string& system) const;

  // A shot carrying this field shows choice [value] as its answer (--fewshot-labels).
  static constexpr const char* kShotLabel = "__erank_label__";

  // The continuation strings of a document: target_delimiter + choice (or + target for
  // multiple-input tasks); the delimiter is "" under a chat template, as lm-eval.
  std::vector<std::string> continuations(const ojson& doc, bool chat) const;

  // The gold index (or indices) into the choices, -100 where lm-eval would flag an error.
  std::vector<int64_t> gold(const ojson& doc) const;

  // The answer text of a shot (choices[target], target[0] of a list, or the target string).
  std::string shot_answer(const ojson& shot) const;

  const TaskConfig& config() const { return cfg_; }

 private:
  struct Msg {
    std::string role, content, delim;
  };
  std::string render(const std::string& tmpl, const ojson& doc) const;
  bool is_feature(const std::string& s) const;
  std::vector<Msg> qa_turn(const std::string& q, const ojson* answer,
                           const std::vector<std::string>* choices, const std::string& tgt_delim,
                           const std::string& few_delim) const;
  std::string finish(std::vector<Msg> msgs, const ChatOptions& chat) const;
  std::vector<Msg> head(const ojson& doc, const std::vector<const ojson*>& shots,
                        const std::string& system) const;

  const TaskConfig& cfg_;
  std::vector<std::string> features_;
  bool multiple_input_ = false;
  mutable std::map<std::string, std::unique_ptr<Template>> cache_;
};

// The text of a JSON value as Python's str() would print it inside an f-string (strings as they
// are, ints as digits, lists as repr) — what lm-eval's f"{target_delimiter}{cont}" gives.
std::string py_str(const ojson& v);

}  // namespace erank
