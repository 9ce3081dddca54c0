#include "template/chat.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/gguf.h"
#include "template/template.h"

namespace fs = std::filesystem;

namespace erank {
namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail("{}: cannot open", p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::ordered_json read_json(const fs::path& p) {
  try {
    return nlohmann::ordered_json::parse(read_text(p));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed JSON: {}", p.string(), e.what());
  }
}

ChatTemplate from_hf_folder(const ModelSource& src, const std::string& name) {
  const fs::path dir(src.path);
  const fs::path jinja = name.empty() || name == "default"
                             ? dir / "chat_template.jinja"
                             : dir / "additional_chat_templates" / (name + ".jinja");
  if (fs::is_regular_file(jinja)) return {read_text(jinja), jinja.string()};
  const fs::path cfg = dir / "tokenizer_config.json";
  if (fs::is_regular_file(cfg)) {
    const auto j = read_json(cfg);
    if (j.contains("chat_template")) {
      const auto& t = j["chat_template"];
      const std::string want = name.empty() ? "default" : name;
      if (t.is_string() && name.empty())
        return {t.get<std::string>(), cfg.string() + " chat_template"};
      if (t.is_array()) {
        std::string names;
        for (auto& e : t) {
          if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
              !e.contains("template") || !e["template"].is_string())
            fail("{}: chat_template list entries must be {{name, template}} strings", cfg.string());
          if (e["name"] == want)
            return {e["template"].get<std::string>(),
                    cfg.string() + " chat_template '" + want + "'"};
          names += (names.empty() ? "" : ", ") + e["name"].get<std::string>();
        }
        fail("model {}: no chat template named '{}' (it has: {})", src.name, want, names);
      }
      if (!t.is_string()) fail("{}: chat_template must be a string or a list", cfg.string());
      fail("model {}: no chat template named '{}' (it has only the default)", src.name, name);
    }
  }
  fail("model {} has no chat template (no chat_template.jinja and no chat_template in {})",
       src.name, cfg.string());
}

ChatTemplate from_gguf(const ModelSource& src, const std::string& name) {
  GGUFFile f(src.path);
  const std::string key =
      name.empty() ? "tokenizer.chat_template" : "tokenizer.chat_template." + name;
  if (!f.has(key)) fail("model {} has no chat template ({} has no '{}')", src.name, src.path, key);
  return {f.get_string(key), src.path + " [" + key + "]"};
}

const char* kSpecial[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                          "pad_token", "cls_token", "mask_token"};

// A token entry of tokenizer_config.json: a string or an AddedToken {"content": ...}.
bool token_string(const nlohmann::ordered_json& v, std::string* out) {
  if (v.is_string()) {
    *out = v.get<std::string>();
    return true;
  }
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    *out = v["content"].get<std::string>();
    return true;
  }
  return false;
}

tmpl::Value checked_messages(const tmpl::Value& m) {
  using tmpl::Value;
  if (!m.is_list()) fail("chat messages must be a JSON list of {{role, content}} objects");
  std::vector<Value> out;
  for (size_t i = 0; i < m.list->items.size(); ++i) {
    const Value& msg = m.list->items[i];
    if (!msg.is_dict()) fail("chat message {}: expected an object with role and content", i);
    std::vector<std::pair<Value, Value>> kept;
    for (auto& [k, v] : msg.dict->items)
      if (!v.is_none()) kept.emplace_back(k, v);  // transformers drops None-valued keys
    Value clean = Value::make_dict(std::move(kept));
    const Value* role = clean.dict->find(std::string_view("role"));
    const Value* content = clean.dict->find(std::string_view("content"));
    if (!role || !role->is_string()) fail("chat message {}: \"role\" must be a string", i);
    if (!content) fail("chat message {}: missing \"content\"", i);
    if (content->is_list()) {
      for (size_t k = 0; k < content->list->items.size(); ++k) {
        const Value& part = content->list->items[k];
        const Value* type = part.is_dict() ? part.dict->find(std::string_view("type")) : nullptr;
        const Value* text = part.is_dict() ? part.dict->find(std::string_view("text")) : nullptr;
        if (!type || !type->is_string() || type->s != "text" || !text || !text->is_string())
          fail("chat message {}: content part {} must be {{\"type\": \"text\", \"text\": string}}",
               i, k);
      }
    } else if (!content->is_string()) {
      fail("chat message {}: \"content\" must be a string or a list of text parts", i);
    }
    out.push_back(std::move(clean));
  }
  if (out.empty()) fail("cannot apply a chat template to an empty conversation");
  return Value::make_list(std::move(out));
}

std::string render(const ChatTemplate& t, const tmpl::Value& messages, bool add_generation_prompt,
                   const tmpl::Value& vars) {
  using tmpl::Value;
  if (!vars.is_dict()) fail("chat template variables must be a JSON object");
  std::vector<std::pair<Value, Value>> ctx = {
      {Value::str("messages"), checked_messages(messages)},
      {Value::str("tools"), Value::none()},
      {Value::str("documents"), Value::none()},
      {Value::str("add_generation_prompt"), Value::boolean(add_generation_prompt)},
  };
  for (auto& [k, v] : vars.dict->items) {
    if (k.is_string() && (k.s == "messages" || k.s == "add_generation_prompt"))
      fail("chat template variables must not set '{}'", k.s);
    ctx.emplace_back(k, v);  // make_dict: later entries (vars) win over the defaults
  }
  return Template(t.source, t.origin).render(Value::make_dict(std::move(ctx)));
}

}  // namespace

ChatTemplate find_chat_template(const ModelSource& src, const std::string& name) {
  return src.kind == ModelSource::Kind::gguf ? from_gguf(src, name) : from_hf_folder(src, name);
}

std::string render_chat(const ChatTemplate& t, const nlohmann::json& messages,
                        bool add_generation_prompt, const nlohmann::json& vars) {
  return render(t, tmpl::from_json(messages), add_generation_prompt, tmpl::from_json(vars));
}

std::string render_chat(const ChatTemplate& t, const nlohmann::ordered_json& messages,
                        bool add_generation_prompt, const nlohmann::ordered_json& vars) {
  return render(t, tmpl::from_json(messages), add_generation_prompt, tmpl::from_json(vars));
}

nlohmann::json special_token_vars(const ModelSource& src) {
  nlohmann::json out = nlohmann::json::object();
  if (src.kind == ModelSource::Kind::gguf) {
    GGUFFile f(src.path);
    static const std::pair<const char*, const char*> keys[] = {
        {"bos_token", "bos_token_id"},     {"eos_token", "eos_token_id"},
        {"unk_token", "unknown_token_id"}, {"sep_token", "seperator_token_id"},
        {"pad_token", "padding_token_id"}, {"cls_token", "cls_token_id"},
        {"mask_token", "mask_token_id"}};
    if (!f.has("tokenizer.ggml.tokens")) return out;
    const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
    for (auto& [var, key] : keys) {
      const int64_t id = f.get_int_or(std::string("tokenizer.ggml.") + key, -1);
      if (id >= 0 && id < static_cast<int64_t>(tokens.size()))
        out[var] = tokens[static_cast<size_t>(id)];
    }
    return out;
  }
  const fs::path dir(src.path);
  for (const char* file : {"special_tokens_map.json", "tokenizer_config.json"}) {  // later wins
    if (!fs::is_regular_file(dir / file)) continue;
    const auto j = read_json(dir / file);
    for (const char* k : kSpecial) {
      std::string s;
      if (j.contains(k) && token_string(j[k], &s)) out[k] = s;
    }
  }
  return out;
}

}  // namespace erank
