// The arena's contestants: each entry of --models is a model (any --model spec: GGUF, HF folder,
// embedded short name) under a label, answering chat prompts with its template and its own
// sampling seed, so the same model listed twice (`a=smollm2-135m,b=smollm2-135m`) is two
// distinct players. The entry `echo` (or `NAME=echo`) is a test double that answers at once
// with the prompt, for load tests of the voting path without model time.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace erank::arena {

struct PlayerSpec {
  std::string label, model;
};
// "A,B,C" or "label=model,...": labels must be distinct; at least two entries.
std::vector<PlayerSpec> parse_players(const std::string& list);

struct AnswerSettings {
  int64_t max_new_tokens = 256;
  double temperature = 0.7;  // 0: greedy
  int top_k = 50;
  double top_p = 0.95;
  uint64_t seed = 0;   // player i samples with seed + i
  int threads = 0;     // per answer (two answers run side by side)
  std::string system;  // optional system message
  int64_t max_prompt_tokens = 1024;
};

struct Answer {
  std::string text;
  int64_t tokens = 0;
};

class Player {
 public:
  virtual ~Player() = default;
  virtual const std::string& label() const = 0;
  // Throws erank::Error if the prompt cannot be answered (too many tokens for the context).
  virtual void check_prompt(const std::string& prompt) const = 0;
  // Answers `prompt`; on_text(text so far) after each token. Thread-safe: two players (or the same
  // model twice) answer at once on separate threads.
  virtual Answer answer(const std::string& prompt,
                        const std::function<void(const std::string&)>& on_text) const = 0;
};

// Loads every distinct model once (players of the same model share it). Throws erank::Error
// naming the entry whose model does not load.
std::vector<std::unique_ptr<Player>> load_players(const std::vector<PlayerSpec>& specs,
                                                  const AnswerSettings& settings);

// The longest prefix of `s` that ends on a whole UTF-8 character (streams never split one).
size_t utf8_complete_prefix(const std::string& s);

}  // namespace erank::arena
