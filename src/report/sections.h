// One report section per kind of input: its plots (report/svg.h), the tables beside them and the
// settings they were made with. Each section's HTML is
//   <section class="report-section" id=ID data-kind=KIND data-files='["path", ...]'>
// and the names of its plots (data-plot) are fixed per kind, so a checker can derive from the
// input files alone which plots and series the page must hold (tools/report_browser_check.py).
#pragma once
#include <string>
#include <vector>

#include "report/html.h"
#include "report/inputs.h"
#include "report/svg.h"

namespace erank::report {

struct Section {
  std::string id, kind, title;
  std::vector<std::string> files;
  std::string body;  // HTML inside the <section>
};
std::string section_html(const Section& s);

// A plot with the table of its numbers beside it.
std::string figure(const std::string& svg, const Table& t, const std::string& note = "");

// Several erank diff/rank/loss results on the same texts: a model comparison. Benchmark results
// (erank eval) of the same models, matched by model path or name, add accuracy against size.
Section results_section(const std::vector<const Input*>& files, const std::string& id,
                        const std::vector<const Input*>& evals = {});
Section sweep_section(const Input& in, const std::string& id);
Section lens_section(const Input& in, const std::string& id);
Section probe_section(const Input& in, const std::string& id);
Section arena_section(const Input& in, const std::string& id);
Section eval_section(const Input& in, const std::string& id);

// The lens heatmaps show at most this many texts and positions per text.
inline constexpr size_t kLensTexts = 3, kLensTokens = 48;

// Helpers shared by the section files.
std::string basename_of(const std::string& path);
// Names made unique by appending " (2)", " (3)"... to repeats.
std::vector<std::string> unique_names(std::vector<std::string> names);
// Model names for legends: the shortest trailing path components that tell them apart.
std::vector<std::string> display_names(const std::vector<std::string>& names);
// Rows: the union of the series' x values (ascending); a column per series.
Table series_table(const std::vector<Series>& series, const std::string& xname,
                   const std::string& caption, bool x_as_count = false);
double or_nan(std::optional<double> v);
// An lm-eval task result's main metric: its key ("acc,none") and name ("acc"); empty if none.
std::pair<std::string, std::string> main_metric(const nlohmann::json& task_result);
// The erank eval results of the model of a results document (same path, else same name).
const Input* eval_of(const nlohmann::json& results_doc, const std::vector<const Input*>& evals);

}  // namespace erank::report
