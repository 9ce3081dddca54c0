// erank report: results files of erank diff/rank/loss, sweep, lens, probe, arena rate and eval
// -> one self-contained HTML page with SVG plots and the tables beside them (report/page.h).
#include <fmt/core.h>

#include "cli/command.h"
#include "report/page.h"

namespace erank::cli {
namespace {

struct Opts {
  std::vector<std::string> files;
  std::string out;
};

RunFn setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  // Not required here: an empty list gets erank's own one-line error, as other bad input does.
  app.add_option("files", o->files, "results JSON files (any mix of kinds)");
  app.add_option("--out", o->out, "the HTML page to write")->required();
  return [o] {
    std::string cmd = "erank report";
    for (const auto& f : o->files) cmd += " " + f;
    cmd += " --out " + o->out;
    report::write_report(o->files, o->out, {ERANK_VERSION, cmd});
    fmt::print(stderr, "wrote {} ({} input file{})\n", o->out, o->files.size(),
               o->files.size() == 1 ? "" : "s");
    return 0;
  };
}

ERANK_COMMAND("report",
              "One self-contained HTML page (SVG plots and tables) from results files of any kind",
              setup);

}  // namespace
}  // namespace erank::cli
