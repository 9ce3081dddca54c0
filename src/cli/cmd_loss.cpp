// erank loss: next-token cross-entropy (per token and per text) and perplexity of one model.
#include "cli/eval_options.h"

namespace erank::cli {
namespace {

RunFn setup(CLI::App& app) {
  auto o = add_eval_options(app, /*twin=*/false, /*layers=*/false);
  return [o] {
    o->run.command = "loss";
    o->run.twins = 0;
    o->run.with_loss = true;
    return run_eval_command(*o);
  };
}

ERANK_COMMAND("loss", "Cross-entropy and perplexity of one model on a dataset", setup);

}  // namespace
}  // namespace erank::cli
