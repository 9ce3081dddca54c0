// The files `erank report` reads: each is parsed, its kind detected from its keys, its schema
// version and the structure the report relies on checked, so that a bad file fails before any
// output is written, with one line naming the file.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace erank::report {

enum class Kind {
  results,  // erank diff | rank | loss --out (docs/results-schema.md)
  sweep,    // erank sweep --out (docs/sweep-schema.md)
  lens,     // erank lens --out
  probe,    // erank probe --out
  arena,    // erank arena rate --out
  eval,     // erank eval --output-path: results_<time>.json (lm-eval's format)
};
const char* kind_name(Kind k);

// The schema versions this report reads (the writers' constants, restated: report/ only reads).
inline constexpr int kResultsSchema = 1, kSweepSchema = 1, kProbeSchema = 1;

struct Input {
  std::string path;
  Kind kind;
  nlohmann::json doc;
};

// Throws erank::Error naming `path` when the text is not JSON (or truncated), is of an unknown
// kind or schema version, or lacks what the report needs.
Input parse_input(const std::string& path, const std::string& text);
Input load_input(const std::string& path);
// All files, in order; an empty list or a file given twice is an error.
std::vector<Input> load_inputs(const std::vector<std::string>& paths);

// Lenient readers for values the schemas allow to be null or absent.
std::optional<double> opt_num(const nlohmann::json& j, const char* key);
std::optional<double> opt_num(const nlohmann::json& j);
std::string opt_str(const nlohmann::json& j, const char* key, const std::string& dflt = "");
// A short text for any JSON value (strings unquoted, null as "n/a").
std::string text_of(const nlohmann::json& v);

}  // namespace erank::report
