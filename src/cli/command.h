// Subcommand registry: each src/cli/cmd_*.cpp registers itself with ERANK_COMMAND, so adding a
// subcommand never touches main.cpp. `setup` declares options on the CLI11 subcommand and returns
// the function that runs it (returning the process exit code).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace erank::cli {

using RunFn = std::function<int()>;
struct Command {
  std::string name;
  std::string help;
  std::function<RunFn(CLI::App&)> setup;
};

std::vector<Command>& commands();
inline bool register_command(Command c) {
  commands().push_back(std::move(c));
  return true;
}

}  // namespace erank::cli

#define ERANK_CAT2(a, b) a##b
#define ERANK_CAT(a, b) ERANK_CAT2(a, b)
#define ERANK_COMMAND(name, help, setup)                  \
  static const bool ERANK_CAT(erank_command_, __LINE__) = \
      ::erank::cli::register_command({name, help, setup})
