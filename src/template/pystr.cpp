#include "template/pystr.h"

#include <utf8proc.h>

#include <algorithm>

#include "template/value.h"

namespace erank::tmpl::pystr {

std::vector<char32_t> decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t n = static_cast<utf8proc_ssize_t>(s.size());
  while (n > 0) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(p, n, &c);
    if (k <= 0) {  // invalid byte: one replacement character per byte, as errors="replace"
      out.push_back(0xFFFD);
      k = 1;
    } else {
      out.push_back(static_cast<char32_t>(c));
    }
    p += k;
    n -= k;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  utf8proc_uint8_t buf[4];
  const auto k = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(k));
}

std::string encode(const std::vector<char32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t c : cps) append_utf8(out, c);
  return out;
}

size_t length(std::string_view s) {
  return decode(s).size();
}  // as indexing sees it

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start,
                                   std::optional<int64_t> stop, std::optional<int64_t> step) {
  const int64_t st = step.value_or(1);
  if (st == 0) fault("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t def, int64_t lo, int64_t hi) {
    if (!v) return def;
    int64_t x = *v < 0 ? *v + n : *v;
    return std::clamp(x, lo, hi);
  };
  std::vector<int64_t> idx;
  if (st > 0) {
    const int64_t a = clamp(start, 0, 0, n), b = clamp(stop, n, 0, n);
    for (int64_t i = a; i < b; i += st) idx.push_back(i);
  } else {
    const int64_t a = clamp(start, n - 1, -1, n - 1), b = clamp(stop, -1, -1, n - 1);
    for (int64_t i = a; i > b; i += st) idx.push_back(i);
  }
  return idx;
}

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                  bool right) {
  const auto cps = decode(s);
  const auto set = chars ? decode(*chars) : std::vector<char32_t>{};
  auto drop = [&](char32_t c) {
    return chars ? std::find(set.begin(), set.end(), c) != set.end() : is_space(c);
  };
  size_t a = 0, b = cps.size();
  if (left)
    while (a < b && drop(cps[a])) ++a;
  if (right)
    while (b > a && drop(cps[b - 1])) --b;
  return encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(a),
                                      cps.begin() + static_cast<ptrdiff_t>(b)));
}

namespace {

// Whitespace-run split (sep=None), from the left; `rest` gets the unsplit remainder.
std::vector<std::string> split_ws(const std::vector<char32_t>& c, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t i = 0, n = c.size();
  while (true) {
    while (i < n && is_space(c[i])) ++i;
    if (i == n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      size_t e = n;
      while (e > i && is_space(c[e - 1])) --e;
      out.push_back(
          encode({c.begin() + static_cast<ptrdiff_t>(i), c.begin() + static_cast<ptrdiff_t>(e)}));
      break;
    }
    size_t j = i;
    while (j < n && !is_space(c[j])) ++j;
    out.push_back(
        encode({c.begin() + static_cast<ptrdiff_t>(i), c.begin() + static_cast<ptrdiff_t>(j)}));
    i = j;
  }
  return out;
}

}  // namespace

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               int64_t maxsplit) {
  if (!sep) return split_ws(decode(s), maxsplit);
  if (sep->empty()) fault("empty separator");
  std::vector<std::string> out;
  size_t pos = 0;
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    const size_t k = s.find(*sep, pos);
    if (k == std::string_view::npos) break;
    out.emplace_back(s.substr(pos, k - pos));
    pos = k + sep->size();
  }
  out.emplace_back(s.substr(pos));
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep,
                                int64_t maxsplit) {
  if (maxsplit < 0) return split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (!sep) {
    auto c = decode(s);
    std::reverse(c.begin(), c.end());
    for (auto& part : split_ws(c, maxsplit)) {
      auto p = decode(part);
      std::reverse(p.begin(), p.end());
      out.push_back(encode(p));
    }
  } else {
    if (sep->empty()) fault("empty separator");
    size_t end = s.size();
    while (static_cast<int64_t>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t k = s.rfind(*sep, end - sep->size());
      if (k == std::string_view::npos) break;
      out.emplace_back(s.substr(k + sep->size(), end - k - sep->size()));
      end = k;
    }
    out.emplace_back(s.substr(0, end));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  const auto c = decode(s);
  std::vector<std::string> out;
  size_t i = 0, start = 0;
  auto is_break = [](char32_t x) {
    return x == '\n' || x == '\r' || x == 0x0B || x == 0x0C || x == 0x1C || x == 0x1D ||
           x == 0x1E || x == 0x85 || x == 0x2028 || x == 0x2029;
  };
  while (i < c.size()) {
    if (!is_break(c[i])) {
      ++i;
      continue;
    }
    size_t eol = i + ((c[i] == '\r' && i + 1 < c.size() && c[i + 1] == '\n') ? 2 : 1);
    out.push_back(encode({c.begin() + static_cast<ptrdiff_t>(start),
                          c.begin() + static_cast<ptrdiff_t>(keepends ? eol : i)}));
    start = i = eol;
  }
  if (start < c.size()) out.push_back(encode({c.begin() + static_cast<ptrdiff_t>(start), c.end()}));
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view with,
                    int64_t count) {
  std::string out;
  if (old.empty()) {  // Python inserts `with` between code points and at both ends
    const auto c = decode(s);
    int64_t done = 0;
    for (size_t i = 0; i <= c.size(); ++i) {
      if (count < 0 || done < count) {
        out += with;
        ++done;
      }
      if (i < c.size()) append_utf8(out, c[i]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t k = s.find(old, pos);
    if (k == std::string_view::npos) break;
    out.append(s.substr(pos, k - pos));
    out.append(with);
    pos = k + old.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

namespace {
template <typename F>
std::string map_cps(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : decode(s)) append_utf8(out, f(c));
  return out;
}
char32_t to_upper(char32_t c) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t to_lower(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
char32_t to_title(char32_t c) {
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}
utf8proc_category_t cat(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}
}  // namespace

std::string upper(std::string_view s) {
  return map_cps(s, to_upper);
}
std::string lower(std::string_view s) {
  return map_cps(s, to_lower);
}

std::string capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (char32_t c : decode(s)) {
    append_utf8(out, first ? to_title(c) : to_lower(c));
    first = false;
  }
  return out;
}

bool is_upper_cased(char32_t c) {
  return cat(c) == UTF8PROC_CATEGORY_LU;
}
bool is_lower_cased(char32_t c) {
  return cat(c) == UTF8PROC_CATEGORY_LL;
}
bool is_alpha(char32_t c) {
  return cat(c) >= UTF8PROC_CATEGORY_LU && cat(c) <= UTF8PROC_CATEGORY_LO;
}
bool is_digit(char32_t c) {
  return cat(c) == UTF8PROC_CATEGORY_ND;
}

std::string title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : decode(s)) {
    const auto k = cat(c);
    const bool cased =
        k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
    append_utf8(out, cased ? (prev_cased ? to_lower(c) : to_title(c)) : c);
    prev_cased = cased;
  }
  return out;
}

int64_t find(std::string_view s, std::string_view sub, bool reverse) {
  const size_t k = reverse ? s.rfind(sub) : s.find(sub);
  if (k == std::string_view::npos) return -1;
  return static_cast<int64_t>(length(s.substr(0, k)));
}

int64_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(length(s)) + 1;
  int64_t n = 0;
  for (size_t k = s.find(sub); k != std::string_view::npos; k = s.find(sub, k + sub.size())) ++n;
  return n;
}

}  // namespace erank::tmpl::pystr
