// erank sae train|eval|top|explain: sparse autoencoders on one tap of a model (src/sae/).
//   train    activations streamed from --data at the tap into a bounded store (spilled to a file
//            when large), --epochs passes over them, checkpoints and --resume; saved in SAELens's
//            layout (DIR/sae_weights.safetensors + DIR/cfg.json)
//   eval     l0, fvu, cosine, dead/dense fractions, firing histogram, CE clean/spliced/zero
//   top      the contexts that fire a feature most (JSON + a small HTML page)
//   explain  the features most active on a text (--versus: and never on those texts)
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/markup.h"
#include "data/dataset.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "sae/activations.h"
#include "sae/evaluate.h"
#include "sae/train.h"
#include "tokenizer/tokenizer.h"

namespace erank::cli {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct DataOpts {
  std::vector<std::string> files;
  std::string field = "text";
  int64_t limit = -1, max_tokens = 1024, batch_tokens = 2048;
  void add(CLI::App& app, bool required) {
    auto* o = app.add_option("--data", files, "dataset file(s): JSONL, CSV, text (repeatable)");
    if (required) o->required();
    app.add_option("--field", field, "JSONL key / CSV column")->capture_default_str();
    app.add_option("--limit", limit, "at most this many texts");
    app.add_option("--max-tokens", max_tokens, "tokens per text at most")->capture_default_str();
    app.add_option("--batch-tokens", batch_tokens, "tokens per forward (texts packed)")
        ->capture_default_str();
  }
};

std::vector<std::vector<int32_t>> tokenize(const Tokenizer& tok, const std::vector<std::string>& t,
                                           int64_t max_tokens) {
  std::vector<std::vector<int32_t>> out;
  for (const std::string& s : t) {
    auto ids = tok.encode(s);
    if (int64_t(ids.size()) > max_tokens) ids.resize(size_t(max_tokens));
    if (ids.size() >= 2) out.push_back(std::move(ids));  // position 0 is left out: need one more
  }
  return out;
}

std::vector<std::string> load_texts(const DataOpts& d) {
  std::vector<std::string> texts;
  for (const std::string& f : d.files) {
    DatasetSpec spec = file_spec(f, d.field);
    for (auto& t : load_dataset(spec).texts) {
      if (d.limit >= 0 && int64_t(texts.size()) >= d.limit) break;
      texts.push_back(std::move(t.text));
    }
  }
  if (texts.empty()) fail("sae: no texts in --data");
  return texts;
}

void check_width(const sae::Sae& s, const Model& m, const std::string& dir) {
  if (s.d() != m.config().hidden)
    fail("{}: the SAE has d_in {} but the model's width at its tap is {}", dir, s.d(),
         m.config().hidden);
}

// ---- train ----

struct TrainOpts {
  EngineOptions eng;
  DataOpts data;
  std::string tap = "resid", arch = "topk", out;
  int layer = -1, k = 32, aux_k = 256;
  int64_t width = 4096, tokens = 200000, epochs = 1, batch = 1024, checkpoint_every = 0;
  int64_t dead_window = 0, resample_every = 0, buffer_mb = 2048;
  double lr = 0, l1 = 5.0, aux_coef = 1.0 / 32, log_every = 10;
  uint64_t seed = 0;
  bool resume = false;
};

void save_checkpoint(const std::string& path, const sae::Sae& s, const sae::Trainer& tr,
                     int64_t epoch, int64_t batch_in_epoch) {
  std::vector<TensorToWrite> t;
  auto add = [&](const std::string& pre, const sae::Params<float>& p) {
    t.push_back(make_f32(pre + "enc", {s.W(), s.d()}, p.enc));
    t.push_back(make_f32(pre + "b_enc", {s.W()}, p.b_enc));
    t.push_back(make_f32(pre + "dec", {s.W(), s.d()}, p.dec));
    t.push_back(make_f32(pre + "b_dec", {s.d()}, p.b_dec));
  };
  add("", s.p);
  add("m.", tr.m);
  add("v.", tr.v);
  std::vector<int32_t> since(tr.last_fired.size());  // tokens since the last firing, capped
  for (size_t i = 0; i < since.size(); ++i)
    since[i] = int32_t(std::min<int64_t>(tr.tokens - tr.last_fired[i], INT32_MAX));
  t.push_back(make_i32("since_fired", {s.W()}, since));
  write_safetensors(path, t,
                    {{"steps", std::to_string(tr.steps)},
                     {"tokens", std::to_string(tr.tokens)},
                     {"epoch", std::to_string(epoch)},
                     {"batch", std::to_string(batch_in_epoch)},
                     {"input_scale", fmt::format("{:.17g}", s.cfg.input_scale)}});
}

void load_checkpoint(const std::string& path, sae::Sae& s, sae::Trainer& tr, int64_t& epoch,
                     int64_t& batch_in_epoch) {
  SafetensorsFile f(path);
  auto get = [&](const std::string& name, std::vector<float>& out, size_t n) {
    auto it = f.tensors().find(name);
    if (it == f.tensors().end() || size_t(it->second.numel()) != n ||
        it->second.dtype != DType::f32)
      fail("{}: tensor '{}' missing or of another size: not a checkpoint of this SAE", path, name);
    out.resize(n);
    to_f32(it->second, out.data());
  };
  auto getp = [&](const std::string& pre, sae::Params<float>& p) {
    get(pre + "enc", p.enc, size_t(s.W() * s.d()));
    get(pre + "b_enc", p.b_enc, size_t(s.W()));
    get(pre + "dec", p.dec, size_t(s.W() * s.d()));
    get(pre + "b_dec", p.b_dec, size_t(s.d()));
  };
  getp("", s.p);
  getp("m.", tr.m);
  getp("v.", tr.v);
  auto it = f.tensors().find("since_fired");
  if (it == f.tensors().end() || it->second.numel() != s.W()) fail("{}: since_fired missing", path);
  const auto& md = f.metadata();
  try {
    tr.steps = std::stoll(md.at("steps"));
    tr.tokens = std::stoll(md.at("tokens"));
    epoch = std::stoll(md.at("epoch"));
    batch_in_epoch = std::stoll(md.at("batch"));
    s.cfg.input_scale = std::stod(md.at("input_scale"));
  } catch (const std::exception&) {
    fail("{}: checkpoint metadata missing or malformed", path);
  }
  const int32_t* since = reinterpret_cast<const int32_t*>(it->second.data.data());
  for (int64_t i = 0; i < s.W(); ++i) tr.last_fired[size_t(i)] = tr.tokens - since[i];
}

int run_train(const TrainOpts& o) {
  if (o.out.empty()) fail("sae train: --out DIR is required");
  if (o.layer < 0) fail("sae train: --layer is required");
  if (o.width < 1 || o.k < 1 || o.k > o.width || o.tokens < 1 || o.epochs < 1 || o.batch < 1)
    fail("sae train: --width, --k (<= width), --tokens, --epochs, --batch-size must be positive");
  if (o.arch != "topk" && o.arch != "relu") fail("sae train: --arch is topk or relu");
  const ModelSource src = resolve_model_source(o.eng.model);
  auto tok = load_tokenizer(src);
  auto model = load_model(src);
  const sae::TapPoint tp = sae::tap_point(o.tap, o.layer, model->config());
  auto be = o.eng.make();
  const int64_t d = model->config().hidden;
  fs::create_directories(o.out);
  auto texts = tokenize(*tok, load_texts(o.data), o.data.max_tokens);
  fmt::print(stderr,
             "erank sae train: {} {} layer {} (d {}), {} width {} k {}, {} texts, {} tokens x {} "
             "epochs, batch {}, seed {}\n",
             src.name, o.tap, o.layer, d, o.arch, o.width, o.k, texts.size(), o.tokens, o.epochs,
             o.batch, o.seed);

  // 1. Activations into the store.
  const auto t0 = Clock::now();
  sae::ActivationStore store(d, o.buffer_mb << 20, o.out + "/activations.f32");
  auto last = Clock::now();
  sae::stream_activations(
      *model, *be, texts, tp, o.data.batch_tokens, o.tokens,
      [&](const float* x, int64_t n, size_t, int32_t) { store.append(x, n); },
      [&](size_t done, int64_t rows) {
        if (std::chrono::duration<double>(Clock::now() - last).count() < o.log_every) return;
        last = Clock::now();
        const double s = std::chrono::duration<double>(last - t0).count();
        fmt::print(stderr, "[collect] {} texts, {} tokens, {:.0f} tokens/s\n", done, rows,
                   double(rows) / s);
      });
  store.finish();
  const double collect_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t N = store.size();
  if (N < o.batch) fail("sae train: only {} tokens collected, fewer than a batch", N);
  fmt::print(stderr, "[collect] {} tokens in {:.1f} s ({:.0f} tokens/s){}\n", N, collect_s,
             double(N) / collect_s,
             store.spilled() ? ", spilled to " + o.out + "/activations.f32" : "");

  // 2. Scale to mean norm sqrt(d); b_dec at the geometric median of a sample.
  std::mt19937_64 rng(o.seed);
  const int64_t ns = std::min<int64_t>(N, 8192);
  std::vector<int64_t> pick(static_cast<size_t>(N));
  std::iota(pick.begin(), pick.end(), 0);
  std::shuffle(pick.begin(), pick.end(), rng);
  double norm_sum = 0;
  for (int64_t q = 0; q < ns; ++q) {
    const float* x = store.row(pick[size_t(q)]);
    double nn = 0;
    for (int64_t j = 0; j < d; ++j) nn += double(x[j]) * x[j];
    norm_sum += std::sqrt(nn);
  }
  sae::Config cfg;
  cfg.arch = o.arch == "topk" ? sae::Arch::topk : sae::Arch::relu_l1;
  cfg.d_in = d;
  cfg.d_sae = o.width;
  cfg.k = o.k;
  cfg.tap = o.tap;
  cfg.layer = o.layer;
  cfg.input_scale = std::sqrt(double(d)) / (norm_sum / double(ns));
  cfg.l1_coefficient = o.l1;
  cfg.model = src.name;
  for (const auto& f : o.data.files) cfg.dataset += (cfg.dataset.empty() ? "" : ",") + f;
  cfg.context_size = o.data.max_tokens;
  cfg.training_tokens = N * o.epochs;
  std::vector<float> sample(static_cast<size_t>(ns * d));
  for (int64_t q = 0; q < ns; ++q)
    for (int64_t j = 0; j < d; ++j)
      sample[size_t(q * d + j)] = float(cfg.input_scale) * store.row(pick[size_t(q)])[j];
  sae::Sae s = sae::init_sae(cfg, sae::geometric_median(sample.data(), ns, d), o.seed);

  sae::TrainOptions to;
  to.lr = o.lr > 0 ? o.lr : 2e-4 / std::sqrt(double(o.width) / 16384.0);
  to.aux_k = o.aux_k;
  to.aux_coef = o.aux_coef;
  to.dead_window = o.dead_window > 0 ? o.dead_window : std::min<int64_t>(10'000'000, N);
  to.resample_every =
      cfg.arch == sae::Arch::relu_l1
          ? (o.resample_every > 0 ? o.resample_every : std::max<int64_t>(1, N / o.batch / 2))
          : 0;
  to.seed = o.seed;
  sae::Trainer tr(s, to);
  int64_t epoch0 = 0, batch0 = 0;
  const std::string ckpt = o.out + "/checkpoint.safetensors";
  if (o.resume && fs::exists(ckpt)) {
    load_checkpoint(ckpt, s, tr, epoch0, batch0);
    fmt::print(stderr, "[train] resumed from {}: epoch {}, batch {}, {} tokens\n", ckpt, epoch0 + 1,
               batch0, tr.tokens);
  }

  // 3. Epochs over the store in a fresh permutation each (seeded by epoch), batch by batch.
  const int64_t per_epoch = N / o.batch;
  const int64_t total_steps = per_epoch * o.epochs;
  std::vector<float> X(static_cast<size_t>(o.batch * d));
  double ema_mse = 0, ema_var = 0, ema_l0 = 0, ema_w = 0;
  const auto t1 = Clock::now();
  last = t1;
  int64_t trained = 0, next_ckpt = o.checkpoint_every > 0 ? tr.tokens + o.checkpoint_every : -1;
  for (int64_t ep = epoch0; ep < o.epochs; ++ep) {
    std::vector<int64_t> perm(static_cast<size_t>(N));
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 er(o.seed * 1000003 + uint64_t(ep));
    std::shuffle(perm.begin(), perm.end(), er);
    for (int64_t b = ep == epoch0 ? batch0 : 0; b < per_epoch; ++b) {
      for (int64_t t = 0; t < o.batch; ++t) {
        const float* x = store.row(perm[size_t(b * o.batch + t)]);
        for (int64_t j = 0; j < d; ++j) X[size_t(t * d + j)] = float(cfg.input_scale) * x[j];
      }
      const sae::StepStats st = tr.step(X.data(), o.batch);
      trained += o.batch;
      ema_mse = 0.98 * ema_mse + 0.02 * st.loss.mse;
      ema_var = 0.98 * ema_var + 0.02 * st.loss.var;
      ema_l0 = 0.98 * ema_l0 + 0.02 * st.loss.l0;
      ema_w = 0.98 * ema_w + 0.02;
      if (!std::isfinite(st.loss.total)) fail("sae train: the loss diverged at step {}", tr.steps);
      const bool end = ep + 1 == o.epochs && b + 1 == per_epoch;
      if (std::chrono::duration<double>(Clock::now() - last).count() >= o.log_every || end) {
        last = Clock::now();
        const double el = std::chrono::duration<double>(last - t1).count();
        fmt::print(stderr,
                   "[train] epoch {}/{} step {}/{} tokens {} {:.0f} tokens/s fvu {:.4f} l0 {:.1f} "
                   "dead {:.4f}{}\n",
                   ep + 1, o.epochs, tr.steps, total_steps, tr.tokens, double(trained) / el,
                   ema_mse / ema_var, ema_l0 / ema_w, st.dead_fraction,
                   st.resampled ? fmt::format(" resampled {}", st.resampled) : "");
      }
      if (next_ckpt >= 0 && tr.tokens >= next_ckpt) {
        save_checkpoint(ckpt, s, tr, b + 1 == per_epoch ? ep + 1 : ep,
                        b + 1 == per_epoch ? 0 : b + 1);
        next_ckpt += o.checkpoint_every;
      }
    }
  }
  const double train_s = std::chrono::duration<double>(Clock::now() - t1).count();
  sae::save_sae(s, o.out);
  ojson summary{{"tokens_collected", N},
                {"epochs", o.epochs},
                {"steps", tr.steps},
                {"collect_seconds", collect_s},
                {"collect_tokens_per_s", double(N) / collect_s},
                {"train_seconds", train_s},
                {"train_tokens_per_s", train_s > 0 ? double(trained) / train_s : 0.0},
                {"tokens_per_s_overall", double(N * o.epochs) / (collect_s + train_s)},
                {"running_fvu", ema_var > 0 ? ema_mse / ema_var : 0.0},
                {"running_l0", ema_w > 0 ? ema_l0 / ema_w : 0.0},
                {"dead_fraction", tr.dead_fraction()},
                {"lr", to.lr},
                {"dead_window", to.dead_window}};
  write_file_atomic(o.out + "/train.json", summary.dump(2) + "\n");
  if (store.spilled()) fs::remove(o.out + "/activations.f32");
  fmt::print(stderr, "[train] saved {}/sae_weights.safetensors and cfg.json ({:.1f} s)\n", o.out,
             collect_s + train_s);
  fmt::print("{}\n", summary.dump(2));
  return 0;
}

// ---- eval ----

struct EvalOpts {
  EngineOptions eng;
  DataOpts data;
  std::string sae_dir, out, dump;
  bool no_ce = false;
};

int run_eval(const EvalOpts& o) {
  const sae::Sae s = sae::load_sae(o.sae_dir);
  const ModelSource src = resolve_model_source(o.eng.model);
  auto tok = load_tokenizer(src);
  auto model = load_model(src);
  check_width(s, *model, o.sae_dir);
  const sae::TapPoint tp = sae::tap_point(s.cfg.tap, s.cfg.layer, model->config());
  auto be = o.eng.make();
  auto texts = tokenize(*tok, load_texts(o.data), o.data.max_tokens);
  fmt::print(stderr, "erank sae eval: {} on {} {} layer {}, {} texts\n", o.sae_dir, src.name,
             s.cfg.tap, s.cfg.layer, texts.size());
  std::vector<float> dump;
  const sae::EvalResult r = sae::evaluate(*model, *be, s, tp, texts, o.data.batch_tokens, !o.no_ce,
                                          o.dump.empty() ? nullptr : &dump);
  ojson j{
      {"sae", o.sae_dir},
      {"model", src.name},
      {"hook_name", s.cfg.hook_name()},
      {"n_texts", r.n_texts},
      {"n_tokens", r.n_tokens},
      {"l0", r.l0},
      {"fvu", r.fvu},
      {"explained_variance", r.explained_variance},
      {"mse", r.mse},
      {"cosine", r.cosine},
      {"dead_fraction", r.dead_fraction},
      {"dense_fraction", r.dense_fraction},
      {"firing_histogram",
       {{"log10_edges", r.hist_edges},
        {"counts", r.hist_counts},
        {"note", "counts[0]: never fired; counts[i]: log10 frequency in [edges[i-1], edges[i])"}}}};
  if (!o.no_ce) {
    j["n_predictions"] = r.n_predictions;
    j["ce_loss_clean"] = r.ce_loss_clean;
    j["ce_loss_spliced"] = r.ce_loss_spliced;
    j["ce_loss_zero"] = r.ce_loss_zero;
    j["ce_recovered"] = r.ce_recovered;
  }
  if (!o.dump.empty())
    write_safetensors(o.dump, {make_f32("activations", {r.n_tokens, s.d()}, dump)});
  const std::string text = j.dump(2) + "\n";
  if (!o.out.empty()) write_file_atomic(o.out, text);
  fmt::print("{}", text);
  return 0;
}

// ---- top ----

struct TopOpts {
  EngineOptions eng;
  DataOpts data;
  std::string sae_dir, out, html;
  int64_t feature = -1, top = 20, window = 12;
};

std::string piece(const Tokenizer& tok, int32_t id) {
  return tok.decode(std::span<const int32_t>(&id, 1));
}

int run_top(const TopOpts& o) {
  const sae::Sae s = sae::load_sae(o.sae_dir);
  if (o.feature < 0 || o.feature >= s.W())
    fail("sae top: --feature {} is outside 0..{}", o.feature, s.W() - 1);
  const ModelSource src = resolve_model_source(o.eng.model);
  auto tok = load_tokenizer(src);
  auto model = load_model(src);
  check_width(s, *model, o.sae_dir);
  const sae::TapPoint tp = sae::tap_point(s.cfg.tap, s.cfg.layer, model->config());
  auto be = o.eng.make();
  auto raw = load_texts(o.data);
  auto texts = tokenize(*tok, raw, o.data.max_tokens);
  std::vector<std::vector<float>> act(texts.size());
  std::vector<float> z;
  const int64_t W = s.W();
  int64_t fired = 0, total = 0;
  sae::stream_activations(*model, *be, texts, tp, o.data.batch_tokens, -1,
                          [&](const float* x, int64_t n, size_t ti, int32_t) {
                            s.encode(x, n, z);
                            auto& a = act[ti];
                            a.assign(1, 0.f);  // position 0: left out
                            for (int64_t t = 0; t < n; ++t) {
                              a.push_back(z[size_t(t * W + o.feature)]);
                              fired += a.back() > 0;
                            }
                            total += n;
                          });
  // The best position of each text, texts ranked by it.
  std::vector<std::pair<float, size_t>> best;
  for (size_t ti = 0; ti < act.size(); ++ti) {
    if (act[ti].empty()) continue;
    const float m = *std::max_element(act[ti].begin(), act[ti].end());
    if (m > 0) best.push_back({m, ti});
  }
  std::sort(best.begin(), best.end(), [](auto& a, auto& b) { return a.first > b.first; });
  if (int64_t(best.size()) > o.top) best.resize(size_t(o.top));
  ojson ctxs = ojson::array();
  std::string rows;
  const float vmax = best.empty() ? 1.f : best[0].first;
  for (auto& [m, ti] : best) {
    const auto& a = act[ti];
    const int64_t at = std::max_element(a.begin(), a.end()) - a.begin();
    const int64_t b = std::max<int64_t>(0, at - o.window),
                  e = std::min<int64_t>(int64_t(a.size()), at + o.window / 2 + 1);
    ojson toks = ojson::array(), vals = ojson::array();
    rows += "<tr><td>" + fmt::format("{:.2f}", m) + "</td><td class=ctx>";
    // Byte-level tokens split a CJK character (or an emoji) over several pieces, each of which
    // decodes to U+FFFD alone: the page decodes such runs together and shades the character by
    // the largest activation of its pieces.
    std::vector<int32_t> run;
    std::string titles;
    float amax = 0.f;
    auto flush = [&](const std::string& text) {
      const double alpha = std::clamp(double(amax) / double(vmax), 0.0, 1.0);
      rows +=
          fmt::format("<span style=\"background:rgba(255,120,0,{:.2f})\" title=\"{}\">{}</span>",
                      alpha, titles, xml_escape(text));
      run.clear(), titles.clear(), amax = 0.f;
    };
    for (int64_t p = b; p < e; ++p) {
      const int32_t id = texts[ti][size_t(p)];
      toks.push_back(piece(*tok, id));
      vals.push_back(a[size_t(p)]);
      run.push_back(id);
      titles += fmt::format("{}{:.3f}", titles.empty() ? "" : " ", a[size_t(p)]);
      amax = std::max(amax, a[size_t(p)]);
      const std::string text = tok->decode(run);
      if (text.find("\xEF\xBF\xBD") == std::string::npos || run.size() >= 4 || p + 1 == e)
        flush(text);
    }
    rows += "</td></tr>\n";
    ctxs.push_back(
        {{"text_index", ti},
         {"position", at},
         {"activation", m},
         {"token", piece(*tok, texts[ti][size_t(at)])},
         {"context_start", b},
         {"text", tok->decode(std::span<const int32_t>(texts[ti].data() + b, size_t(e - b)))},
         {"tokens", toks},
         {"activations", vals}});
  }
  ojson j{{"sae", o.sae_dir},
          {"feature", o.feature},
          {"n_tokens", total},
          {"firing_frequency", total ? double(fired) / double(total) : 0.0},
          {"contexts", ctxs}};
  const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (!o.out.empty())
    write_file_atomic(o.out, text);
  else
    fmt::print("{}", text);
  if (!o.html.empty()) {
    const std::string page =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>feature " +
        std::to_string(o.feature) +
        "</title><style>body{font-family:sans-serif}td.ctx{font-family:monospace;white-space:"
        "pre-wrap}td{padding:2px 8px;border-bottom:1px solid #ddd}</style></head><body><h2>" +
        xml_escape(o.sae_dir) + " feature " + std::to_string(o.feature) + "</h2><p>fires on " +
        fmt::format("{:.4f}", total ? double(fired) / double(total) : 0.0) +
        " of tokens</p><table><tr><th>max</th><th>context</th></tr>\n" + rows +
        "</table></body></html>\n";
    write_file_atomic(o.html, page);
  }
  fmt::print(stderr, "erank sae top: feature {}: {} contexts, fires on {} of {} tokens\n",
             o.feature, ctxs.size(), fired, total);
  return 0;
}

// ---- explain ----

struct ExplainOpts {
  EngineOptions eng;
  std::vector<std::string> texts, versus;
  std::string sae_dir, out;
  int64_t top = 10;
};

int run_explain(const ExplainOpts& o) {
  const sae::Sae s = sae::load_sae(o.sae_dir);
  const ModelSource src = resolve_model_source(o.eng.model);
  auto tok = load_tokenizer(src);
  auto model = load_model(src);
  check_width(s, *model, o.sae_dir);
  const sae::TapPoint tp = sae::tap_point(s.cfg.tap, s.cfg.layer, model->config());
  auto be = o.eng.make();
  const int64_t W = s.W();
  struct Stat {
    std::vector<int64_t> count;
    std::vector<double> sum, max;
    int64_t tokens = 0;
  };
  auto stats_of =
      [&](const std::vector<std::string>& ts,
          std::vector<std::vector<std::pair<std::string, std::vector<float>>>>* per_tok) {
        Stat st{std::vector<int64_t>(size_t(W), 0), std::vector<double>(size_t(W), 0.0),
                std::vector<double>(size_t(W), 0.0), 0};
        auto seqs = tokenize(*tok, ts, 1 << 20);
        std::vector<float> z;
        sae::stream_activations(
            *model, *be, seqs, tp, 4096, -1, [&](const float* x, int64_t n, size_t ti, int32_t) {
              s.encode(x, n, z);
              for (int64_t t = 0; t < n; ++t) {
                for (int64_t i = 0; i < W; ++i) {
                  const float v = z[size_t(t * W + i)];
                  if (v <= 0) continue;
                  ++st.count[size_t(i)];
                  st.sum[size_t(i)] += v;
                  st.max[size_t(i)] = std::max(st.max[size_t(i)], double(v));
                }
                if (per_tok)
                  (*per_tok)[ti].push_back(
                      {piece(*tok, seqs[ti][size_t(t + 1)]),
                       std::vector<float>(z.begin() + t * W, z.begin() + (t + 1) * W)});
              }
              st.tokens += n;
            });
        return st;
      };
  std::vector<std::vector<std::pair<std::string, std::vector<float>>>> per_tok(o.texts.size());
  const Stat a = stats_of(o.texts, &per_tok);
  if (a.tokens == 0) fail("sae explain: the text has no tokens after position 0");
  Stat v{std::vector<int64_t>(size_t(W), 0), {}, {}, 0};
  if (!o.versus.empty()) v = stats_of(o.versus, nullptr);
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < W; ++i)
    if (a.count[size_t(i)] > 0 && v.count[size_t(i)] == 0) ids.push_back(i);
  std::sort(ids.begin(), ids.end(), [&](int64_t x, int64_t y) {
    return a.count[size_t(x)] != a.count[size_t(y)] ? a.count[size_t(x)] > a.count[size_t(y)]
                                                    : a.sum[size_t(x)] > a.sum[size_t(y)];
  });
  if (int64_t(ids.size()) > o.top) ids.resize(size_t(o.top));
  ojson feats = ojson::array();
  fmt::print("feature  fires  of tokens  mean     max      strongest tokens\n");
  for (int64_t i : ids) {
    std::vector<std::pair<float, std::string>> tk;
    for (auto& txt : per_tok)
      for (auto& [p, zz] : txt)
        if (zz[size_t(i)] > 0) tk.push_back({zz[size_t(i)], p});
    std::sort(tk.begin(), tk.end(), [](auto& x, auto& y) { return x.first > y.first; });
    if (tk.size() > 5) tk.resize(5);
    ojson toks = ojson::array();
    std::string shown;
    for (auto& [val, p] : tk) {
      toks.push_back({{"token", p}, {"activation", val}});
      shown += fmt::format("{:?} ", p);
    }
    const double frac = double(a.count[size_t(i)]) / double(a.tokens);
    fmt::print("{:7d}  {:5d}  {:9.3f}  {:7.3f}  {:7.3f}  {}\n", i, a.count[size_t(i)], frac,
               a.sum[size_t(i)] / double(a.count[size_t(i)]), a.max[size_t(i)], shown);
    feats.push_back({{"feature", i},
                     {"fires", a.count[size_t(i)]},
                     {"fraction", frac},
                     {"mean", a.sum[size_t(i)] / double(a.count[size_t(i)])},
                     {"max", a.max[size_t(i)]},
                     {"top_tokens", toks}});
  }
  if (!o.out.empty()) {
    ojson j{
        {"sae", o.sae_dir}, {"tokens", a.tokens}, {"versus_tokens", v.tokens}, {"features", feats}};
    write_file_atomic(o.out,
                      j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  return 0;
}

RunFn setup(CLI::App& app) {
  app.require_subcommand(1, 1);
  auto tr = std::make_shared<TrainOpts>();
  CLI::App* t = app.add_subcommand("train", "train an SAE on a tap's activations");
  tr->eng.add(*t);
  tr->data.add(*t, true);
  t->add_option("--layer", tr->layer, "layer (resid: HF hidden_states index)")->required();
  t->add_option("--tap", tr->tap, "resid | mlp | attn")->capture_default_str();
  t->add_option("--arch", tr->arch, "topk | relu (L1, Towards Monosemanticity)")
      ->capture_default_str();
  t->add_option("--width", tr->width, "latents (d_sae)")->capture_default_str();
  t->add_option("--k", tr->k, "topk: latents per token")->capture_default_str();
  t->add_option("--l1", tr->l1, "relu: L1 coefficient")->capture_default_str();
  t->add_option("--tokens", tr->tokens, "activations collected (positions >= 1)")
      ->capture_default_str();
  t->add_option("--epochs", tr->epochs, "passes over the collected tokens")->capture_default_str();
  t->add_option("--batch-size", tr->batch, "tokens per step")->capture_default_str();
  t->add_option("--lr", tr->lr, "Adam learning rate (default 2e-4 / sqrt(width / 2^14))");
  t->add_option("--aux-k", tr->aux_k, "topk: AuxK latents (0: off)")->capture_default_str();
  t->add_option("--aux-coef", tr->aux_coef, "topk: AuxK weight")->capture_default_str();
  t->add_option("--dead-window", tr->dead_window,
                "tokens without firing after which a latent is dead (default min(1e7, tokens))");
  t->add_option("--resample-every", tr->resample_every,
                "relu: steps between dead-latent resamplings (default half an epoch)");
  t->add_option("--buffer-mb", tr->buffer_mb,
                "activations held in memory before spilling to a file")
      ->capture_default_str();
  t->add_option("--checkpoint-every", tr->checkpoint_every, "tokens between checkpoints (0: none)")
      ->capture_default_str();
  t->add_flag("--resume", tr->resume, "continue from DIR/checkpoint.safetensors");
  t->add_option("--log-every", tr->log_every, "seconds between progress lines")
      ->capture_default_str();
  t->add_option("--seed", tr->seed, "seed")->capture_default_str();
  t->add_option("--out", tr->out, "output folder")->required();

  auto ev = std::make_shared<EvalOpts>();
  CLI::App* e = app.add_subcommand("eval", "L0, FVU, dead fraction, CE recovered on held-out text");
  ev->eng.add(*e);
  ev->data.add(*e, true);
  e->add_option("--sae", ev->sae_dir, "SAE folder")->required();
  e->add_option("--out", ev->out, "output JSON");
  e->add_option("--dump-activations", ev->dump, "the tap's activations to a safetensors file");
  e->add_flag("--no-ce", ev->no_ce, "skip the three cross-entropy passes");

  auto tp = std::make_shared<TopOpts>();
  CLI::App* p = app.add_subcommand("top", "the contexts that fire a feature most");
  tp->eng.add(*p);
  tp->data.add(*p, true);
  p->add_option("--sae", tp->sae_dir, "SAE folder")->required();
  p->add_option("--feature", tp->feature, "latent index")->required();
  p->add_option("--top", tp->top, "contexts shown (one per text)")->capture_default_str();
  p->add_option("--window", tp->window, "tokens of context before the peak")->capture_default_str();
  p->add_option("--out", tp->out, "output JSON (default: stdout)");
  p->add_option("--html", tp->html, "a small HTML page of the contexts");

  auto ex = std::make_shared<ExplainOpts>();
  CLI::App* x = app.add_subcommand("explain", "the features most active on a text");
  ex->eng.add(*x);
  x->add_option("--sae", ex->sae_dir, "SAE folder")->required();
  x->add_option("--text", ex->texts, "text (repeatable)")->required();
  x->add_option("--versus", ex->versus, "only features that never fire on these texts");
  x->add_option("--top", ex->top, "features shown")->capture_default_str();
  x->add_option("--out", ex->out, "output JSON");

  return [=] {
    if (t->parsed()) return run_train(*tr);
    if (e->parsed()) return run_eval(*ev);
    if (p->parsed()) return run_top(*tp);
    return run_explain(*ex);
  };
}

ERANK_COMMAND("sae", "sparse autoencoders: train, eval, top contexts, explain a text", setup);

}  // namespace
}  // namespace erank::cli
