// The generate_until scorer: lm-eval's HFLM.generate_until on erank's decode loop. Prompts are
// encoded as HFLM does (left-truncated to max_length - max_gen_toks), decoded with continuous
// batching, and each completion is the generated text with special tokens skipped, cut at the
// first occurrence of any `until` string (the tokenizer's EOS text added, as lm-eval adds it).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "generate/logits_processors.h"

namespace erank {

class Model;
class Tokenizer;
class Backend;

// A task's generation_kwargs after lm-eval's normalize_gen_kwargs: `until` a list, max_gen_toks
// from its aliases (max_gen_toks > max_new_tokens > max_tokens > max_completion_tokens, else
// 256), do_sample false forcing temperature 0, temperature > 0 implying sampling.
struct GenKwargs {
  std::vector<std::string> until;
  int64_t max_gen_toks = 256;
  gen::SamplingParams sampling;
  bool same_as(const GenKwargs& o) const;  // one decode loop can serve both
};
GenKwargs parse_gen_kwargs(const nlohmann::ordered_json& kw, const std::string& task);

struct GenRequest {
  std::vector<int32_t> prompt;  // encoded, not yet truncated
  GenKwargs kwargs;
  uint64_t seed_id = 0;  // the sampling stream: the same id draws the same tokens
};

struct GenRunOptions {
  int64_t batch = 16;      // sequences decoded together
  int64_t max_length = 0;  // the model's context (prompt + generation), 0: its positions
  int32_t eos_id = -1;     // ends a sequence (HF generate's eos_token_id)
  uint64_t seed = 1234;    // sampling runs
  std::function<void(int64_t done, int64_t total)> progress;
};

struct GenOutput {
  std::string text;             // lm-eval's response string
  std::vector<int32_t> tokens;  // generated ids (a final EOS included)
  std::string finish;           // "eos", "stop" or "length"
};

// Runs every request; outputs in request order. Requests with equal kwargs share one decode
// loop. Throws erank::Error when max_gen_toks leaves no room for the prompt.
std::vector<GenOutput> run_generate_until(const Model& model, Backend& be, const Tokenizer& tok,
                                          const std::vector<GenRequest>& reqs,
                                          const GenRunOptions& opt);

// lm-eval's postprocess_generated_text: the text before the first occurrence of each stop
// string in turn (empty strings ignored).
std::string cut_at_stops(std::string text, const std::vector<std::string>& stops);

}  // namespace erank
