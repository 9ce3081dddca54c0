#include "report/html.h"

#include "core/error.h"
#include "core/markup.h"

#include <fmt/format.h>

#include <cmath>

namespace erank::report {

// The one escaper of the tree (core/markup.h), as Python's html.escape(s, quote=True).
std::string esc(std::string_view s) {
  return xml_escape(s);
}

std::string num(std::optional<double> v, int digits) {
  if (!v || !std::isfinite(*v)) return "n/a";
  if (*v == 0) return "0";
  const double a = std::fabs(*v);
  if (a >= 1e-3 && a < 1e7) {
    // Fixed notation with `digits` significant digits, then trailing zeros dropped.
    const int mag = static_cast<int>(std::floor(std::log10(a)));
    const int dec = std::max(0, digits - 1 - mag);
    std::string s = fmt::format("{:.{}f}", *v, dec);
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    return s;
  }
  return fmt::format("{:.{}g}", *v, digits);
}

std::string count(double v) {
  if (!std::isfinite(v)) return "n/a";
  std::string d = fmt::format("{:.0f}", std::fabs(v)), r;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) r += ',';
    r += d[i];
  }
  return (v < 0 ? "-" : "") + r;
}

std::string pm(std::optional<double> v, std::optional<double> se, int digits) {
  if (!v || !std::isfinite(*v)) return "n/a";
  if (!se || !std::isfinite(*se)) return num(v, digits);
  return num(v, digits) + " \u00b1 " + num(se, 2);
}

namespace {
bool numeric_looking(const std::string& s) {
  if (s.empty()) return false;
  if (s == "n/a") return true;
  const char c = s[0];
  return (c >= '0' && c <= '9') || ((c == '-' || c == '+' || c == '.') && s.size() > 1);
}
}  // namespace

std::string table_html(const Table& t) {
  std::string s = "<table>";
  if (!t.caption.empty()) s += "<caption>" + esc(t.caption) + "</caption>";
  s += "<thead><tr>";
  for (const auto& h : t.head) s += "<th>" + esc(h) + "</th>";
  s += "</tr></thead><tbody>\n";
  for (const auto& row : t.rows) {
    // A row wider or narrower than the head shifts every later cell under the wrong header.
    ERANK_CHECK(row.size() == t.head.size(),
                "report table '{}': a row of {} cells under {} headers", t.caption, row.size(),
                t.head.size());
    s += "<tr>";
    for (const auto& c : row)
      s += (t.numeric_right && numeric_looking(c) ? "<td class=\"n\">" : "<td>") + esc(c) + "</td>";
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n";
}

std::string settings_html(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string s = "<dl class=\"settings\">";
  for (const auto& [k, v] : kv) s += "<dt>" + esc(k) + "</dt><dd>" + esc(v) + "</dd>";
  return s + "</dl>\n";
}

}  // namespace erank::report
