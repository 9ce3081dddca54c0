// erank lens: the logit lens. Every chosen layer's hidden state goes through the model's own head
// (final norm + LM head; --no-final-norm: the head alone, DoLa's convention) and is compared with
// the model's output distribution. JSON per text, per layer, per position; a table of per-layer
// means on stdout; optionally the DoLa-style heatmap of JSD with each cell's top-1 token.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "data/dataset.h"
#include "eval/run.h"
#include "interp/lens.h"
#include "interp/lens_plot.h"
#include "io/atomic_file.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace erank::cli {
namespace {

using ojson = nlohmann::ordered_json;

struct Opts {
  EngineOptions eng;
  std::vector<std::string> texts;
  std::string data, field = "text", layers = "all", out, image;
  int64_t limit = -1, max_tokens = 2048, image_text = 0, image_tokens = 40;
  int top_k = 5;
  bool no_final_norm = false;
};

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

ojson text_json(const interp::LensText& t, const std::string& text, const Tokenizer& tok) {
  auto piece = [&](int32_t id) { return tok.decode(std::span<const int32_t>(&id, 1)); };
  ojson tokens = ojson::array();
  for (int32_t id : t.ids) tokens.push_back(piece(id));
  ojson layers = ojson::array();
  for (const interp::LensLayer& l : t.layers) {
    ojson top1 = ojson::array(), top1_tok = ojson::array(), logp1 = ojson::array();
    for (size_t i = 0; i < l.top.size(); ++i) {
      top1.push_back(l.top[i][0]);
      top1_tok.push_back(piece(l.top[i][0]));
      logp1.push_back(l.top_logp[i][0]);
    }
    layers.push_back({{"layer", l.layer},
                      {"top1", top1},
                      {"top1_token", top1_tok},
                      {"logp_top1", logp1},
                      {"entropy", l.entropy},
                      {"kl", l.kl},
                      {"jsd", l.jsd},
                      {"topk", l.top},
                      {"topk_logp", l.top_logp}});
  }
  return {{"text", text}, {"ids", t.ids}, {"tokens", tokens}, {"layers", layers}};
}

interp::Heatmap heatmap_of(const interp::LensText& t, const Tokenizer& tok, int64_t max_tokens,
                           const std::string& title) {
  auto piece = [&](int32_t id) { return tok.decode(std::span<const int32_t>(&id, 1)); };
  const size_t n = std::min(t.ids.size(), size_t(max_tokens));
  interp::Heatmap h;
  h.title = title;
  for (size_t i = 0; i < n; ++i) h.tokens.push_back(piece(t.ids[i]));
  for (const interp::LensLayer& l : t.layers) {
    h.layers.push_back(l.layer);
    h.value.emplace_back(l.jsd.begin(), l.jsd.begin() + long(n));
    std::vector<std::string> row;
    for (size_t i = 0; i < n; ++i) row.push_back(piece(l.top[i][0]));
    h.text.push_back(std::move(row));
  }
  return h;
}

RunFn setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  o->eng.add(app);
  auto* t = app.add_option("--text", o->texts, "text (repeatable)");
  auto* d = app.add_option("--data", o->data, "dataset file (JSONL, CSV, text)");
  t->excludes(d);
  app.add_option("--field", o->field, "JSONL key / CSV column of --data")->capture_default_str();
  app.add_option("--limit", o->limit, "at most this many texts of --data");
  app.add_option("--max-tokens", o->max_tokens, "truncate each text to this many tokens")
      ->capture_default_str();
  app.add_option("--layers", o->layers, "all | last | comma-separated HF indices (0 = embeddings)")
      ->capture_default_str();
  app.add_option("--top-k", o->top_k, "most likely tokens kept per layer and position")
      ->capture_default_str();
  app.add_flag("--no-final-norm", o->no_final_norm,
               "early exits without the final norm (DoLa's convention)");
  app.add_option("--out", o->out, "output JSON")->required();
  app.add_option("--image", o->image, "heatmap of JSD with top-1 tokens: .svg or .png");
  app.add_option("--image-text", o->image_text, "which text the image shows (0-based)")
      ->capture_default_str();
  app.add_option("--image-tokens", o->image_tokens, "positions shown in the image at most")
      ->capture_default_str();
  return [o] {
    if (!o->image.empty() && !ends_with(o->image, ".svg") && !ends_with(o->image, ".png"))
      fail("--image {}: the name must end in .svg or .png", o->image);
    if (o->image_tokens < 1) fail("--image-tokens must be at least 1 (got {})", o->image_tokens);
    if (o->top_k < 1) fail("--top-k must be at least 1 (got {})", o->top_k);
    if (o->max_tokens < 1) fail("--max-tokens must be at least 1 (got {})", o->max_tokens);
    const ModelSource src = resolve_model_source(o->eng.model);
    std::vector<std::string> texts;
    if (!o->data.empty()) {
      DatasetSpec spec = file_spec(o->data, o->field);
      spec.limit = o->limit;
      for (auto& tx : load_dataset(spec).texts) texts.push_back(tx.text);
    } else {
      texts = o->texts;
    }
    if (texts.empty()) fail("lens: no input: give --text or --data");
    if (!o->image.empty() && (o->image_text < 0 || o->image_text >= int64_t(texts.size())))
      fail("--image-text {} is out of range: there are {} texts", o->image_text, texts.size());
    auto tok = load_tokenizer(src);
    std::vector<std::vector<int32_t>> seqs;
    for (size_t i = 0; i < texts.size(); ++i) {
      auto ids = tok->encode(texts[i]);
      if (ids.empty()) fail("lens: text {} is empty: it has no tokens", i);
      if (static_cast<int64_t>(ids.size()) > o->max_tokens) ids.resize(size_t(o->max_tokens));
      seqs.push_back(std::move(ids));
    }
    auto model = load_model(src);
    const int L = static_cast<int>(model->config().n_layers);
    interp::LensOptions lo;
    lo.layers = parse_layers(o->layers, L);
    lo.top_k = o->top_k;
    lo.final_norm = !o->no_final_norm;
    auto be = o->eng.make();
    fmt::print(stderr, "erank lens: {} ({} layers), {} texts, layers {}, top-k {}, {}\n", src.name,
               L, texts.size(), o->layers, lo.top_k,
               lo.final_norm ? "final norm (tuned-lens convention)" : "no final norm (DoLa's)");

    ojson texts_out = ojson::array();
    std::vector<double> kl_sum(lo.layers.size()), jsd_sum(lo.layers.size()),
        ent_sum(lo.layers.size()), agree(lo.layers.size());
    double n_pos = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
      const interp::LensText lt = interp::lens_of(*model, *be, seqs[s], lo);
      const std::vector<int32_t>& final_top = lt.final_top;
      for (size_t k = 0; k < lt.layers.size(); ++k)
        for (size_t i = 0; i < final_top.size(); ++i) {
          kl_sum[k] += lt.layers[k].kl[i];
          jsd_sum[k] += lt.layers[k].jsd[i];
          ent_sum[k] += lt.layers[k].entropy[i];
          agree[k] += lt.layers[k].top[i][0] == final_top[i] ? 1 : 0;
        }
      n_pos += double(final_top.size());
      ojson tj = {{"index", s}};
      tj.update(text_json(lt, texts[s], *tok));
      texts_out.push_back(std::move(tj));
      if (!o->image.empty() && int64_t(s) == o->image_text) {
        const std::string title =
            fmt::format("{}: JSD(final, layer) per position, top-1 next token per cell ({})",
                        src.name, lo.final_norm ? "final norm" : "no final norm");
        const interp::Heatmap h = heatmap_of(lt, *tok, o->image_tokens, title);
        if (ends_with(o->image, ".svg"))
          write_file_atomic(o->image, interp::heatmap_svg(h));
        else
          interp::write_heatmap_png(h, o->image);
      }
    }
    ojson summary = ojson::array();
    fmt::print("{:>6} {:>10} {:>10} {:>10} {:>10}\n", "layer", "KL", "JSD", "entropy",
               "top1=final");
    for (size_t k = 0; k < lo.layers.size(); ++k) {
      const double kl = kl_sum[k] / n_pos, js = jsd_sum[k] / n_pos, en = ent_sum[k] / n_pos,
                   ag = agree[k] / n_pos;
      fmt::print("{:>6} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.3f}\n", lo.layers[k], kl, js, en, ag);
      summary.push_back({{"layer", lo.layers[k]},
                         {"mean_kl", kl},
                         {"mean_jsd", js},
                         {"mean_entropy", en},
                         {"top1_agreement", ag}});
    }
    ojson out = {{"model", src.name},           {"n_layers", L},
                 {"final_norm", lo.final_norm}, {"top_k", lo.top_k},
                 {"layers", lo.layers},         {"units", "nats; position t predicts token t + 1"},
                 {"summary", summary},          {"texts", texts_out}};
    write_file_atomic(o->out,
                      out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    fmt::print(stderr, "wrote {}{}\n", o->out, o->image.empty() ? "" : " and " + o->image);
    return 0;
  };
}

ERANK_COMMAND("lens", "Logit lens: each layer's early-exit distribution, KL and JSD to the output",
              setup);

}  // namespace
}  // namespace erank::cli
