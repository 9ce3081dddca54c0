// erank hidden: every hidden state (HF output_hidden_states indexing) of each text, and
// optionally the logits, into one safetensors file: hidden.i f32 [layers, N, d], ids.i i32 [N],
// logits.i f32 [N, V]. When widths differ between layers (OPT-350m's project_out), hidden.i.l.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "data/dataset.h"
#include "eval/run.h"
#include "io/safetensors.h"
#include "models/collect_sink.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace erank::cli {
namespace {

struct Opts {
  EngineOptions eng;
  std::vector<std::string> texts;
  std::string data, field = "text", layers = "all", out, ids;
  bool logits = false;
  int64_t limit = -1, max_tokens = 2048;
};

RunFn setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  o->eng.add(app);
  auto* t = app.add_option("--text", o->texts, "text (repeatable)");
  auto* d = app.add_option("--data", o->data, "dataset file (JSONL, CSV, text)");
  auto* i = app.add_option("--ids", o->ids, "token ids, comma-separated (skips the tokenizer)");
  t->excludes(d)->excludes(i);
  d->excludes(i);
  app.add_option("--field", o->field, "JSONL key / CSV column of --data")->capture_default_str();
  app.add_option("--limit", o->limit, "at most this many texts of --data");
  app.add_option("--max-tokens", o->max_tokens, "truncate each text to this many tokens")
      ->capture_default_str();
  app.add_option("--layers", o->layers, "all | last | comma-separated HF indices (0 = embeddings)")
      ->capture_default_str();
  app.add_flag("--logits", o->logits, "also write logits.i [N, vocab]");
  app.add_option("--out", o->out, "output .safetensors")->required();
  return [o] {
    const ModelSource src = resolve_model_source(o->eng.model);
    std::vector<std::vector<int32_t>> seqs;
    std::vector<std::string> texts;
    if (!o->ids.empty()) {
      seqs.push_back(parse_ids(o->ids));
    } else {
      if (!o->data.empty()) {
        DatasetSpec spec = file_spec(o->data, o->field);
        spec.limit = o->limit;
        for (auto& tx : load_dataset(spec).texts) texts.push_back(tx.text);
      } else {
        texts = o->texts;
      }
      if (texts.empty()) fail("no input: give --text, --data or --ids");
      auto tok = load_tokenizer(src);
      for (auto& tx : texts) {
        auto ids = tok->encode(tx);
        if (static_cast<int64_t>(ids.size()) > o->max_tokens) ids.resize(size_t(o->max_tokens));
        seqs.push_back(std::move(ids));
      }
    }
    for (size_t s = 0; s < seqs.size(); ++s)
      if (seqs[s].empty()) fail("input {} has no tokens", s);
    auto model = load_model(src);
    const int L = static_cast<int>(model->config().n_layers);
    const std::vector<int> layers = parse_layers(o->layers, L);
    auto be = o->eng.make();
    std::vector<TensorToWrite> out;
    for (size_t s = 0; s < seqs.size(); ++s) {  // one text at a time: memory stays per text
      CollectSink sink({layers.begin(), layers.end()}, o->logits);
      model->forward(*be, {seqs[s]}, sink);
      const auto N = static_cast<int64_t>(seqs[s].size());
      const std::string si = std::to_string(s);
      bool uniform = true;
      for (int l : layers)
        uniform = uniform && sink.hidden.at(l)[0].cols == sink.hidden.at(layers[0])[0].cols;
      if (uniform) {
        const int64_t dim = sink.hidden.at(layers[0])[0].cols;
        std::vector<float> all;
        for (int l : layers)
          all.insert(all.end(), sink.hidden.at(l)[0].v.begin(), sink.hidden.at(l)[0].v.end());
        out.push_back(make_f32("hidden." + si, {int64_t(layers.size()), N, dim}, all));
      } else {
        for (int l : layers) {
          const Matrix& m = sink.hidden.at(l)[0];
          out.push_back(make_f32("hidden." + si + "." + std::to_string(l), {N, m.cols}, m.v));
        }
      }
      out.push_back(make_i32("ids." + si, {N}, seqs[s]));
      if (o->logits)
        out.push_back(make_f32("logits." + si, {N, sink.logits[0].cols}, sink.logits[0].v));
    }
    nlohmann::json meta = {{"model", src.name}, {"layers", layers}, {"n_layers", L}};
    write_safetensors(o->out, out, {{"erank", meta.dump()}});
    fmt::print(stderr, "wrote {} ({} texts, layers {})\n", o->out, seqs.size(), o->layers);
    return 0;
  };
}

ERANK_COMMAND("hidden", "Dump hidden states (all layers, HF indexing) and logits to safetensors",
              setup);

}  // namespace
}  // namespace erank::cli
