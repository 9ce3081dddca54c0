// erank rank: eRank of one model's hidden states, per layer (default: all layers), no twin.
#include "cli/eval_options.h"

namespace erank::cli {
namespace {

RunFn setup(CLI::App& app) {
  auto o = add_eval_options(app, /*twin=*/false, /*layers=*/true);  // layers: all by default
  return [o] {
    o->run.command = "rank";
    o->run.twins = 0;
    o->run.with_loss = false;
    return run_eval_command(*o);
  };
}

ERANK_COMMAND("rank", "eRank of one model's representations, per layer", setup);

}  // namespace
}  // namespace erank::cli
