// erank diff: Diff-eRank of a model against its untrained twin(s), reduced loss, eRank per layer.
// With no arguments: SmolLM2-135M on 100 BoolQ Wikipedia passages (the embedded default).
#include "cli/eval_options.h"

namespace erank::cli {
namespace {

RunFn setup(CLI::App& app) {
  auto o = add_eval_options(app, /*twin=*/true, /*layers=*/true);
  return [o] {
    o->run.command = "diff";
    return run_eval_command(*o);
  };
}

ERANK_COMMAND("diff", "Diff-eRank, reduced loss and eRank per layer against the untrained twin",
              setup);

}  // namespace
}  // namespace erank::cli
