// Options and helpers shared by subcommands: the model/backend options, the one-line resolved
// configuration printed at start, and text -> token ids with the model's own tokenizer.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "io/model_source.h"

namespace erank {
class Tokenizer;
}

namespace erank::cli {

struct EngineOptions {
  std::string model = kDefaultModel;
  std::string backend = "cpu";
  int threads = 0;
  void add(CLI::App& app);
  std::unique_ptr<Backend> make() const { return make_backend(backend, threads); }
};

// The model's tokenizer: tokenizer.json in an HF folder, or the GGUF vocabulary.
std::unique_ptr<Tokenizer> load_tokenizer(const ModelSource& src);

// "1,2,3" -> ids
std::vector<int32_t> parse_ids(const std::string& s);

// True when stderr is a terminal (progress bars) — plain lines otherwise.
bool stderr_is_tty();

}  // namespace erank::cli
