#include "cli/common.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "core/error.h"

namespace erank::cli {

void EngineOptions::add(CLI::App& app) {
  app.add_option("-m,--model", model,
                 "GGUF file, HF folder, HF id in the local cache, or short name (smollm2-135m, "
                 "gemma3-270m)")
      ->capture_default_str();
  app.add_option("--backend", backend, "cpu (f32, BLAS) or reference (f64, slow oracle)")
      ->capture_default_str();
  app.add_option("-t,--threads", threads, "threads (0: all cores)")->capture_default_str();
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t end = std::min(s.find(',', pos), s.size());
    try {
      ids.push_back(static_cast<int32_t>(std::stol(s.substr(pos, end - pos))));
    } catch (const std::exception&) {
      fail("--ids: '{}' is not a comma-separated list of integers", s);
    }
    pos = end + 1;
  }
  return ids;
}

bool stderr_is_tty() {
  return ::isatty(2) == 1;
}

}  // namespace erank::cli

#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace erank::cli {

std::unique_ptr<Tokenizer> load_tokenizer(const ModelSource& src) {
  if (src.kind == ModelSource::Kind::gguf) {
    GGUFFile f(src.path);
    return Tokenizer::from_gguf(f);
  }
  return Tokenizer::from_hf_folder(src.path);
}

}  // namespace erank::cli
