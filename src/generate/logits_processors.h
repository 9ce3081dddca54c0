// The chain of logits processors applied to one sequence's next-token logits, as transformers'
// LogitsProcessorList: each processor a small object, the chain built in GenerationMixin's order.
// Semantics equal transformers' classes on float32 logits (tools/make_sampling_refs.py checks
// them).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace erank::gen {

// transformers' generate() uses top_k=50 when sampling and neither the user nor the model's
// generation_config.json sets it. SamplingParams::top_k stays explicit (0 = off); the CLI passes
// kTransformersDefaultTopK when --do-sample is given without --top-k, so `erank generate` samples
// as generate() does by default.
inline constexpr int kTransformersDefaultTopK = 50;

struct SamplingParams {
  bool do_sample = false;  // false: greedy (argmax after the processors that apply to greedy)
  double temperature = 1.0, top_p = 1.0, min_p = 0.0, repetition_penalty = 1.0;
  int top_k = 0;  // 0: off
  uint64_t seed = 0;
};

// One step of one sequence: its ids so far (prompt + generated) and its logits row, changed in
// place.
class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  virtual std::string name() const = 0;  // transformers' class name, e.g. "TopPLogitsWarper"
  virtual void apply(std::span<const int32_t> ids, std::span<float> logits) const = 0;
};

// An ordered list, applied first to last (DoLa and steering will join it later).
class LogitsChain {
 public:
  void add(std::unique_ptr<LogitsProcessor> p);
  void apply(std::span<const int32_t> ids, std::span<float> logits) const;
  bool empty() const { return procs_.empty(); }
  size_t size() const { return procs_.size(); }
  const LogitsProcessor& at(size_t i) const;

 private:
  std::vector<std::unique_ptr<LogitsProcessor>> procs_;
};

// The processors themselves (filtered tokens become -inf; min_tokens_to_keep is 1, as generate()
// without beams). Constructors validate as transformers' do and throw erank::Error.
std::unique_ptr<LogitsProcessor> make_repetition_penalty(double penalty);
std::unique_ptr<LogitsProcessor> make_temperature(double temperature);
std::unique_ptr<LogitsProcessor> make_top_k(int top_k);
std::unique_ptr<LogitsProcessor> make_top_p(double top_p);
std::unique_ptr<LogitsProcessor> make_min_p(double min_p);

// The chain generate() builds from these params (transformers 5.x _get_logits_processor):
// RepetitionPenalty (greedy too), then only when do_sample: Temperature, TopK, TopP, MinP.
// Neutral values (penalty 1, temperature 1, top_k 0, top_p 1, min_p 0) add nothing.
LogitsChain make_chain(const SamplingParams& p);

}  // namespace erank::gen
