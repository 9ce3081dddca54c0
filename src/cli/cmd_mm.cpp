// erank mm: multimodal eRank of a LLaVA model over image-text pairs (eRank1..5, image reduction
// ratio, image-text alignment), optionally on rotated images or upright and rotated side by side.
#include <fmt/core.h>

#include "cli/command.h"
#include "core/error.h"
#include "eval/mm_run.h"
#include "io/atomic_file.h"

namespace erank::cli {
namespace {

RunFn setup(CLI::App& app) {
  auto s = std::make_shared<MMSettings>();
  auto out = std::make_shared<std::string>();
  app.add_option("--model", s->model, "LlavaForConditionalGeneration folder (HF layout)")
      ->required();
  app.add_option("--data", s->data, "pairs: JSONL (or CSV); image paths relative to its folder")
      ->required();
  app.add_option("--image-field", s->image_field, "field holding the image path")
      ->capture_default_str();
  app.add_option("--text-field", s->text_field, "field holding the text (instruction + response)")
      ->capture_default_str();
  app.add_option("--template", s->prompt_template,
                 "image+text prompt for eRank5; {text} is replaced by the text")
      ->capture_default_str();
  app.add_option("--rotate", s->rotate, "rotate every image clockwise by 90, 180 or 270 degrees")
      ->check(CLI::IsMember({0, 90, 180, 270}));
  app.add_flag("--rotation-study", s->rotation_study,
               "run upright and rotated (--rotate, default 90) and report them side by side");
  app.add_option("--limit", s->limit, "first N pairs only");
  app.add_option("--per-pair", s->per_pair, "per-pair records (JSONL), appended as they finish");
  app.add_flag("--resume", s->resume, "continue the --per-pair file of a killed run");
  app.add_option("--out", *out, "results JSON (written atomically)");
  app.add_option("--backend", s->backend, "cpu | reference")->capture_default_str();
  app.add_option("--threads", s->threads, "threads (0: all cores)");
  app.add_flag("--quiet", s->quiet, "no progress");
  return [s, out] {
    if (s->resume && s->per_pair.empty()) fail("--resume needs --per-pair FILE");
    if (!s->quiet)
      fmt::print(stderr, "erank mm: model {}, data {}, rotation {}{}, backend {}\n", s->model,
                 s->data, s->rotation_study ? "0 and " : "",
                 s->rotation_study && s->rotate == 0 ? 90 : s->rotate, s->backend);
    const nlohmann::json res = run_mm(*s);
    fmt::print("{}", format_mm(res));
    if (!out->empty()) write_file_atomic(*out, res.dump(2) + "\n");
    return 0;
  };
}

ERANK_COMMAND("mm", "multimodal eRank of a LLaVA model on image-text pairs (eRank1..5, ratios)",
              setup);

}  // namespace
}  // namespace erank::cli
