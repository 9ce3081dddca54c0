// A compiled Unicode regex (PCRE2 with UTF + UCP, JIT when available) for the Split and
// ByteLevel pre-tokenizers. HF tokenizers uses Oniguruma; the models' patterns (\p{L}, \p{N},
// \s, lookahead, (?i:...)) mean the same in both.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace erank::tok {

class Regex {
 public:
  explicit Regex(const std::string& pattern);  // throws erank::Error on a bad pattern
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls f(start, end) for each non-overlapping match, left to right (byte offsets). `s` must be
  // valid UTF-8. Empty matches are skipped.
  void for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& f) const;
  bool search(std::string_view s) const;  // any match
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
};

// The literal `s` as a regex.
std::string regex_escape(std::string_view s);

}  // namespace erank::tok
