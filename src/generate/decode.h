// The decode loop: prompts prefilled into a KV cache, then one token per sequence per step, at
// most `batch` sequences in flight. A finished sequence leaves at once and its slot takes the next
// prompt (continuous batching). Every step is an ordinary forward, so taps fire while decoding:
// an observer sink sees each step's rows, and logits processors join the chain.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "generate/logits_processors.h"
#include "models/kv_cache.h"
#include "models/model.h"
#include "models/taps.h"

namespace erank {
class Tokenizer;
}

namespace erank::gen {

struct GenOptions {
  int64_t max_new_tokens = 256;
  int64_t batch = 1;
  int64_t max_context = 0;  // tokens per sequence (prompt + generated); 0: fit the longest prompt
  SamplingParams sampling;
  std::vector<int32_t> eos;  // ids that end a sequence (kept as its last token)
  bool ignore_eos = false;
  std::vector<std::string> stops;  // lm-eval `until`: the completion is cut before the first one
  // Per prompt, the index its sampling stream derives from (default: its position), so that a
  // resumed or reordered run draws the same samples for the same (document, repeat).
  std::vector<uint64_t> seed_ids;
  // Prompts that start alike (a benchmark's few-shot block) have that common start computed once
  // and its cache copied into each sequence's slot, when it is at least this many tokens (0: off).
  int64_t min_shared_prefix = 64;
};

struct GenResult {
  std::vector<int32_t> tokens;  // generated ids (the EOS that ended it included)
  std::string completion;       // their text, without a final EOS and cut before a stop string
  std::string finish;           // "length", "stop" or "eos"
};

struct GenStats {
  int64_t prompts = 0, prefill_tokens = 0, decode_tokens = 0, steps = 0;
  int64_t shared_prefix = 0;           // tokens of the common prompt start computed once
  double prefill_s = 0, decode_s = 0;  // forwards over prompt tokens; one-token steps
};

// The context a run needs: the longest prompt plus max_new_tokens, within the model's positions
// (what --max-context 0 means).
int64_t default_context(const ModelConfig& c, const std::vector<std::vector<int32_t>>& prompts,
                        int64_t max_new_tokens);

// Throws erank::Error for an empty prompt, one that leaves no room in the context, or a context
// past a model's learned positions.
void validate_prompts(const ModelConfig& c, const std::vector<std::vector<int32_t>>& prompts,
                      int64_t context);

// Rewrites each sequence's next-token logits from the step's taps before the chain (DoLa): it sees
// every tap of the step's forward, then contrast() runs once per sequence.
class StepContrast : public TapSink {
 public:
  // row: the sequence's place in the step (its row of the logits tap); prompt: its index in
  // run()'s prompts.
  virtual void contrast(size_t row, size_t prompt, std::span<float> logits) = 0;
};

class Generator {
 public:
  Generator(const Model& m, Backend& be, const Tokenizer& tok, GenOptions opt);
  // Applied to each sequence's logits before the pick; built from the sampling options, and
  // open to more processors (DoLa, steering) at its end.
  LogitsChain& chain() { return chain_; }
  // Sees every tap of every step (a sink's wants() is asked as usual).
  void set_observer(TapSink* sink) { observer_ = sink; }
  // Runs before the chain on every step's logits (null: none).
  void set_contrast(StepContrast* c) { contrast_ = c; }

  // Generates for every prompt; on_done(i, result) is called as prompt i finishes (in finishing
  // order), on_progress(finished, generated tokens) after every step. Throws erank::Error before
  // any work for an empty prompt or one that leaves no room in the context.
  void run(const std::vector<std::vector<int32_t>>& prompts,
           const std::function<void(size_t, GenResult&&)>& on_done,
           const std::function<void(int64_t, int64_t)>& on_progress = {});
  // Streaming: called after every generated token with the prompt's index and its ids so far
  // (the EOS that ends it included), before the sequence is reported done.
  void set_on_token(std::function<void(size_t, const std::vector<int32_t>&)> f) {
    on_token_ = std::move(f);
  }
  const GenStats& stats() const { return stats_; }
  int64_t context() const { return context_; }
  size_t cache_bytes() const { return cache_bytes_; }

 private:
  struct Seq;
  void step(std::vector<Seq*>& seqs, bool prefill,
            const std::vector<std::vector<int32_t>>& prompts);
  bool finished(Seq& s);

  const Model& model_;
  Backend& be_;
  const Tokenizer& tok_;
  GenOptions opt_;
  LogitsChain chain_;
  TapSink* observer_ = nullptr;
  StepContrast* contrast_ = nullptr;
  std::function<void(size_t, const std::vector<int32_t>&)> on_token_;
  GenStats stats_;
  int64_t context_ = 0;
  size_t cache_bytes_ = 0;
  std::unique_ptr<KVCache> cache_;
  int64_t prefix_len_ = 0, prefix_slot_ = -1;
};

}  // namespace erank::gen
