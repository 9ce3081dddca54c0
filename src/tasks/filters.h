// lm-eval 0.4.13's filter pipelines (lm_eval/filters) on one document's responses, one per
// repeat: a task's filter_list entry {"name", "filter": [{"function": ..., kwargs}]} becomes a
// FilterPipeline whose steps run in order, as FilterEnsemble does. The value passed between steps
// is what lm-eval passes: a list of responses, or one string after take_first.
// Functions: regex, multi_choice_regex, take_first, take_first_k, majority_vote,
// remove_whitespace, lowercase, uppercase, map, and HumanEval's custom filters (create_test =
// utils.build_predictions, create_test_instruct = utils.build_predictions_instruct; also
// accepted as {"function": "custom", "filter_fn": "utils.build_predictions[_instruct]"}).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/py_regex.h"

namespace erank::grading {

// RegexFilter on one response: findall(resp)[group_select] (negative counts from the end); with
// several groups the first non-empty one (else `fallback`); then strip(). No match: `fallback`.
// A group_select past the matches throws erank::Error (IndexError in lm-eval).
std::string regex_extract(const PyRegex& re, std::string_view resp, int64_t group_select,
                          std::string_view fallback);

struct MultiChoiceOptions {
  std::string regex_pattern = R"(#### (\-?[0-9\.\,]+))";
  int64_t group_select = 0;
  std::string fallback = "[invalid]";
  bool ignore_case = false, ignore_punctuation = false;
  std::vector<std::string> regexes_to_ignore;
};

// MultiChoiceRegexFilter on one response of a document with these `choices`: the regex; else
// the choice texts (filtered as the options say, longest first) searched in the filtered
// response and mapped to "(A)".."(Z)"; else ":\s*(A|B|...)" mapped to "(X)"; else `fallback`.
class MultiChoiceExtractor {
 public:
  MultiChoiceExtractor(const MultiChoiceOptions& o, const std::vector<std::string>& choices);
  std::string operator()(std::string_view resp) const;

 private:
  std::string ignore(std::string s) const;  // regexes_to_ignore, lower(), punctuation
  MultiChoiceOptions o_;
  const PyRegex* main_;
  std::optional<PyRegex> by_text_, by_letter_;
  std::map<std::string, std::string> text_to_letter_, letter_to_target_;
};

// Counter(resps).most_common(1): the most frequent response; ties go to the first seen.
std::string majority_vote(const std::vector<std::string>& resps);

class FilterPipeline {
 public:
  // From a filter_list entry. Throws erank::Error for an unknown function or bad arguments
  // (checked here, before any generation).
  explicit FilterPipeline(const nlohmann::ordered_json& entry);
  // lm-eval's pipeline for a generate_until task without filter_list: "none" = take_first.
  static FilterPipeline none();

  const std::string& name() const { return name_; }
  // One document's responses through the steps: a string after take_first, else a list
  // (lm-eval's filtered_resps[name] for the document).
  nlohmann::ordered_json apply(const std::vector<std::string>& resps,
                               const nlohmann::ordered_json& doc) const;

  using Step = std::function<nlohmann::ordered_json(const nlohmann::ordered_json&,
                                                    const nlohmann::ordered_json&)>;

 private:
  FilterPipeline() = default;
  std::string name_;
  std::vector<Step> steps_;
};

// The filter function names FilterPipeline knows.
const std::vector<std::string>& filter_functions();

}  // namespace erank::grading
