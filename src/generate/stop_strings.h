// Stop strings for generate-until, with lm-eval's `until` semantics, found as the completion grows.
// Matching runs on the decoded text (UTF-8), not on token ids, so a stop may span tokens.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace erank::gen {

class StopMatcher {
 public:
  static constexpr size_t npos = std::string_view::npos;

  explicit StopMatcher(std::vector<std::string> stops);  // empty strings: erank::Error

  // Called with the whole decoded completion so far after each new token; each call's text must
  // extend the previous one (feed stable_prefix(decoded)). Returns npos until some stop string
  // occurs; then the cut, in bytes, that lm-eval gives on this text: `for term in until:
  // s = s.split(term)[0]`. That is the earliest-starting occurrence of any term, except that a
  // term listed after another whose occurrence it straddles is not seen (lm-eval cuts in list
  // order): ("abc", {"bc", "ab"}) -> "a". Only the bytes that could newly hold a match are
  // scanned (O(new bytes) per call); the cut itself is computed once.
  size_t find(std::string_view completion);

  // Bytes at the end that must not be streamed yet: the longest suffix that is a proper prefix
  // of some stop string. What is streamed is never cut later.
  size_t held_back(std::string_view completion) const;

  const std::vector<std::string>& stops() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  size_t max_len_ = 0;
  size_t scanned_ = 0;  // length of the text already searched for a complete stop
  size_t cut_ = npos;   // once found, the answer for every later call
};

// Length of `decoded` without a trailing run of up to 3 U+FFFD: byte-level BPE and byte-fallback
// tokens can end mid-character, the decoder then yields U+FFFD for the partial bytes (one per
// maximal subpart, or one per byte), and the next token may complete the character. A genuine
// U+FFFD is therefore held until more text follows; at the end of generation use the full text.
size_t stable_prefix(std::string_view decoded);

}  // namespace erank::gen
