#include "tasks/math_answer.h"

#include <utf8proc.h>

#include <array>
#include <vector>

#include "core/error.h"
#include "tasks/latex_equiv.h"
#include "tasks/py_regex.h"
#include "template/pystr.h"

namespace erank::grading {
namespace {

namespace pystr = tmpl::pystr;

// Python raised inside strip_string (IndexError, AssertionError, ValueError).
struct Raised {};

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  return pystr::replace(s, from, to, -1);
}

std::vector<std::string> split(std::string_view s, std::string_view sep) {
  return pystr::split(s, std::string(sep), -1);
}

bool contains(std::string_view s, std::string_view sub) {
  return s.find(sub) != std::string_view::npos;
}

// Bytes of the code point starting at i, as pystr::decode steps: an invalid byte is one
// character (U+FFFD there), so "@\xac" is two characters, never one that runs past the end.
size_t cp_len(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  utf8proc_int32_t c;
  const auto k = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                  static_cast<utf8proc_ssize_t>(s.size() - i), &c);
  return k <= 0 ? 1 : static_cast<size_t>(k);
}

std::string fix_fracs(const std::string& string) {
  const auto substrs = split(string, "\\frac");
  std::string out = substrs[0];
  for (size_t k = 1; k < substrs.size(); ++k) {
    const std::string& sub = substrs[k];
    out += "\\frac";
    if (sub.empty()) throw Raised{};  // substr[0]: IndexError
    if (sub[0] == '{') {
      out += sub;
      continue;
    }
    if (pystr::length(sub) < 2) return string;  // the AssertionError is caught: unchanged
    const size_t la = cp_len(sub, 0), lb = cp_len(sub, la);
    const std::string a = sub.substr(0, la), b = sub.substr(la, lb), post = sub.substr(la + lb);
    out += b != "{" ? "{" + a + "}{" + b + "}" + post : "{" + a + "}" + b + post;
  }
  return out;
}

// int(x) would succeed: Python whitespace around, a sign, Unicode decimal digits with single
// underscores between them.
bool py_int_parses(std::string_view s) {
  auto cps = pystr::decode(s);
  size_t i = 0, n = cps.size();
  while (i < n && pystr::is_space(cps[i])) ++i;
  while (n > i && pystr::is_space(cps[n - 1])) --n;
  if (i < n && (cps[i] == '+' || cps[i] == '-')) ++i;
  if (i == n) return false;
  auto digit = [](char32_t c) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
  };
  for (size_t j = i; j < n; ++j) {
    if (digit(cps[j])) continue;
    if (cps[j] == '_' && j > i && digit(cps[j - 1]) && j + 1 < n && digit(cps[j + 1])) continue;
    return false;
  }
  return true;
}

bool canonical_int(std::string_view s) {  // s == str(int(s))
  const bool minus = s.starts_with('-');
  if (minus) s.remove_prefix(1);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  return s == "0" ? !minus : s[0] != '0';
}

std::string fix_a_slash_b(const std::string& string) {
  const auto parts = split(string, "/");
  if (parts.size() != 2) return string;
  if (!py_int_parses(parts[0]) || !py_int_parses(parts[1])) throw Raised{};  // ValueError
  if (!canonical_int(parts[0]) || !canonical_int(parts[1]))
    return string;  // the assert fails inside the try: unchanged
  return "\\frac{" + parts[0] + "}{" + parts[1] + "}";
}

std::string remove_right_units(const std::string& string) {
  if (!contains(string, "\\text{ ")) return string;
  const auto splits = split(string, "\\text{ ");
  if (splits.size() != 2) throw Raised{};
  return splits[0];
}

std::string fix_sqrt(const std::string& string) {
  if (!contains(string, "\\sqrt")) return string;
  const auto splits = split(string, "\\sqrt");
  std::string out = splits[0];
  for (size_t k = 1; k < splits.size(); ++k) {
    const std::string& s = splits[k];
    if (s.empty()) throw Raised{};  // split[0]: IndexError
    if (s[0] != '{') {
      const size_t la = cp_len(s, 0);
      out += "\\sqrt{" + s.substr(0, la) + "}" + s.substr(la);
    } else {
      out += "\\sqrt" + s;
    }
  }
  return out;
}

// The unit words of REMOVED_EXPRESSIONS (all letters) and the other expressions, in list order.
struct Removed {
  std::string_view text;
  bool alpha;
};
constexpr std::array<Removed, 42> kRemoved = {{
    {"square", true},
    {"ways", true},
    {"integers", true},
    {"dollars", true},
    {"mph", true},
    {"inches", true},
    {"ft", true},
    {"hours", true},
    {"km", true},
    {"units", true},
    {"\\ldots", false},
    {"sue", true},
    {"points", true},
    {"feet", true},
    {"minutes", true},
    {"digits", true},
    {"cents", true},
    {"degrees", true},
    {"cm", true},
    {"gm", true},
    {"pounds", true},
    {"meters", true},
    {"meals", true},
    {"edges", true},
    {"students", true},
    {"childrentickets", true},
    {"multiples", true},
    {"\\text{s}", false},
    {"\\text{.}", false},
    {"\\text{\ns}", false},
    {"\\text{}^2", false},
    {"\\text{}^3", false},
    {"\\text{\n}", false},
    {"\\text{}", false},
    {"\\mathrm{th}", false},
    {"^\\circ", false},
    {"^{\\circ}", false},
    {"\\;", false},
    {",\\!", false},
    {"{,}", false},
    {"\"", false},
    {"\\dots", false},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kSubstitutions = {{
    {"an ", ""},
    {"a ", ""},
    {".$", "$"},
    {"\\$", ""},
    {"\\ ", ""},
    {" ", ""},
    {"mbox", "text"},
    {",\\text{and}", ","},
    {"\\text{and}", ","},
    {"\\text{m}", "\\text{}"},
}};

}  // namespace

std::optional<std::string> last_boxed_only_string(std::string_view s) {
  if (contains(s, "\\boxed ")) {
    const size_t at = s.rfind("\\boxed ") + 7;
    const std::string_view tail = s.substr(at);
    return "\\boxed " + std::string(tail.substr(0, tail.find('$')));
  }
  size_t idx = s.rfind("\\boxed");
  if (idx == std::string_view::npos) idx = s.rfind("\\fbox");
  if (idx == std::string_view::npos) return std::nullopt;
  int open = 0;
  for (size_t i = idx; i < s.size(); ++i) {
    if (s[i] == '{') ++open;
    if (s[i] == '}' && --open == 0) return std::string(s.substr(idx, i - idx + 1));
  }
  return std::nullopt;
}

std::string remove_boxed(std::string_view s) {
  if (contains(s, "\\boxed ")) {
    if (!s.starts_with("\\boxed ")) fail("remove_boxed: '{}' does not start with \\boxed ", s);
    return std::string(s.substr(7));
  }
  if (!s.starts_with("\\boxed{") || !s.ends_with('}'))
    fail("remove_boxed: '{}' is not \\boxed{{...}}", s);
  return std::string(s.substr(7, s.size() - 8));
}

std::string get_unnormalized_answer(std::string_view text) {
  static const PyRegex re("Final Answer: The final answer is(.*?). I hope it is correct.");
  const auto m = re.search(std::string(text) + "I hope it is correct.");
  if (!m) return "[invalidanswer]";
  return pystr::strip(m->groups[1].value_or(""), std::nullopt, true, true);
}

std::string normalize_final_answer(std::string_view final_answer) {
  static const auto unit_words = [] {
    std::vector<PyRegex> v;
    for (auto& r : kRemoved)
      if (r.alpha) v.emplace_back("(?<!\\\\)\\b" + std::string(r.text) + "\\b");
    return v;
  }();
  static const PyRegex command("(\\\\[a-zA-Z]+)");
  static const PyRegex dollars("(.*?)(\\$)(.*?)(\\$)(.*)"), text("(\\\\text\\{)(.*?)(\\})"),
      textbf("(\\\\textbf\\{)(.*?)(\\})"), overline("(\\\\overline\\{)(.*?)(\\})"),
      boxed("(\\\\boxed\\{)(.*)(\\})"), frac("(frac)([^{])(.)"),
      sqrt_index("(sqrt)(\\[[^\\]]*\\])(\\w)"), sqrt_short("(sqrt)(?!\\[)([^{])"),
      thousands("-?\\d{1,3}(,\\d{3})+");

  std::string s(final_answer.substr(
      final_answer.rfind('=') == std::string_view::npos ? 0 : final_answer.rfind('=') + 1));
  // Unit words go while whitespace still delimits them (not inside a LaTeX command name).
  for (auto& re : unit_words) s = re.sub("", s);
  for (auto& [from, to] : kSubstitutions) s = replace_all(s, from, to);
  for (auto& r : kRemoved) {
    if (!r.alpha) {
      s = replace_all(s, r.text, "");
      continue;
    }
    // Units glued on once spaces are gone, outside "\command" spans.
    auto segs = command.split(s);
    std::string joined;
    for (size_t i = 0; i < segs.size(); ++i)
      joined += i % 2 == 0 ? replace_all(segs[i].value_or(""), r.text, "") : segs[i].value_or("");
    s = std::move(joined);
  }
  s = dollars.sub("$\\3$", s);
  s = text.sub("\\2", s);
  s = textbf.sub("\\2", s);
  s = overline.sub("\\2", s);
  s = boxed.sub("\\2", s);
  s = frac.sub("frac{\\2}{\\3}", s);
  s = sqrt_index.sub("\\1\\2{\\3}", s);
  s = sqrt_short.sub("sqrt{\\2}", s);
  s = replace_all(s, "$", "");
  if (thousands.fullmatch(s)) s = replace_all(s, ",", "");
  return s;
}

std::string minerva_doc_answer(std::string_view solution) {
  const auto boxed = last_boxed_only_string(solution);
  if (!boxed) fail("minerva_math: the solution has no \\boxed answer");
  return normalize_final_answer(remove_boxed(*boxed));
}

double minerva_exact_match(std::string_view response, std::string_view doc_answer) {
  return minerva_is_equiv(normalize_final_answer(get_unnormalized_answer(response)), doc_answer)
             ? 1.0
             : 0.0;
}

std::optional<std::string> strip_string(std::string_view in) {
  try {
    std::string s = replace_all(in, "\n", "");
    s = replace_all(s, "\\!", "");
    s = replace_all(s, "\\\\", "\\");
    s = replace_all(s, "tfrac", "frac");
    s = replace_all(s, "dfrac", "frac");
    s = replace_all(s, "\\left", "");
    s = replace_all(s, "\\right", "");
    s = replace_all(s, "^{\\circ}", "");
    s = replace_all(s, "^\\circ", "");
    s = replace_all(s, "\\$", "");
    s = remove_right_units(s);
    s = replace_all(s, "\\%", "");
    s = replace_all(s, " .", " 0.");
    s = replace_all(s, "{.", "{0.");
    if (s.empty()) return s;
    if (s[0] == '.') s = "0" + s;
    // "k = 5" -> "5" when the left side is at most two characters
    if (const auto eq = split(s, "="); eq.size() == 2 && pystr::length(eq[0]) <= 2) s = eq[1];
    s = fix_sqrt(s);
    s = replace_all(s, " ", "");
    s = fix_fracs(s);
    if (s == "0.5") s = "\\frac{1}{2}";
    return fix_a_slash_b(s);
  } catch (const Raised&) {
    return std::nullopt;
  }
}

bool hendrycks_is_equiv(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  if (!a || !b) return !a && !b;
  const auto sa = strip_string(*a), sb = strip_string(*b);
  if (!sa || !sb) return *a == *b;
  return *sa == *sb;
}

std::string hendrycks_extract_answer(std::string_view response) {
  const size_t first = response.find('$'), last = response.rfind('$');
  if (first == std::string_view::npos || first == last) return std::string(response);
  return std::string(response.substr(first + 1, last - first - 1));
}

double hendrycks_exact_match(std::string_view response, std::string_view solution) {
  const auto boxed = last_boxed_only_string(solution);
  if (!boxed) fail("hendrycks_math: the solution has no \\boxed answer");
  return hendrycks_is_equiv(hendrycks_extract_answer(response), remove_boxed(*boxed)) ? 1.0 : 0.0;
}

}  // namespace erank::grading
