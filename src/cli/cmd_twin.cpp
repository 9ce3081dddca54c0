// erank twin: the untrained twin of a model (same config, HF `_init_weights` scheme, seeded),
// saved as an HF folder that transformers loads, so Python can run the very same twin.
#include <fmt/core.h>

#include "cli/command.h"
#include "cli/common.h"
#include "models/model.h"

namespace erank::cli {
namespace {

RunFn setup(CLI::App& app) {
  struct Opts {
    EngineOptions eng;
    uint64_t seed = 0;
    std::string save;
  };
  auto o = std::make_shared<Opts>();
  o->eng.add(app);
  app.add_option("--seed", o->seed, "seed of the random initialisation")->capture_default_str();
  app.add_option("--save", o->save, "output folder (config.json + model.safetensors)")->required();
  return [o] {
    const ModelSource src = resolve_model_source(o->eng.model);
    const Architecture* arch = nullptr;
    const ModelConfig cfg = load_config(src, &arch);
    auto twin = make_twin(cfg, *arch, o->seed);
    save_hf_folder(*twin, o->save);
    fmt::print("twin of {} (seed {}, {} parameters) written to {}\n", src.name, o->seed,
               twin->n_params(), o->save);
    return 0;
  };
}

ERANK_COMMAND("twin", "Write the untrained (randomly initialised) twin of a model as an HF folder",
              setup);

}  // namespace
}  // namespace erank::cli
