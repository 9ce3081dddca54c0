#include "template/pyre.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>
#include <memory>

#include "template/value.h"

namespace erank::tmpl {
namespace {

// The replacement with group references expanded, for one match.
std::string expand(const std::string& repl, const std::string& s, const PCRE2_SIZE* ov,
                   uint32_t n_groups) {
  auto group = [&](uint32_t g) -> std::string {
    if (g >= n_groups) fault("invalid group reference {} in regex_replace", g);
    if (ov[2 * g] == PCRE2_UNSET) return "";
    return s.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
  };
  std::string out;
  for (size_t i = 0; i < repl.size(); ++i) {
    const char c = repl[i];
    if (c != '\\' || i + 1 == repl.size()) {
      out += c;
      continue;
    }
    const char d = repl[++i];
    if (d >= '0' && d <= '9') {
      uint32_t g = uint32_t(d - '0');
      if (i + 1 < repl.size() && repl[i + 1] >= '0' && repl[i + 1] <= '9')
        g = g * 10 + uint32_t(repl[++i] - '0');
      out += group(g);
    } else if (d == 'g' && i + 1 < repl.size() && repl[i + 1] == '<') {
      const size_t close = repl.find('>', i);
      if (close == std::string::npos) fault("missing '>' in regex_replace group reference");
      const std::string num = repl.substr(i + 2, close - i - 2);
      if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos)
        fault("regex_replace supports numbered groups only (\\g<{}>)", num);
      out += group(uint32_t(std::stoul(num)));
      i = close;
    } else if (d == 'n') {
      out += '\n';
    } else if (d == 't') {
      out += '\t';
    } else if (d == '\\') {
      out += '\\';
    } else {  // Python keeps unknown escapes of ASCII letters as errors; others as they are
      out += '\\';
      out += d;
    }
  }
  return out;
}

}  // namespace

std::string py_re_sub(const std::string& pattern, const std::string& repl, const std::string& s,
                      int64_t count) {
  // Compiled patterns are kept per thread: a task's documents apply the same few patterns
  // thousands of times (HellaSwag's clean-up: 5 calls per document).
  using Code = std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)>;
  thread_local std::map<std::string, Code> compiled;
  auto it = compiled.find(pattern);
  if (it == compiled.end()) {
    int err = 0;
    PCRE2_SIZE err_off = 0;
    Code code(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                            PCRE2_UTF | PCRE2_UCP, &err, &err_off, nullptr),
              &pcre2_code_free);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fault("regex_replace: bad pattern '{}' at offset {}: {}", pattern, err_off,
            reinterpret_cast<const char*>(msg));
    }
    if (compiled.size() > 64) compiled.clear();
    it = compiled.emplace(pattern, std::move(code)).first;
  }
  pcre2_code* re_code = it->second.get();
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(re_code, nullptr), &pcre2_match_data_free);
  std::string out;
  size_t pos = 0, copied = 0;
  int64_t done = 0;
  while (pos <= s.size() && (count <= 0 || done < count)) {
    const int rc = pcre2_match(re_code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, 0,
                               md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fault("regex_replace: matching '{}' failed ({})", pattern, rc);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    out.append(s, copied, ov[0] - copied);
    out += expand(repl, s, ov, pcre2_get_ovector_count(md.get()));
    copied = ov[1];
    ++done;
    if (ov[1] > ov[0]) {
      pos = ov[1];
    } else {  // empty match: step one code point on (UTF-8)
      if (ov[1] >= s.size()) break;
      pos = ov[1] + 1;
      while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
      out.append(s, copied, pos - copied);
      copied = pos;
    }
  }
  out.append(s, copied, std::string::npos);
  return out;
}

}  // namespace erank::tmpl
