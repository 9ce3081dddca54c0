// erank generate: completions for prompts with KV-cached decoding and continuous batching.
// One JSON line per prompt, in input order: {"index", "prompt", "completion", "tokens",
// "finish_reason"} (+ "premature_layers" with --dola). Output is written only when every prompt is
// done (no partial file).
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "data/readers.h"
#include "eval/progress.h"
#include "generate/decode.h"
#include "generate/dola.h"
#include "generate/eos.h"
#include "io/atomic_file.h"
#include "models/kv_cache.h"
#include "models/memory_estimate.h"
#include "models/model.h"
#include "sae/activations.h"
#include "template/chat.h"
#include "tokenizer/tokenizer.h"

namespace erank::cli {
namespace {

using ojson = nlohmann::ordered_json;

struct Options {
  EngineOptions engine;
  std::vector<std::string> prompts;
  std::string data, field = "prompt", out, stats;
  bool chat = false, ignore_eos = false, quiet = false, sample = false;
  std::string system, template_file, template_name, dola;
  int64_t max_new_tokens = 256, batch = 1, max_context = 0;
  std::string steer;  // DIR:FEATURE:SCALE
  double temperature = 1.0, top_p = 1.0, min_p = 0.0, repetition_penalty = 1.0;
  int top_k = 0;
  uint64_t seed = 0;
  std::vector<std::string> stops;
  std::vector<int32_t> eos;
};

// One input: text, token ids as they are, or (with --chat) a message list.
struct Input {
  std::string text;
  std::vector<int32_t> ids;
  bool has_ids = false;
  ojson messages;
};

std::vector<Input> read_inputs(const Options& o) {
  std::vector<Input> in;
  for (auto& p : o.prompts) in.push_back({p, {}, false, {}});
  if (o.data.empty()) return in;
  std::ifstream f(o.data, std::ios::binary);
  if (!f) fail("{}: cannot open the prompt file", o.data);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  const Format fmt = format_from_path(o.data);
  if (fmt != Format::jsonl) {
    RecordReader r(bytes, fmt, o.field, o.data);
    for (int64_t i = 0; i < r.size(); ++i) in.push_back({r.text(i), {}, false, {}});
    return in;
  }
  size_t pos = 0;
  for (int64_t line = 1; pos < bytes.size(); ++line) {
    const size_t end = std::min(bytes.find('\n', pos), bytes.size());
    const std::string_view raw(bytes.data() + pos, end - pos);
    pos = end + 1;
    if (raw.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ojson j = ojson::parse(raw, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("{}:{}: not a JSON object", o.data, line);
    if (!j.contains(o.field)) fail("{}:{}: no field '{}'", o.data, line, o.field);
    const ojson& v = j[o.field];
    Input x;
    if (v.is_string()) {
      x.text = v.get<std::string>();
    } else if (v.is_array() && o.chat) {  // with --chat a list is a conversation
      x.messages = v;
    } else if (v.is_array() && !v.empty()) {
      for (auto& id : v) {
        if (!id.is_number_integer())
          fail("{}:{}: field '{}' must hold token ids (integers)", o.data, line, o.field);
        x.ids.push_back(id.get<int32_t>());
      }
      x.has_ids = true;
    } else {
      fail("{}:{}: field '{}' must be a string, a list of token ids{}", o.data, line, o.field,
           o.chat ? " or a list of messages" : "");
    }
    in.push_back(std::move(x));
  }
  return in;
}

int run(const Options& o, const CLI::App& app) {
  const ModelSource src = resolve_model_source(o.engine.model);
  auto tok = load_tokenizer(src);
  std::vector<Input> inputs = read_inputs(o);
  if (inputs.empty()) fail("generate: no prompts (give --prompt or --data)");

  // Prompts to ids: chat messages through the model's template (its text already holds the
  // special tokens, so none are added), plain text as tokenizer(text).
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::string> shown;
  std::optional<ChatTemplate> tmpl;
  ojson vars;
  if (o.chat) {
    if (!o.template_file.empty()) {
      std::ifstream f(o.template_file, std::ios::binary);
      if (!f) fail("{}: cannot open the template", o.template_file);
      tmpl = ChatTemplate{std::string((std::istreambuf_iterator<char>(f)), {}), o.template_file};
    } else {
      tmpl = find_chat_template(src, o.template_name);
    }
    vars = ojson::parse(special_token_vars(src).dump());
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    Input& x = inputs[i];
    if (x.has_ids) {
      ids.push_back(x.ids);
      shown.push_back(tok->decode(x.ids));
      continue;
    }
    if (o.chat) {
      ojson msgs = x.messages.is_array() ? x.messages : ojson::array();
      if (!x.messages.is_array()) {
        if (x.text.empty()) fail("prompt {} is empty", i);
        msgs.push_back({{"role", "user"}, {"content", x.text}});
      }
      if (!o.system.empty())
        msgs.insert(msgs.begin(), ojson{{"role", "system"}, {"content", o.system}});
      x.text = render_chat(*tmpl, msgs, true, vars);
      ids.push_back(tok->encode(x.text, false));
    } else {
      if (x.text.empty()) fail("prompt {} is empty: there is no token to continue from", i);
      ids.push_back(tok->encode(x.text, true));
    }
    shown.push_back(x.text);
  }

  const auto t_load = std::chrono::steady_clock::now();
  auto model = load_model(src);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  auto be = o.engine.make();

  // The context is fixed here (0: fit the longest prompt), so that bad options and prompts fail
  // before anything is printed or run: the Generator checks the options, then the prompts.
  const int64_t ctx = o.max_context != 0
                          ? o.max_context
                          : gen::default_context(model->config(), ids, o.max_new_tokens);
  {  // Refuse a run that will not fit (models/memory_estimate.h): weights, KV cache, prefill.
    const int64_t slots = std::max<int64_t>(1, std::min<int64_t>(o.batch, int64_t(ids.size())));
    int64_t longest = 1;
    for (const auto& v : ids) longest = std::max<int64_t>(longest, int64_t(v.size()));
    const MemoryPlan plan{.batch_tokens = slots * std::min(longest, std::max<int64_t>(ctx, 1)),
                          .logit_rows = slots,
                          .kv_slots = slots,
                          .kv_context = ctx,
                          .threads = o.engine.threads};
    const MemoryEstimate est = estimate_memory(src, model->config(), model->arch(), plan);
    const double per_slot = double(est.kv_bytes) / double(slots) +
                            double(longest) * est.bytes_per_row +
                            double(model->config().vocab_size) * sizeof(float);
    check_memory(est, "erank generate", "--batch", slots, per_slot, "a smaller --max-context");
  }

  gen::GenOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.batch = o.batch;
  g.max_context = ctx;
  g.ignore_eos = o.ignore_eos;
  g.stops = o.stops;
  g.eos = o.eos.empty() ? gen::default_eos_ids(src, model->config(), *tok) : o.eos;
  // Sampling is on with --sample, or when a sampling knob is given (--temperature 0: greedy).
  auto given = [&](const char* name) { return app.count(name) > 0; };
  g.sampling.do_sample = o.sample || given("--top-k") || given("--top-p") || given("--min-p") ||
                         (given("--temperature") && o.temperature > 0);
  if (given("--temperature") && o.temperature == 0) g.sampling.do_sample = false;
  g.sampling.temperature = o.temperature > 0 ? o.temperature : 1.0;
  g.sampling.top_k = given("--top-k")       ? o.top_k
                     : g.sampling.do_sample ? gen::kTransformersDefaultTopK
                                            : 0;
  g.sampling.top_p = o.top_p;
  g.sampling.min_p = o.min_p;
  g.sampling.repetition_penalty = o.repetition_penalty;
  // DoLa's advice, which transformers only warns about: a repetition penalty of 1.2.
  if (!o.dola.empty() && !given("--repetition-penalty")) g.sampling.repetition_penalty = 1.2;
  g.sampling.seed = o.seed;
  // --steer DIR:FEATURE:SCALE: the SAE feature's decoder direction (x SCALE / input_scale) added
  // at its tap on every position >= 1, prompt and generated. Prompts then share no computed start,
  // since that forward runs without the observer.
  sae::Sae steer_sae;
  std::unique_ptr<sae::TapRewriter> steer;
  if (!o.steer.empty()) {
    const size_t b = o.steer.rfind(':'), a = b == std::string::npos ? b : o.steer.rfind(':', b - 1);
    if (a == std::string::npos || a == 0) fail("--steer {}: expected DIR:FEATURE:SCALE", o.steer);
    int64_t feature = 0;
    double scale = 0;
    try {
      size_t used = 0;
      feature = std::stoll(o.steer.substr(a + 1, b - a - 1), &used);
      if (used != b - a - 1) throw std::invalid_argument("feature");
      scale = std::stod(o.steer.substr(b + 1), &used);
      if (used != o.steer.size() - b - 1) throw std::invalid_argument("scale");
    } catch (const std::exception&) {
      fail("--steer {}: FEATURE must be an integer and SCALE a number", o.steer);
    }
    steer_sae = sae::load_sae(o.steer.substr(0, a));
    if (steer_sae.d() != model->config().hidden)
      fail("{}: the SAE has d_in {} but the model's width is {}", o.steer.substr(0, a),
           steer_sae.d(), model->config().hidden);
    if (feature < 0 || feature >= steer_sae.W())
      fail("--steer: feature {} is outside 0..{}", feature, steer_sae.W() - 1);
    steer = std::make_unique<sae::TapRewriter>(
        sae::tap_point(steer_sae.cfg.tap, steer_sae.cfg.layer, model->config()),
        sae::TapRewriter::Mode::steer, &steer_sae, nullptr, feature, scale);
    g.min_shared_prefix = 0;
  }
  gen::Generator gen(*model, *be, *tok, g);
  if (steer) gen.set_observer(steer.get());
  gen::validate_prompts(model->config(), ids, ctx);
  std::unique_ptr<gen::DolaDecoding> dola;
  std::vector<int> dola_layers;
  if (!o.dola.empty()) {
    const ModelConfig& mc = model->config();
    dola_layers = gen::dola_candidates(o.dola, int(mc.n_layers), mc.tie_embeddings);
    dola = std::make_unique<gen::DolaDecoding>(*model, *be, dola_layers);
    gen.set_contrast(dola.get());
  }

  const int64_t slots = std::min<int64_t>(o.batch, static_cast<int64_t>(ids.size()));
  std::string eos_list;
  for (int32_t id : g.eos) eos_list += (eos_list.empty() ? "" : ",") + std::to_string(id);
  if (!o.quiet)
    fmt::print(stderr,
               "erank generate: {} ({}), {} prompts, batch {}, context {} (KV cache {:.1f} MiB), "
               "{}, max {} new tokens, eos [{}]{}{}\n",
               src.name, model->config().arch, ids.size(), slots, ctx,
               double(KVCache::bytes_for(model->config(), slots, ctx, be->precision())) / (1 << 20),
               g.sampling.do_sample
                   ? fmt::format("sampling (temperature {}, top-k {}, top-p {}, min-p {}, seed {})",
                                 g.sampling.temperature, g.sampling.top_k, g.sampling.top_p,
                                 g.sampling.min_p, g.sampling.seed)
                   : std::string("greedy"),
               o.max_new_tokens, eos_list, o.ignore_eos ? " (ignored)" : "",
               dola ? fmt::format(", DoLa over layers [{}] (repetition penalty {})",
                                  fmt::join(dola_layers, ","), g.sampling.repetition_penalty)
                    : std::string());

  std::vector<std::optional<gen::GenResult>> results(ids.size());
  Progress progress("generate", static_cast<int64_t>(ids.size()), stderr_is_tty(), o.quiet,
                    "prompts");
  size_t streamed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto line_of = [&](size_t i) {
    const gen::GenResult& r = *results[i];
    ojson j = {{"index", i},
               {"prompt", shown[i]},
               {"completion", r.completion},
               {"tokens", r.tokens},
               {"finish_reason", r.finish}};
    if (dola) j["premature_layers"] = dola->chosen[i];
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  };
  gen.run(
      ids,
      [&](size_t i, gen::GenResult&& r) {
        results[i] = std::move(r);
        if (o.out.empty())  // stdout: stream the finished prefix in input order
          for (; streamed < results.size() && results[streamed]; ++streamed)
            std::fputs(line_of(streamed).c_str(), stdout);
      },
      [&](int64_t done, int64_t tokens) { progress.update(done, tokens); });
  progress.finish();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!o.out.empty()) {
    AtomicFile f(o.out);
    for (size_t i = 0; i < results.size(); ++i) f.write(line_of(i));
    f.commit();
  }
  const gen::GenStats& st = gen.stats();
  if (!o.stats.empty()) {
    ojson s = {{"prompts", st.prompts},
               {"prefill_tokens", st.prefill_tokens},
               {"prefill_s", st.prefill_s},
               {"decode_tokens", st.decode_tokens},
               {"decode_s", st.decode_s},
               {"steps", st.steps},
               {"load_s", load_s},
               {"wall_s", wall_s},
               {"batch", slots},
               {"context", gen.context()},
               {"kv_cache_bytes", gen.cache_bytes()}};
    write_file_atomic(o.stats, s.dump(2) + "\n");
  }
  if (!o.quiet)
    fmt::print(stderr,
               "erank generate: prefill {} tokens in {:.2f} s ({:.1f} tok/s), decode {} tokens in "
               "{:.2f} s ({:.1f} tok/s)\n",
               st.prefill_tokens, st.prefill_s,
               st.prefill_s > 0 ? st.prefill_tokens / st.prefill_s : 0, st.decode_tokens,
               st.decode_s, st.decode_s > 0 ? st.decode_tokens / st.decode_s : 0);
  return 0;
}

RunFn setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  o->engine.add(app);
  app.add_option("--prompt,-p", o->prompts, "a prompt (repeatable)");
  app.add_option("--data", o->data,
                 "prompts file: JSONL (--field: a string, a list of token ids, or with --chat a "
                 "list of messages), CSV (--field column) or text (one prompt per line)");
  app.add_option("--field", o->field, "JSON key or CSV column of the prompt")
      ->capture_default_str();
  app.add_flag("--chat", o->chat, "render prompts with the model's chat template (a user turn)");
  app.add_option("--system", o->system, "system message for --chat");
  app.add_option("--template", o->template_file,
                 "a Jinja chat template file instead of the model's");
  app.add_option("--template-name", o->template_name,
                 "a named template of the model (e.g. tool_use)");
  app.add_option("--max-new-tokens,-n", o->max_new_tokens, "new tokens per prompt at most")
      ->capture_default_str();
  app.add_option("--batch,-b", o->batch, "sequences decoded together (continuous batching)")
      ->capture_default_str();
  app.add_option("--max-context", o->max_context,
                 "tokens per sequence, prompt included (0: the longest prompt + max-new-tokens, "
                 "within the model's positions); sizes the KV cache")
      ->capture_default_str();
  app.add_flag("--sample", o->sample,
               "sample (transformers' do_sample=True; top-k 50 unless given)");
  app.add_option("--temperature", o->temperature, "sampling temperature (0: greedy)");
  app.add_option("--top-k", o->top_k, "keep the k most likely tokens (0: off)");
  app.add_option("--top-p", o->top_p, "nucleus: keep the smallest set with probability >= p");
  app.add_option("--min-p", o->min_p, "keep tokens with probability >= min-p x the top one");
  app.add_option("--repetition-penalty", o->repetition_penalty,
                 "transformers' repetition penalty (greedy too; 1: off)");
  app.add_option("--seed", o->seed, "sampling seed (per prompt: seed and index)")
      ->capture_default_str();
  app.add_option("--stop", o->stops, "stop string (repeatable), cut from the completion");
  app.add_option("--eos", o->eos, "end-of-sequence id (repeatable; default: the model's)");
  app.add_flag("--ignore-eos", o->ignore_eos, "generate max-new-tokens whatever comes");
  app.add_option("--dola", o->dola,
                 "DoLa decoding: contrast with the premature layer of largest JSD among 'low', "
                 "'high' or a list of hidden-state indices (repetition penalty 1.2 unless given)");
  app.add_option("--out,-o", o->out, "JSONL output (default: stdout)");
  app.add_option("--stats", o->stats, "JSON timing: prefill/decode tokens and seconds");
  app.add_option("--steer", o->steer,
                 "DIR:FEATURE:SCALE: add an SAE feature's decoder direction at its tap");
  app.add_flag("--quiet,-q", o->quiet, "no configuration line, progress or timing on stderr");
  return [o, &app] { return run(*o, app); };
}

ERANK_COMMAND("generate", "generate completions (KV cache, continuous batching, sampling)", setup);

}  // namespace
}  // namespace erank::cli
