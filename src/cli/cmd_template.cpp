// erank template: a chat rendered with the model's chat template, byte-exact as transformers'
// tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...). The text goes
// to stdout as is (no newline added); errors are one line on stderr and exit 1.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.h"
#include "core/error.h"
#include "template/chat.h"

namespace erank::cli {
namespace {

struct Options {
  std::string model = kDefaultModel;
  std::string messages, template_file, template_name, vars_file;
  bool add_generation_prompt = false;
};

nlohmann::ordered_json read_json_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open {}", path, what);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::ordered_json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed JSON in {}: {}", path, what, e.what());
  }
}

RunFn setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model,-m", o->model, "HF folder, .gguf file, short name or HF id")
      ->capture_default_str();
  app.add_option("--messages", o->messages, "JSON file: a list of {role, content} messages")
      ->required();
  app.add_flag("--add-generation-prompt", o->add_generation_prompt,
               "end with the header of an assistant turn");
  app.add_option("--template", o->template_file,
                 "a .jinja file to use instead of the model's own template");
  app.add_option("--template-name", o->template_name,
                 "a named template of the model (e.g. tool_use) instead of the default");
  app.add_option("--vars", o->vars_file,
                 "JSON object file of extra template variables (tools, date_string, ...)");
  return [o] {
    const ModelSource src = resolve_model_source(o->model);
    const auto messages = read_json_file(o->messages, "the messages");
    nlohmann::ordered_json vars = nlohmann::ordered_json::object();
    const nlohmann::json stv = special_token_vars(src);  // named: items() of a temporary dangles
    for (auto& [k, v] : stv.items()) vars[k] = v;
    if (!o->vars_file.empty()) {
      const auto extra = read_json_file(o->vars_file, "the template variables");
      if (!extra.is_object()) fail("{}: template variables must be a JSON object", o->vars_file);
      for (auto it = extra.begin(); it != extra.end(); ++it) vars[it.key()] = it.value();
    }
    ChatTemplate t;
    if (!o->template_file.empty()) {
      std::ifstream in(o->template_file, std::ios::binary);
      if (!in) fail("{}: cannot open the template", o->template_file);
      std::stringstream ss;
      ss << in.rdbuf();
      t = {ss.str(), o->template_file};
    } else {
      t = find_chat_template(src, o->template_name);
    }
    const std::string text = render_chat(t, messages, o->add_generation_prompt, vars);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return 0;
  };
}

ERANK_COMMAND("template", "A chat rendered with the model's chat template (transformers-exact)",
              setup);

}  // namespace
}  // namespace erank::cli
