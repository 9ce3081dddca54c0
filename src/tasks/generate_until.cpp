#include "tasks/generate_until.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "generate/decode.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace erank {

GenKwargs parse_gen_kwargs(const nlohmann::ordered_json& kw, const std::string& task) {
  GenKwargs g;
  if (kw.is_null()) return g;
  if (!kw.is_object()) fail("task {}: generation_kwargs must be a mapping", task);
  if (kw.contains("until")) {
    const auto& u = kw["until"];
    if (u.is_string()) {
      g.until.push_back(u);
    } else if (u.is_array()) {
      for (auto& x : u) {
        if (!x.is_string()) fail("task {}: generation_kwargs.until holds a non-string", task);
        g.until.push_back(x);
      }
    } else if (!u.is_null()) {
      fail("task {}: generation_kwargs.until must be a string or a list", task);
    }
  }
  for (const char* alias :
       {"max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens"})
    if (kw.contains(alias) && !kw[alias].is_null()) {
      if (!kw[alias].is_number_integer() || kw[alias].get<int64_t>() < 1)
        fail("task {}: generation_kwargs.{} must be a positive integer", task, alias);
      g.max_gen_toks = kw[alias];
      break;
    }
  auto num = [&](const char* key, double def) {
    if (!kw.contains(key) || kw[key].is_null()) return def;
    if (!kw[key].is_number()) fail("task {}: generation_kwargs.{} must be a number", task, key);
    return kw[key].get<double>();
  };
  const double temperature = num("temperature", 0.0);
  bool do_sample = temperature > 0.0;
  if (kw.contains("do_sample") && !kw["do_sample"].is_null()) {
    if (!kw["do_sample"].is_boolean())
      fail("task {}: generation_kwargs.do_sample must be true or false", task);
    do_sample = kw["do_sample"];
  }
  g.sampling.do_sample = do_sample;
  if (do_sample) {
    if (temperature <= 0.0)
      fail("task {}: do_sample needs a temperature > 0 (transformers refuses 0)", task);
    g.sampling.temperature = temperature;
    g.sampling.top_p = num("top_p", 1.0);
    g.sampling.top_k = static_cast<int>(num("top_k", 0));
    g.sampling.min_p = num("min_p", 0.0);
  }
  g.sampling.repetition_penalty = num("repetition_penalty", 1.0);
  return g;
}

bool GenKwargs::same_as(const GenKwargs& o) const {
  const auto& a = sampling;
  const auto& b = o.sampling;
  return until == o.until && max_gen_toks == o.max_gen_toks && a.do_sample == b.do_sample &&
         a.temperature == b.temperature && a.top_p == b.top_p && a.min_p == b.min_p &&
         a.repetition_penalty == b.repetition_penalty && a.top_k == b.top_k;
}

std::string cut_at_stops(std::string text, const std::vector<std::string>& stops) {
  for (const auto& s : stops) {
    if (s.empty()) continue;
    const size_t p = text.find(s);
    if (p != std::string::npos) text.resize(p);
  }
  return text;
}

std::vector<GenOutput> run_generate_until(const Model& model, Backend& be, const Tokenizer& tok,
                                          const std::vector<GenRequest>& reqs,
                                          const GenRunOptions& opt) {
  std::vector<GenOutput> out(reqs.size());
  const int64_t max_length = opt.max_length > 0 ? opt.max_length : model.config().max_positions;
  std::string eos_text;
  if (opt.eos_id >= 0) {
    const int32_t id = opt.eos_id;
    eos_text = tok.decode(std::span<const int32_t>(&id, 1));
  }
  // One decode loop per distinct kwargs, in the order they first appear.
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const auto& v) { return reqs[v[0]].kwargs.same_as(reqs[i].kwargs); });
    if (g == groups.end())
      groups.push_back({i});
    else
      g->push_back(i);
  }
  int64_t done_total = 0;
  for (const auto& idx : groups) {
    const GenKwargs& kw = reqs[idx[0]].kwargs;
    const int64_t max_ctx = max_length - kw.max_gen_toks;
    if (max_ctx <= 0)
      fail("max_gen_toks {} leaves no room for a prompt in a context of {} tokens", kw.max_gen_toks,
           max_length);
    std::vector<std::vector<int32_t>> prompts;
    gen::GenOptions g;
    for (size_t i : idx) {
      const auto& p = reqs[i].prompt;
      // HFLM: the last max_length - max_gen_toks tokens of the prompt.
      prompts.emplace_back(p.size() > size_t(max_ctx) ? p.end() - max_ctx : p.begin(), p.end());
      g.seed_ids.push_back(reqs[i].seed_id);
    }
    g.max_new_tokens = kw.max_gen_toks;
    g.batch = std::max<int64_t>(1, opt.batch);
    g.sampling = kw.sampling;
    g.sampling.seed = opt.seed;
    if (opt.eos_id >= 0) g.eos = {opt.eos_id};
    g.stops = kw.until;
    if (!eos_text.empty() && std::find(g.stops.begin(), g.stops.end(), eos_text) == g.stops.end())
      g.stops.push_back(eos_text);
    int64_t longest = 0;
    for (auto& p : prompts) longest = std::max<int64_t>(longest, int64_t(p.size()));
    g.max_context = std::min(max_length, longest + kw.max_gen_toks);
    gen::Generator gen(model, be, tok, g);
    const auto stops = g.stops;
    const int64_t base = done_total;
    gen.run(
        prompts,
        [&](size_t k, gen::GenResult&& r) {
          GenOutput& o = out[idx[k]];
          o.tokens = std::move(r.tokens);
          o.finish = r.finish;
          // HFLM: decode(skip_special_tokens=True), then cut at each stop string.
          std::vector<int32_t> ids = o.tokens;
          if (o.finish == "eos" && !ids.empty()) ids.pop_back();
          o.text = cut_at_stops(tok.decode(ids, true), stops);
        },
        [&](int64_t finished, int64_t) {
          if (opt.progress) opt.progress(base + finished, int64_t(reqs.size()));
        });
    done_total += int64_t(idx.size());
  }
  return out;
}

}  // namespace erank
