#include "generate/eos.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace erank::gen {
namespace {

void add_ids(const nlohmann::json& v, std::vector<int32_t>& out) {
  if (v.is_number_integer()) out.push_back(v.get<int32_t>());
  if (v.is_array())
    for (auto& x : v)
      if (x.is_number_integer()) out.push_back(x.get<int32_t>());
}

}  // namespace

std::vector<int32_t> default_eos_ids(const ModelSource& src, const ModelConfig& cfg,
                                     const Tokenizer& tok) {
  std::vector<int32_t> ids;
  if (src.kind == ModelSource::Kind::hf_folder) {
    const auto gen = std::filesystem::path(src.path) / "generation_config.json";
    if (std::filesystem::exists(gen)) {
      std::ifstream f(gen);
      nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
      if (j.is_discarded()) fail("{}: not valid JSON", gen.string());
      if (j.contains("eos_token_id")) add_ids(j["eos_token_id"], ids);
    }
    if (ids.empty() && cfg.raw.contains("eos_token_id")) add_ids(cfg.raw["eos_token_id"], ids);
    if (ids.empty() && tok.eos_id()) ids.push_back(*tok.eos_id());
  } else {
    if (cfg.eos_id >= 0) ids.push_back(static_cast<int32_t>(cfg.eos_id));
    GGUFFile f(src.path);
    const int64_t eot = f.get_int_or("tokenizer.ggml.eot_token_id", -1);
    if (eot >= 0) ids.push_back(static_cast<int32_t>(eot));
    for (const char* name :
         {"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>"})
      if (auto id = tok.token_to_id(name); id && tok.is_special(*id)) ids.push_back(*id);
  }
  std::vector<int32_t> unique;
  for (int32_t id : ids)
    if (std::find(unique.begin(), unique.end(), id) == unique.end()) unique.push_back(id);
  return unique;
}

}  // namespace erank::gen
