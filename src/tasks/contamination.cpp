#include "tasks/contamination.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "core/error.h"
#include "metrics/contamination.h"
#include "models/model.h"
#include "tasks/loglikelihood.h"
#include "tokenizer/tokenizer.h"

namespace erank {

namespace {

using ojson = nlohmann::ordered_json;
namespace mc = contamination;

std::string k_key(double k) {
  return fmt::format("{}", k);
}

ojson opt_json(const std::optional<double>& v) {
  return v ? ojson(*v) : ojson();
}

ojson finite_or_null(double v) {
  return std::isfinite(v) ? ojson(v) : ojson();
}

ojson distribution_json(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  const mc::Distribution d = mc::distribution(v);
  ojson q = ojson::object();
  for (size_t i = 0; i < d.quantiles.size(); ++i)
    q[k_key(mc::Distribution::kQuantiles[i])] = d.quantiles[i];
  return {{"n", d.n},
          {"mean", d.mean},
          {"sd", finite_or_null(d.sd)},
          {"quantiles", q},
          {"histogram", {{"bins", d.edges}, {"counts", d.counts}}}};
}

// One scored document.
struct Item {
  size_t task = 0;
  int64_t doc_id = 0;
  std::string text;
  std::vector<int32_t> ids;  // x_1..x_n after the cut to max_length + 1
  bool truncated = false;
  std::vector<std::optional<double>> min_k, min_k_pp;  // per k
};

// The answer of a generative document: choices[target] for an index, the first of a list.
std::string answer_text(const PreparedTask& t, const ojson& doc) {
  const PromptBuilder& pb = *t.prompts;
  const ojson a = pb.doc_to_target(doc);
  if (a.is_number_integer() && !t.cfg->doc_to_choice.is_null()) {
    const auto c = pb.doc_to_choice(doc);
    const int64_t i = a.get<int64_t>();
    if (i < 0 || i >= static_cast<int64_t>(c.size()))
      fail("task {}: --contamination: the target {} is outside the document's {} choices",
           t.cfg->task, i, c.size());
    return c[size_t(i)];
  }
  if (a.is_array()) return a.empty() ? "" : py_str(a[0]);
  return py_str(a);
}

}  // namespace

std::pair<std::string, std::string> contamination_text(const PreparedTask& t,
                                                       const PreparedDoc& d) {
  const ojson& doc = t.eval_docs.at(size_t(d.doc_id));
  const PromptBuilder& pb = *t.prompts;
  const std::string& task = t.cfg->task;
  auto text_of = [&]() {
    const ojson q = pb.doc_to_text(doc);
    if (!q.is_string())
      fail("task {}: document {}: doc_to_text did not give a string", task, d.doc_id);
    return q.get<std::string>();
  };
  if (t.generative()) return {text_of(), t.cfg->target_delimiter + answer_text(t, doc)};
  if (d.gold.empty() || d.gold[0] < 0 || d.gold[0] >= static_cast<int64_t>(d.choices.size()))
    fail("task {}: document {}: no gold answer to score for --contamination", task, d.doc_id);
  const size_t g = size_t(d.gold[0]);
  const auto conts = pb.continuations(doc, /*chat=*/false);
  if (pb.multiple_input()) return {d.choices[g], conts.at(g)};
  return {text_of(), conts.at(g)};
}

void add_contamination(const std::vector<PreparedTask>& runs, EvalOutput& out, const Model& model,
                       const Tokenizer& tok, Backend& be, const EvalSettings& s) {
  const std::vector<double>& ks = s.contamination_k;
  if (ks.empty()) return;
  for (double k : ks) mc::check_k(k, "--contamination-k");
  ERANK_CHECK(out.tasks.size() == runs.size(), "contamination: {} results for {} tasks",
              out.tasks.size(), runs.size());
  const int64_t max_len = s.max_length > 0 ? s.max_length : model.config().max_positions;

  std::vector<Item> items;
  for (size_t ti = 0; ti < runs.size(); ++ti)
    for (const PreparedDoc& d : runs[ti].docs) {
      auto [ctx, cont] = contamination_text(runs[ti], d);
      auto [a, b] = encode_pair(tok, ctx, cont);
      Item it{.task = ti, .doc_id = d.doc_id, .text = ctx + cont, .ids = std::move(a)};
      it.ids.insert(it.ids.end(), b.begin(), b.end());
      if (static_cast<int64_t>(it.ids.size()) > max_len + 1) {
        it.ids.resize(size_t(max_len + 1));
        it.truncated = true;
      }
      items.push_back(std::move(it));
    }

  // Scored in chunks (bounded memory for the per-token statistics); texts of one token are not.
  const size_t chunk = 1024;
  for (size_t c0 = 0; c0 < items.size(); c0 += chunk) {
    const size_t c1 = std::min(items.size(), c0 + chunk);
    std::vector<LLRequest> reqs;
    std::vector<size_t> owner;
    for (size_t i = c0; i < c1; ++i) {
      const auto& ids = items[i].ids;
      if (ids.size() < 2) continue;
      reqs.push_back({{ids[0]}, std::vector<int32_t>(ids.begin() + 1, ids.end()), nullptr});
      owner.push_back(i);
    }
    std::vector<std::vector<mc::TokenStats>> stats(reqs.size());
    for (size_t r = 0; r < reqs.size(); ++r) stats[r].resize(reqs[r].continuation.size());
    LLOptions opt;
    opt.max_length = max_len;
    opt.batch_tokens = s.batch_tokens;
    opt.on_token = [&](size_t req, int64_t pos, const Act& x, int64_t row) {
      const int32_t token = reqs[req].continuation[size_t(pos)];
      const size_t V = size_t(x.cols);
      stats[req][size_t(pos)] =
          x.prec == Precision::f32
              ? mc::token_stats(std::span<const float>(x.f.data() + row * x.cols, V), token)
              : mc::token_stats(std::span<const double>(x.d.data() + row * x.cols, V), token);
    };
    if (!reqs.empty()) score_loglikelihood(model, be, reqs, opt);
    out.n_requests += static_cast<int64_t>(reqs.size());
    for (size_t r = 0; r < reqs.size(); ++r) {
      Item& it = items[owner[r]];
      out.n_tokens += static_cast<int64_t>(it.ids.size());
      std::vector<double> lp;
      for (const auto& st : stats[r]) lp.push_back(st.logp);
      for (double k : ks) {
        it.min_k.push_back(mc::min_k_prob(lp, k));
        it.min_k_pp.push_back(mc::min_k_plus_plus(stats[r], k));
      }
    }
    for (size_t i = c0; i < c1; ++i)
      if (items[i].min_k.empty()) {  // one token: nothing predicted
        items[i].min_k.assign(ks.size(), std::nullopt);
        items[i].min_k_pp.assign(ks.size(), std::nullopt);
      }
  }

  // Per item on the samples lines; per task, the distributions.
  std::vector<std::map<int64_t, ojson>> per_doc(runs.size());
  std::vector<std::vector<const Item*>> of_task(runs.size());
  for (const Item& it : items) {
    ojson mk = ojson::object(), mpp = ojson::object();
    for (size_t j = 0; j < ks.size(); ++j) {
      mk[k_key(ks[j])] = opt_json(it.min_k[j]);
      mpp[k_key(ks[j])] = opt_json(it.min_k_pp[j]);
    }
    per_doc[it.task][it.doc_id] = {{"n_tokens", it.ids.size()},
                                   {"truncated", it.truncated},
                                   {"min_k", mk},
                                   {"min_k_plus_plus", mpp},
                                   {"text", it.text}};
    of_task[it.task].push_back(&it);
  }
  for (size_t ti = 0; ti < runs.size(); ++ti) {
    TaskResult& tr = out.tasks[ti];
    for (auto& line : tr.samples) {
      auto it = per_doc[ti].find(line.value("doc_id", int64_t(-1)));
      if (it != per_doc[ti].end()) line["contamination"] = it->second;
    }
    int64_t tokens = 0, truncated = 0;
    for (const Item* it : of_task[ti]) {
      tokens += static_cast<int64_t>(it->ids.size());
      truncated += it->truncated;
    }
    ojson mk = ojson::object(), mpp = ojson::object();
    for (size_t j = 0; j < ks.size(); ++j) {
      std::vector<double> a, b;
      for (const Item* it : of_task[ti]) {
        if (it->min_k[j]) a.push_back(*it->min_k[j]);
        if (it->min_k_pp[j]) b.push_back(*it->min_k_pp[j]);
      }
      mk[k_key(ks[j])] = distribution_json(a);
      mpp[k_key(ks[j])] = distribution_json(b);
    }
    tr.contamination = {{"k", ks},
                        {"n_items", of_task[ti].size()},
                        {"n_tokens", tokens},
                        {"n_truncated", truncated},
                        {"text", "zero-shot doc_to_text + target_delimiter + gold answer"},
                        {"min_k", mk},
                        {"min_k_plus_plus", mpp}};
  }
}

std::string contamination_table(const EvalOutput& out) {
  std::string s;
  auto cell = [](const ojson& d, const char* what) {
    if (d.is_null()) return std::string("-");
    const ojson& v = std::string(what) == "median" ? d["quantiles"]["0.5"] : d[what];
    return fmt::format("{:.4f}", v.get<double>());
  };
  for (const TaskResult& t : out.tasks) {
    if (t.contamination.is_null()) continue;
    if (s.empty())
      s = "\n|Tasks|k|n|Min-K% mean|Min-K% median|Min-K%++ mean|Min-K%++ median|\n"
          "|-----|-:|-:|----------:|------------:|------------:|--------------:|\n";
    for (const auto& k : t.contamination["k"]) {
      const std::string key = k_key(k.get<double>());
      const ojson& a = t.contamination["min_k"][key];
      const ojson& b = t.contamination["min_k_plus_plus"][key];
      s += fmt::format("|{}|{}|{}|{}|{}|{}|{}|\n", t.alias, key,
                       t.contamination["n_items"].get<int64_t>(), cell(a, "mean"),
                       cell(a, "median"), cell(b, "mean"), cell(b, "median"));
    }
  }
  return s;
}

}  // namespace erank
