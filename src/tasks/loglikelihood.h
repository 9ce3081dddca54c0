// Scores loglikelihood requests as lm-evaluation-harness's HF backend does: for each request, the
// sum of log-softmax over the continuation tokens given everything before them, and whether every
// continuation token is the argmax (is_greedy). Many requests go through one forward; a context
// shared by requests (the choices of one document, or the few-shot block shared by all documents
// of a task) is computed once. Each request's result is computed the same way whatever else is in
// the batch, so results do not depend on the batch size.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"

namespace erank {

class Model;

struct LLRequest {
  std::vector<int32_t> context;       // may be empty only if the caller already put BOS/EOS in
  std::vector<int32_t> continuation;  // at least one token
  // Optional hint: token ids that many requests' contexts start with (the few-shot block). The
  // scorer may compute this prefix once and reuse it; results are the same with or without it.
  std::shared_ptr<const std::vector<int32_t>> shared_prefix;
};

struct LLResult {
  double logprob = 0;  // sum over continuation tokens of log p(token | before)
  bool is_greedy = false;
};

struct LLOptions {
  int64_t max_length = 2048;      // lm-eval: input = (ctx + cont)[-(max_length + 1):][:-1]
  int64_t batch_tokens = 4096;    // tokens per forward (rows of the activations)
  // Called after each forward with (requests done, requests total).
  std::function<void(int64_t, int64_t)> progress;
};

std::vector<LLResult> score_loglikelihood(const Model& model, Backend& be,
                                          std::span<const LLRequest> requests,
                                          const LLOptions& opt);

}  // namespace erank
