// Tokenizer throughput, single-threaded: encodes every line of a text file with one tokenizer and
// prints MB/s and tokens/s as one JSON line. bench/tokenizer_bench.sh runs it beside Hugging Face
// `tokenizers` (bench/tokenizer_bench.py) on the same file and prints the ratio.
//   bench_tokenizer (--folder DIR | --gguf FILE) --corpus FILE [--repeat N]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  std::string folder, gguf, corpus;
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--folder")
      folder = argv[i + 1];
    else if (k == "--gguf")
      gguf = argv[i + 1];
    else if (k == "--corpus")
      corpus = argv[i + 1];
    else if (k == "--repeat")
      repeat = std::stoi(argv[i + 1]);
  }
  if ((folder.empty() && gguf.empty()) || corpus.empty()) {
    std::fprintf(
        stderr, "usage: bench_tokenizer (--folder DIR | --gguf FILE) --corpus FILE [--repeat N]\n");
    return 2;
  }
  try {
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<erank::Tokenizer> tok;
    if (!folder.empty()) {
      tok = erank::Tokenizer::from_hf_folder(folder);
    } else {
      erank::GGUFFile f(gguf);
      tok = erank::Tokenizer::from_gguf(f);
    }
    double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ifstream in(corpus, std::ios::binary);
    if (!in) erank::fail("{}: cannot open", corpus);
    std::vector<std::string> lines;
    size_t bytes = 0;
    for (std::string l; std::getline(in, l);) bytes += l.size(), lines.push_back(std::move(l));
    double best = 1e30;
    size_t ntok = 0;
    for (int r = 0; r < repeat; ++r) {
      auto a = std::chrono::steady_clock::now();
      size_t n = 0;
      for (auto& l : lines) n += tok->encode(l).size();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
      if (s < best) best = s;
      ntok = n;
    }
    std::printf(
        "{\"impl\":\"erank\",\"load_s\":%.3f,\"bytes\":%zu,\"lines\":%zu,\"tokens\":%zu,"
        "\"seconds\":%.4f,\"mb_per_s\":%.3f,\"tokens_per_s\":%.0f}\n",
        load_s, bytes, lines.size(), ntok, best, bytes / best / 1e6, ntok / best);
  } catch (const erank::Error& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
