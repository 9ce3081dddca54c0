// lm-eval's few-shot samplers: `first_n` (the first n documents of the few-shot split, in order:
// MMLU, CMMLU, C-Eval dev) and `default` (one Random(seed) per task, drawn document after
// document: sample n + 1, drop the scored document, keep n), reproduced draw for draw.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/py_random.h"

namespace erank {

class FewshotSampler {
 public:
  // docs must outlive the sampler.
  FewshotSampler(std::string kind, const std::vector<nlohmann::ordered_json>& docs, uint64_t seed);
  // n shots for one scored document; eval_doc (compared by value, as Python's !=) is left out
  // when the few-shot split is the scored split, else null. Throws when too few documents.
  std::vector<const nlohmann::ordered_json*> sample(int n, const nlohmann::ordered_json* eval_doc);

 private:
  std::string kind_;
  const std::vector<nlohmann::ordered_json>& docs_;
  PyRandom rng_;
};

}  // namespace erank
