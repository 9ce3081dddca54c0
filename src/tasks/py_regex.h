// Python's `re` (3.11, str patterns, no flags but IGNORECASE) on UTF-8 text, through PCRE2 in
// UTF + UCP mode: what lm-eval's filters, exact_match and the MATH normalisers call. Python
// semantics kept where PCRE2 differs: iteration over empty matches (findall/sub/split: after an
// empty match the next one may not be empty at the same place), `\Z` (end of string only), `\s`
// (also \x1c-\x1f), `\uXXXX`/`\UXXXXXXXX`, findall's shape, the sub template (\1, \g<n>,
// \g<name>, \n ...). Subjects may hold invalid UTF-8 (PCRE2_MATCH_INVALID_UTF).
// Offsets are bytes. Compiled code is shared and immutable: a PyRegex is usable from any thread.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace erank {

class PyRegex {
 public:
  struct Match {
    size_t start = 0, end = 0;                       // bytes
    std::vector<std::optional<std::string>> groups;  // [0] the whole match; nullopt: unset
  };

  // Throws erank::Error naming the pattern when PCRE2 rejects it.
  explicit PyRegex(std::string_view pattern, bool ignore_case = false);

  const std::string& pattern() const { return pattern_; }
  uint32_t groups() const { return n_groups_; }  // re.compile(p).groups

  std::optional<Match> search(std::string_view s, size_t pos = 0) const;
  bool fullmatch(std::string_view s) const;
  std::vector<Match> finditer(std::string_view s) const;
  // re.findall: per match {whole} with no group, {g1} with one, {g1, ..., gn} (a tuple) with
  // more; a group that did not take part is "".
  std::vector<std::vector<std::string>> findall(std::string_view s) const;
  // re.sub(pattern, repl, s, count); count 0 = all. repl is a Python template.
  std::string sub(std::string_view repl, std::string_view s, size_t count = 0) const;
  // re.split(pattern, s): pieces with the groups between them (nullopt: group unset).
  std::vector<std::optional<std::string>> split(std::string_view s) const;

 private:
  std::optional<Match> match_at(std::string_view s, size_t pos, uint32_t options) const;

  std::string pattern_;
  std::shared_ptr<void> code_;  // pcre2_code_8
  uint32_t n_groups_ = 0;
};

// re.escape(s): Python 3.7+'s set of special characters, each behind a backslash.
std::string py_re_escape(std::string_view s);

// A compiled pattern from a per-process cache, for patterns used per document.
const PyRegex& py_regex_cached(const std::string& pattern, bool ignore_case = false);

}  // namespace erank
