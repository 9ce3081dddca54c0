// The token ids that end a sequence, as the model's files say. HF folders: generation_config.json
// `eos_token_id` (an id or a list, as transformers' generate() reads it), else config.json's, else
// the tokenizer's eos. GGUF files carry one eos id, so the end-of-turn tokens a chat model emits
// are added too: tokenizer.ggml.eot_token_id and the control tokens <|im_end|>, <|eot_id|>,
// <end_of_turn>, <|end|> and <|endoftext|> when the vocabulary has them (llama.cpp stops on these
// as well; tools/make_generate_refs.py applies the same rule to transformers' run).
#pragma once
#include <cstdint>
#include <vector>

#include "io/model_source.h"
#include "models/config.h"

namespace erank {
class Tokenizer;
}

namespace erank::gen {

std::vector<int32_t> default_eos_ids(const ModelSource& src, const ModelConfig& cfg,
                                     const Tokenizer& tok);

}  // namespace erank::gen
