#include "report/page.h"

#include <fmt/format.h>

#include <ctime>
#include <map>

#include "core/error.h"
#include "io/atomic_file.h"
#include "report/sections.h"

namespace erank::report {

using json = nlohmann::json;

namespace {

const char* const kCss = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1500px; padding: 16px 24px; color: #222; background: #fafafa; }
h1 { margin: 4px 0 2px; } h2 { margin-top: 36px; border-bottom: 2px solid #0072b2; }
h3 { margin: 20px 0 6px; color: #333; }
header .meta { color: #555; font-size: 14px; }
code { background: #eee; padding: 1px 4px; border-radius: 3px; }
nav ul { columns: 2; font-size: 14px; }
.figure { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; margin: 10px 0 22px; }
.plot-wrap { flex: 0 0 auto; background: white; border: 1px solid #ddd; border-radius: 4px; }
.plot-wrap svg { display: block; max-width: 100%; height: auto; }
.table-wrap { flex: 1 1 320px; max-height: 420px; overflow: auto; }
.table-wrap.wide { max-height: none; margin: 8px 0; }
.table-wrap.wide td { white-space: normal; }
table { border-collapse: collapse; font-size: 13px; background: white; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; white-space: nowrap; }
th { background: #f0f4f8; position: sticky; top: 0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
dl.settings { display: grid; grid-template-columns: max-content auto; gap: 2px 14px;
              font-size: 13px; margin: 8px 0; }
dl.settings dt { font-weight: bold; } dl.settings dd { margin: 0; word-break: break-all; }
.note { color: #666; font-size: 12px; margin: 4px 8px; }
.quote { font-size: 13px; color: #444; border-left: 3px solid #ccc; padding-left: 8px; }
ul.failed li { color: #a00; }
)";

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// What the header's table says about one file.
std::string describe(const Input& in) {
  const json& d = in.doc;
  switch (in.kind) {
    case Kind::results:
      return fmt::format("erank {} of {} on {}", opt_str(d, "command"), opt_str(d["model"], "name"),
                         opt_str(d["dataset"], "name"));
    case Kind::sweep:
      return fmt::format("erank sweep, {} text set(s)", d["sets"].size());
    case Kind::lens:
      return "erank lens of " + opt_str(d, "model");
    case Kind::probe:
      return "erank probe of " + opt_str(d, "model");
    case Kind::arena:
      return fmt::format("erank arena rate, {} models", d["models"].size());
    case Kind::eval:
      return "erank eval of " + opt_str(d, "model_name");
  }
  return "";
}

Section build(const Input& in, const std::string& id) {
  switch (in.kind) {
    case Kind::sweep:
      return sweep_section(in, id);
    case Kind::lens:
      return lens_section(in, id);
    case Kind::probe:
      return probe_section(in, id);
    case Kind::arena:
      return arena_section(in, id);
    case Kind::eval:
      return eval_section(in, id);
    case Kind::results:
      break;
  }
  return results_section({&in}, id);
}

// The checks in inputs.cpp cover what the sections index; a JSON type error that slips past
// them still becomes one line naming the file, never an abort.
template <typename F>
Section guarded(const std::vector<std::string>& files, F make) {
  try {
    return make();
  } catch (const json::exception& e) {
    std::string what = e.what();
    const size_t cut = what.find("] ");
    if (cut != std::string::npos) what = what.substr(cut + 2);
    std::string names;
    for (const auto& f : files) names += (names.empty() ? "" : ", ") + f;
    fail("{}: unexpected content: {}", names, what);
  }
}

}  // namespace

std::string render_page(const std::vector<Input>& inputs, const PageInfo& info) {
  // Group results files by the texts they ran on (dataset sha256).
  std::map<std::string, std::vector<const Input*>> groups;
  for (const Input& in : inputs)
    if (in.kind == Kind::results)
      groups[opt_str(in.doc["dataset"], "sha256", in.path)].push_back(&in);
  std::vector<const Input*> evals;
  for (const Input& in : inputs)
    if (in.kind == Kind::eval) evals.push_back(&in);
  std::vector<Section> sections;
  std::map<std::string, int> per_kind;
  for (const Input& in : inputs) {
    const std::string id = fmt::format("{}-{}", kind_name(in.kind), ++per_kind[kind_name(in.kind)]);
    if (in.kind == Kind::results) {
      auto& g = groups[opt_str(in.doc["dataset"], "sha256", in.path)];
      if (g.empty() || g.front() != &in) continue;  // the group is placed at its first file
      std::vector<std::string> files;
      for (const Input* f : g) files.push_back(f->path);
      sections.push_back(guarded(files, [&] { return results_section(g, id, evals); }));
    } else {
      sections.push_back(guarded({in.path}, [&] { return build(in, id); }));
    }
  }

  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>erank report</title>\n<style>" +
      std::string(kCss) + "</style>\n</head>\n<body>\n<header>\n<h1>erank report</h1>\n";
  h += fmt::format(
      "<p class=\"meta\">Written by erank <span id=\"erank-version\">{}</span> on {}"
      "{}.</p>\n",
      esc(info.erank_version), esc(utc_now()),
      info.command_line.empty() ? "" : " with <code>" + esc(info.command_line) + "</code>");
  Table files;
  files.caption = "Input files";
  files.head = {"file", "kind", "written by erank", "content"};
  for (const Input& in : inputs)
    files.rows.push_back({in.path, kind_name(in.kind),
                          opt_str(in.doc, "erank_version", "(not recorded)"), describe(in)});
  h += "<div class=\"table-wrap wide\" id=\"inputs\">" + table_html(files) + "</div>\n";
  h += "<nav><ul>\n";
  for (const Section& s : sections)
    h += "<li><a href=\"#" + esc(s.id) + "\">" + esc(s.title) + "</a></li>\n";
  h += "</ul></nav>\n</header>\n<main>\n";
  for (const Section& s : sections) h += section_html(s);
  h += "</main>\n<footer class=\"note\">Diff-eRank: eRank of the untrained twin minus eRank of "
       "the trained model (Algorithm (a): exp of mean entropies; (b): mean of per-text eRanks); "
       "reduced loss: loss of the twin minus loss of the model.</footer>\n</body>\n</html>\n";
  return h;
}

void write_report(const std::vector<std::string>& paths, const std::string& out,
                  const PageInfo& info) {
  if (out.empty()) fail("report: --out FILE.html is required");
  const std::vector<Input> inputs = load_inputs(paths);
  for (const Input& in : inputs)
    if (in.path == out) fail("{}: is both an input and --out", out);
  write_file_atomic(out, render_page(inputs, info));
}

}  // namespace erank::report
