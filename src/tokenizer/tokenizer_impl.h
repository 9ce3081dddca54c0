// Internal: the assembled pipeline behind erank::Tokenizer, shared by the tokenizer.json and
// GGUF front ends.
#pragma once
#include <unordered_map>
#include <unordered_set>

#include "tokenizer/components.h"
#include "tokenizer/tokenizer.h"

namespace erank {

namespace tok {

struct AddedToken {
  std::string content;
  std::string decode_form;  // content as normalized (for normalized tokens), what decode emits
  int32_t id = 0;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// Leftmost-longest matcher over a set of added tokens (HF uses Aho-Corasick, LeftmostLongest):
// O(n * longest token) per text.
class AddedMatcher {
 public:
  void add(std::string_view pattern, int32_t index);
  bool empty() const { return terminal_.size() <= 1; }
  // Calls f(start, end, index) for each leftmost-longest match.
  template <typename F>
  void for_each(std::string_view s, F&& f) const {
    for (size_t i = 0; i < s.size();) {
      if (!first_[static_cast<uint8_t>(s[i])]) {
        ++i;
        continue;
      }
      int32_t node = 0, best = -1;
      size_t best_end = 0;
      for (size_t k = i; k < s.size(); ++k) {
        auto it = edges_.find(edge(node, static_cast<uint8_t>(s[k])));
        if (it == edges_.end()) break;
        node = it->second;
        if (terminal_[node] >= 0) best = terminal_[node], best_end = k + 1;
      }
      if (best < 0) {
        ++i;
        continue;
      }
      f(i, best_end, best);
      i = best_end;
    }
  }

 private:
  static uint64_t edge(int32_t node, uint8_t b) { return (static_cast<uint64_t>(node) << 8) | b; }
  std::unordered_map<uint64_t, int32_t> edges_;
  std::vector<int32_t> terminal_{-1};
  bool first_[256] = {};
};

}  // namespace tok

struct Tokenizer::Impl {
  std::string origin;
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::Model> model;
  std::unique_ptr<tok::PostProcessor> post_processor;
  std::unique_ptr<tok::Decoder> decoder;
  std::vector<tok::AddedToken> added;
  std::unordered_map<int32_t, size_t> added_by_id;
  // Strings ever added as special: decode(skip_special_tokens) drops any token spelled so.
  std::unordered_set<std::string> special_strings;
  tok::AddedMatcher raw_matcher, norm_matcher;
  std::optional<int32_t> bos, eos;
  int64_t n_ids = 0;

  void split_added(std::vector<tok::Piece>& pieces, const tok::AddedMatcher& m) const;
};

// Builds the pipeline from a parsed tokenizer.json and an optional tokenizer_config.json
// (null json = none). Throws erank::Error naming `origin`. A given `model` is used instead of
// tok["model"] (the GGUF front end builds it from tables).
std::unique_ptr<Tokenizer> build_tokenizer(const nlohmann::json& tok, const nlohmann::json& config,
                                           const std::string& origin,
                                           std::unique_ptr<tok::Model> model = nullptr);

}  // namespace erank
