#include "tasks/py_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "core/error.h"

namespace erank {
namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Python pattern -> PCRE2 pattern, for the escapes whose meaning differs.
std::string to_pcre(std::string_view p) {
  std::string out;
  bool in_class = false, class_start = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char d = p[++i];
      size_t hex = d == 'u' ? 4 : d == 'U' ? 8 : 0;
      if (d == 'Z' && !in_class) {
        out += "\\z";  // Python's \Z is PCRE2's \z (PCRE2's \Z also matches before a final \n)
      } else if (d == 's') {  // Python's \s also holds the separators \x1c-\x1f
        out += in_class ? "\\s\\x{1c}-\\x{1f}" : "[\\s\\x{1c}-\\x{1f}]";
      } else if (d == 'S' && !in_class) {
        out += "[^\\s\\x{1c}-\\x{1f}]";
      } else if (hex && i + hex < p.size() &&
                 std::all_of(p.begin() + i + 1, p.begin() + i + 1 + hex, is_hex)) {
        out += "\\x{" + std::string(p.substr(i + 1, hex)) + "}";
        i += hex;
      } else {
        out += c;
        out += d;
      }
      class_start = false;
      continue;
    }
    out += c;
    if (in_class) {
      if (c == '^' && class_start && out[out.size() - 2] == '[') continue;  // "[^]" literal ]
      if (c == ']' && !class_start) in_class = false;
      class_start = false;
    } else if (c == '[') {
      in_class = class_start = true;
    }
  }
  return out;
}

void free_code(void* p) {
  pcre2_code_free(static_cast<pcre2_code*>(p));
}

}  // namespace

PyRegex::PyRegex(std::string_view pattern, bool ignore_case) : pattern_(pattern) {
  const std::string pcre = to_pcre(pattern);
  std::unique_ptr<pcre2_compile_context, decltype(&pcre2_compile_context_free)> ctx(
      pcre2_compile_context_create(nullptr), &pcre2_compile_context_free);
  pcre2_set_newline(ctx.get(), PCRE2_NEWLINE_LF);  // Python's `.` and `$` know only \n
  int err = 0;
  PCRE2_SIZE off = 0;
  const uint32_t opts =
      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | (ignore_case ? PCRE2_CASELESS : 0u);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre.data()), pcre.size(), opts,
                                   &err, &off, ctx.get());
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    fail("regex '{}': {} (at offset {})", pattern_, reinterpret_cast<const char*>(msg), off);
  }
  code_.reset(code, free_code);
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &n_groups_);
}

std::optional<PyRegex::Match> PyRegex::match_at(std::string_view s, size_t pos,
                                                uint32_t options) const {
  auto* code = static_cast<pcre2_code*>(code_.get());
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, options,
                             md.get(), nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) return std::nullopt;
  if (rc < 0) fail("regex '{}': matching failed (PCRE2 error {})", pattern_, rc);
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
  Match m;
  m.start = ov[0];
  m.end = ov[1];
  for (uint32_t g = 0; g <= n_groups_; ++g) {
    if (int(g) >= rc || ov[2 * g] == PCRE2_UNSET)
      m.groups.emplace_back(std::nullopt);
    else
      m.groups.emplace_back(std::string(s.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g])));
  }
  return m;
}

std::optional<PyRegex::Match> PyRegex::search(std::string_view s, size_t pos) const {
  return match_at(s, pos, 0);
}

bool PyRegex::fullmatch(std::string_view s) const {
  return match_at(s, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED).has_value();
}

std::vector<PyRegex::Match> PyRegex::finditer(std::string_view s) const {
  // sre's loop: search from the previous end; after an empty match the next may not be empty
  // at that same position (PCRE2_NOTEMPTY_ATSTART), but may start there.
  std::vector<Match> out;
  size_t pos = 0;
  bool must_advance = false;
  while (pos <= s.size()) {
    auto m = match_at(s, pos, must_advance ? PCRE2_NOTEMPTY_ATSTART : 0u);
    if (!m) break;
    must_advance = m->end == m->start;
    pos = m->end;
    out.push_back(std::move(*m));
  }
  return out;
}

std::vector<std::vector<std::string>> PyRegex::findall(std::string_view s) const {
  std::vector<std::vector<std::string>> out;
  for (auto& m : finditer(s)) {
    std::vector<std::string> item;
    if (n_groups_ == 0) {
      item.push_back(*m.groups[0]);
    } else {
      for (uint32_t g = 1; g <= n_groups_; ++g) item.push_back(m.groups[g].value_or(""));
    }
    out.push_back(std::move(item));
  }
  return out;
}

std::string PyRegex::sub(std::string_view repl, std::string_view s, size_t count) const {
  auto group_number = [&](std::string_view name) -> uint32_t {
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string_view::npos) {
      const auto g = uint32_t(std::stoul(std::string(name)));
      if (g > n_groups_) fail("regex '{}': invalid group reference {}", pattern_, g);
      return g;
    }
    const int n =
        pcre2_substring_number_from_name(static_cast<pcre2_code*>(code_.get()),
                                         reinterpret_cast<PCRE2_SPTR>(std::string(name).c_str()));
    if (n < 0) fail("regex '{}': unknown group name '{}'", pattern_, name);
    return uint32_t(n);
  };
  auto expand = [&](const Match& m, std::string& out) {
    auto group = [&](uint32_t g) {
      if (g > n_groups_) fail("regex '{}': invalid group reference {}", pattern_, g);
      if (m.groups[g]) out += *m.groups[g];
    };
    for (size_t i = 0; i < repl.size(); ++i) {
      const char c = repl[i];
      if (c != '\\' || i + 1 == repl.size()) {
        out += c;
        continue;
      }
      const char d = repl[++i];
      if (d == 'g' && i + 1 < repl.size() && repl[i + 1] == '<') {
        const size_t close = repl.find('>', i);
        if (close == std::string_view::npos) fail("regex template: missing '>' in \\g<");
        group(group_number(repl.substr(i + 2, close - i - 2)));
        i = close;
      } else if (d == '0') {  // octal escape, up to 3 digits
        int v = 0, n = 0;
        --i;
        while (n < 3 && i + 1 < repl.size() && repl[i + 1] >= '0' && repl[i + 1] <= '7')
          v = v * 8 + (repl[++i] - '0'), ++n;
        out += char(v);
      } else if (d >= '1' && d <= '9') {
        uint32_t g = uint32_t(d - '0');
        if (i + 1 < repl.size() && repl[i + 1] >= '0' && repl[i + 1] <= '9')
          g = g * 10 + uint32_t(repl[++i] - '0');
        group(g);
      } else {
        static const std::string_view from = "ntrfvab\\", to = "\n\t\r\f\v\a\b\\";
        const size_t k = from.find(d);
        if (k != std::string_view::npos) {
          out += to[k];
        } else if ((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z')) {
          fail("regex template: bad escape \\{}", d);
        } else {
          out += '\\';
          out += d;
        }
      }
    }
  };
  std::string out;
  size_t last = 0, done = 0, pos = 0;
  bool must_advance = false;
  while (pos <= s.size() && (count == 0 || done < count)) {
    auto m = match_at(s, pos, must_advance ? PCRE2_NOTEMPTY_ATSTART : 0u);
    if (!m) break;
    out.append(s.substr(last, m->start - last));
    expand(*m, out);
    last = pos = m->end;
    must_advance = m->end == m->start;
    ++done;
  }
  out.append(s.substr(last));
  return out;
}

std::vector<std::optional<std::string>> PyRegex::split(std::string_view s) const {
  std::vector<std::optional<std::string>> out;
  size_t last = 0;
  for (auto& m : finditer(s)) {
    out.emplace_back(std::string(s.substr(last, m.start - last)));
    for (uint32_t g = 1; g <= n_groups_; ++g) out.push_back(m.groups[g]);
    last = m.end;
  }
  out.emplace_back(std::string(s.substr(last)));
  return out;
}

std::string py_re_escape(std::string_view s) {
  static const std::string_view special = "()[]{}?*+-|^$\\.&~# \t\n\r\v\f";
  std::string out;
  for (char c : s) {
    if (special.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

const PyRegex& py_regex_cached(const std::string& pattern, bool ignore_case) {
  static std::mutex mu;
  static std::map<std::pair<std::string, bool>, std::unique_ptr<PyRegex>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[{pattern, ignore_case}];
  if (!slot) slot = std::make_unique<PyRegex>(pattern, ignore_case);
  return *slot;
}

}  // namespace erank
