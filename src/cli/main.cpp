// erank entry point: builds the subcommands from the registry, runs the chosen one, and turns
// erank::Error into one clear line on stderr and exit code 1.
#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "backend/blas_kernels.h"
#include "cli/command.h"
#include "core/error.h"

namespace erank::cli {
std::vector<Command>& commands() {
  static std::vector<Command> c;
  return c;
}
}  // namespace erank::cli

int main(int argc, char** argv) {
  using namespace erank::cli;
  erank::select_blas_kernels(argv);
  CLI::App app{"erank: evaluate language models from the inside (Diff-eRank and friends)", "erank"};
  app.set_version_flag("--version", std::string("erank ") + ERANK_VERSION);
  app.require_subcommand(0, 1);
  auto& cmds = commands();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, RunFn>> runs;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runs.emplace_back(sub, c.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const erank::Error& e) {
    fmt::print(stderr, "erank: error: {}\n", e.what());
    return 1;
  }
  try {
    for (auto& [sub, run] : runs)
      if (sub->parsed()) return run();
    // No subcommand: the main job (Diff-eRank on the embedded default) when it is registered.
    for (auto& [sub, run] : runs)
      if (sub->get_name() == "diff") return run();
    fmt::print("{}", app.help());
    return 0;
  } catch (const erank::Error& e) {
    fmt::print(stderr, "erank: error: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "erank: error: out of memory\n");
    return 1;
  }
}
