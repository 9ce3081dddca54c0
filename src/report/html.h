// HTML building blocks of the report: escaping of every text that comes from a results file,
// compact number formatting, and tables (the numbers printed beside every plot).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace erank::report {

// Escapes & < > " ' so the text is safe both as element content and inside a quoted attribute.
std::string esc(std::string_view s);

// Up to `digits` significant digits, no trailing zeros; "n/a" for a missing or non-finite value.
std::string num(std::optional<double> v, int digits = 4);
// A count with thousands separators (12,345,678).
std::string count(double v);
// Mean +- standard error, when the error is known.
std::string pm(std::optional<double> v, std::optional<double> se, int digits = 4);

struct Table {
  std::string caption;
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;  // plain text; escaped when rendered
  bool numeric_right = true;                   // right-align cells that look like numbers
};
std::string table_html(const Table& t);

// A <dl> of settings: key -> value pairs (plain text, escaped when rendered).
std::string settings_html(const std::vector<std::pair<std::string, std::string>>& kv);

}  // namespace erank::report
