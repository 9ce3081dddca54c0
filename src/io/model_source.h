// Where a model's files are: a user's --model string resolved offline, the way from_pretrained
// would find it. Accepts a GGUF file, an HF folder, a short name of an embedded model
// (smollm2-135m, gemma3-270m) or an HF id ORG/NAME found in the HF cache.
#pragma once
#include <string>
#include <vector>

namespace erank {

struct ModelSource {
  enum class Kind { hf_folder, gguf };
  Kind kind = Kind::hf_folder;
  std::string path;  // the folder (hf_folder) or the .gguf file
  std::string name;  // what the user asked for, for reports
};

// The default model when --model is not given.
inline constexpr const char* kDefaultModel = "smollm2-135m";

// Throws erank::Error listing the places searched when nothing matches.
ModelSource resolve_model_source(const std::string& spec);

// HF hub cache root as huggingface_hub computes it: HF_HUB_CACHE, else HF_HOME/hub, else
// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (models--* and datasets--*).
std::string hf_hub_cache();

// Folders searched for short names: $ERANK_MODELS, then <source dir>/models.
std::vector<std::string> model_search_dirs();

}  // namespace erank
