// Chat templates: where a model keeps its template, the special-token strings transformers passes
// to it, and rendering as tokenizer.apply_chat_template(messages, tokenize=False, ...).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "io/model_source.h"

namespace erank {

struct ChatTemplate {
  std::string source;  // the Jinja text
  std::string origin;  // where it came from, named in every error
};

// The model's chat template: tokenizer_config.json `chat_template` next to an HF folder (a string,
// or the list-of-{name, template} form: "default" unless `name` is given), or a chat_template.jinja
// file (additional_chat_templates/<name>.jinja for a name) as newer transformers saves it, which
// takes priority as in transformers; GGUF `tokenizer.chat_template` (or `.<name>`).
// Throws erank::Error naming the model when it has none.
ChatTemplate find_chat_template(const ModelSource& src, const std::string& name = "");

// Renders as tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...):
// messages must be a JSON list of objects with string "role" and "content" (content may also be
// a list of {type: text, text} parts); anything else -> erank::Error naming the problem and index.
// Keys with null values are dropped, as transformers does. `vars` carries bos_token, eos_token, ...
// and anything extra (tools, date_string, ...); `tools` and `documents` default to None.
// The nlohmann::json overload sees object keys sorted (that type's order); ordered_json keeps the
// input order, as Python dicts do — it matters for `tojson` and dict iteration.
std::string render_chat(const ChatTemplate& t, const nlohmann::json& messages,
                        bool add_generation_prompt, const nlohmann::json& vars);
std::string render_chat(const ChatTemplate& t, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const nlohmann::ordered_json& vars);

// bos_token / eos_token / unk_token / sep_token / pad_token / cls_token / mask_token strings of a
// model, as transformers' special_tokens_map gives them (tokenizer_config.json strings or
// AddedToken dicts, special_tokens_map.json underneath; for GGUF: the token strings of
// tokenizer.ggml.*_token_id). Only the tokens the model defines.
nlohmann::json special_token_vars(const ModelSource& src);

}  // namespace erank
