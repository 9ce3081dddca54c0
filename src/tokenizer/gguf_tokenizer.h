// The tokenizer.json + tokenizer_config.json that transformers would build from a GGUF's
// tokenizer.ggml.* metadata (exposed for tests and `erank tokenize --dump-json`).
#pragma once
#include <nlohmann/json.hpp>

#include <utility>

namespace erank {
class GGUFFile;
std::pair<nlohmann::json, nlohmann::json> gguf_tokenizer_json(const GGUFFile& f);
}  // namespace erank
