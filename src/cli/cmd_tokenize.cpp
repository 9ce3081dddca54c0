// erank tokenize: text -> token ids with a model's own tokenizer (tokenizer.json of an HF folder,
// or the GGUF vocabulary), exactly as Python `tokenizer(text)["input_ids"]`.
// --format jsonl: one JSON array of ids per input line; human: each id with its token string.
#include <fmt/core.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace erank::cli {
namespace {

struct Options {
  std::string model = kDefaultModel;
  std::string text, text_file, format = "jsonl";
  bool no_special = false, whole = false;
};

void emit(const Tokenizer& tok, const Options& o, std::string_view text) {
  auto ids = tok.encode(text, !o.no_special);
  if (o.format == "jsonl") {
    std::string line = "[";
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? "," : "") + std::to_string(ids[i]);
    fmt::print("{}]\n", line);
    return;
  }
  fmt::print("{} tokens\n", ids.size());
  for (int32_t id : ids)
    fmt::print("{:>8}  {}\n", id,
               nlohmann::json(tok.token_string(id))
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

RunFn setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model,-m", o->model, "HF folder, .gguf file, short name or HF id")
      ->capture_default_str();
  auto* t = app.add_option("--text,-t", o->text, "text to tokenise (each line separately)");
  auto* f = app.add_option("--text-file,-f", o->text_file,
                           "file to tokenise, one input per line ('-' = stdin)");
  t->excludes(f);
  app.add_option("--format", o->format, "jsonl (one JSON array per line) or human")
      ->check(CLI::IsMember({"jsonl", "human"}))
      ->capture_default_str();
  app.add_flag("--no-special", o->no_special, "add_special_tokens=False (no BOS/EOS)");
  app.add_flag("--whole", o->whole, "tokenise the whole input as one text instead of per line");
  return [o, t, f] {
    if (t->count() == 0 && f->count() == 0) fail("tokenize: give --text or --text-file");
    const ModelSource src = resolve_model_source(o->model);
    auto tok = load_tokenizer(src);
    std::string all;
    if (t->count()) {
      all = o->text;
    } else if (o->text_file == "-") {
      all.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream in(o->text_file, std::ios::binary);
      if (!in) fail("{}: cannot open", o->text_file);
      all.assign(std::istreambuf_iterator<char>(in), {});
    }
    if (o->whole) {
      emit(*tok, *o, all);
      return 0;
    }
    // Lines split on '\n' (a trailing '\r' stays part of the line, as Python's split("\n")).
    size_t start = 0;
    while (start < all.size()) {
      size_t nl = all.find('\n', start);
      if (nl == std::string::npos) nl = all.size();
      emit(*tok, *o, std::string_view(all).substr(start, nl - start));
      start = nl + 1;
    }
    if (all.empty()) emit(*tok, *o, "");
    return 0;
  };
}

ERANK_COMMAND("tokenize", "Token ids of text with a model's tokenizer (HF-exact)", setup);

}  // namespace
}  // namespace erank::cli
