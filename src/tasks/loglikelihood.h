// Scores loglikelihood requests as lm-evaluation-harness's HF backend does: for each request, the
// sum of log-softmax over the continuation tokens given everything before them, and whether every
// continuation token is the argmax (is_greedy). Many requests go through one forward; a context
// shared by requests (the choices of one document, or the few-shot block shared by all documents
// of a task) is computed once. Each request's result is computed the same way whatever else is in
// the batch, so results do not depend on the batch size or the thread count (bitwise on the cpu
// backend where it runs erank's AVX-512 kernel; elsewhere OpenBLAS decides, within rounding).
// Errors (erank::Error): an empty context or continuation, a continuation longer than max_length,
// token ids outside the vocabulary, an input beyond a model's learned positions.
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
  // At least one token, as lm-eval asserts: for an empty text context the caller puts the EOT (or
  // BOS) id here, as lm-eval does.
  std::vector<int32_t> context;
  std::vector<int32_t> continuation;  // at least one token
  // Optional hint: token ids that many requests' contexts start with (the few-shot block). The
  // scorer may compute this prefix once and reuse it; results are the same with or without it.
  std::shared_ptr<const std::vector<int32_t>> shared_prefix;
};

struct LLResult {
  double logprob = 0;  // sum over continuation tokens of log p(token | before)
  bool is_greedy = false;
};

// What a call computed (benchmarks, tests).
struct LLStats {
  int64_t forwards = 0;
  int64_t tokens = 0;         // rows through the model: prefixes, contexts, continuations
  int64_t logit_rows = 0;     // rows through the LM head
  int64_t contexts = 0;       // distinct contexts (each computed once)
  int64_t prefixes = 0;       // shared prefixes computed
  int64_t reused_tokens = 0;  // context tokens copied from a prefix instead of computed
  int64_t slots = 0;          // KV cache slots
  size_t cache_bytes = 0;
};

struct LLOptions {
  int64_t max_length = 2048;    // lm-eval: input = (ctx + cont)[-(max_length + 1):][:-1]
  int64_t batch_tokens = 4096;  // tokens per forward (rows of the activations); a longer
                                // context or continuation runs alone in its forward
  int64_t max_cache_bytes = int64_t(1) << 30;  // KV cache budget (slots are cut to fit, >= 2)
  // Called after each forward with (requests done, requests total).
  std::function<void(int64_t, int64_t)> progress;
  LLStats* stats = nullptr;  // filled when set
  // Non-empty: DoLa scores instead of log-probabilities, as the DoLa repository's lm_score (mode
  // "dola", relative_top 0, post_softmax off): each continuation token scores
  // log p_final - log p_premature, the premature layer chosen per token among these hidden-state
  // indices by JSD (generate/dola.h); is_greedy then means the argmax of those scores.
  std::vector<int> dola_layers;
  // Optional: each scored continuation token's logit row (the final logits, DoLa or not), as
  // (request, index in its continuation, logits, row), called from several threads at once, once
  // per (request, index). The contamination scores read the whole distribution here.
  std::function<void(size_t, int64_t, const Act&, int64_t)> on_token;
};

std::vector<LLResult> score_loglikelihood(const Model& model, Backend& be,
                                          std::span<const LLRequest> requests,
                                          const LLOptions& opt);

}  // namespace erank
