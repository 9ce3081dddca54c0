#include "tasks/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "core/error.h"
#include "data/docs.h"
#include "data/py_random.h"
#include "data/sha256.h"
#include "models/model.h"
#include "tasks/contamination.h"
#include "tasks/fewshot.h"
#include "tasks/loglikelihood.h"
#include "tasks/mc_metrics.h"
#include "tasks/process_docs.h"
#include "tasks/prompt.h"
#include "tasks/py_literal.h"
#include "template/value.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace erank {
namespace {

bool key_matches_task(const std::string& key, const TaskConfig& t) {
  if (key == t.task || key == t.dataset_path) return true;
  return std::find(t.tags.begin(), t.tags.end(), key) != t.tags.end();
}

std::string subst(std::string pat, const std::string& split, const TaskConfig& t) {
  auto rep = [&](const std::string& from, const std::string& to) {
    for (size_t p = pat.find(from); p != std::string::npos; p = pat.find(from, p + to.size()))
      pat.replace(p, from.size(), to);
  };
  rep("{split}", split);
  rep("{dataset_name}", t.dataset_name);
  rep("{task}", t.task);
  return pat;
}

// Where one split of a task comes from: --data (file or layout folder), the task file's
// data_files, the HF cache or erank's embedded data. Empty optional: not found.
std::optional<DocTable> load_split(const TaskConfig& t, const std::string& split,
                                   const EvalSettings& s,
                                   const std::map<std::string, std::set<std::string>>& groups,
                                   std::vector<std::string>& searched) {
  auto key_matches = [&](const std::string& key, const TaskConfig& task) {
    auto g = groups.find(key);
    if (g != groups.end() && g->second.count(task.task)) return true;
    return key_matches_task(key, task);
  };
  for (auto& [key, path] : s.data) {
    const auto colon = key.rfind(':');
    if (colon != std::string::npos && colon > 0) {
      if (key.substr(colon + 1) == split && key_matches(key.substr(0, colon), t))
        return read_docs(path);
      continue;
    }
    if (!key_matches(key, t)) continue;
    if (fs::is_directory(path) && !t.data_layout.empty() &&
        !fs::exists(fs::path(path) / "dataset_info.json") &&
        !fs::exists(fs::path(path) / "state.json")) {
      for (auto& pat : t.data_layout) {
        const fs::path f = fs::path(path) / subst(pat, split, t);
        searched.push_back(f.string());
        if (fs::exists(f)) return read_docs(f.string());
      }
      continue;
    }
    if (split == t.eval_split()) return read_docs(path);
  }
  if (t.dataset_kwargs.is_object() && t.dataset_kwargs.contains("data_files")) {
    const auto& df = t.dataset_kwargs["data_files"];
    if (df.is_object() && df.contains(split)) {
      fs::path p =
          df[split].is_array() ? df[split][0].get<std::string>() : df[split].get<std::string>();
      if (p.is_relative()) p = fs::path(t.file).parent_path() / p;
      return read_docs(p.string());
    }
  }
  if (!t.dataset_path.empty()) {
    searched.push_back(t.dataset_path + (t.dataset_name.empty() ? "" : "/" + t.dataset_name) +
                       " split " + split + " (HF cache, embedded data)");
    if (auto d = load_dataset_split(t.dataset_path, t.dataset_name, split)) return d;
  }
  return std::nullopt;
}

using KeyTasks = std::map<std::string, std::set<std::string>>;

std::vector<ojson> load_docs_or_fail(const TaskConfig& t, const std::string& split,
                                     const EvalSettings& s, const KeyTasks& groups) {
  std::vector<std::string> searched;
  auto table = load_split(t, split, s, groups, searched);
  // dataset_kwargs.index_col: 0 (pandas): a CSV's first column is the row index, not a field, as
  // the official CMMLU loader reads its files.
  if (table && table->origin.ends_with(".csv") && t.dataset_kwargs.is_object() &&
      t.dataset_kwargs.value("index_col", -1) == 0 && !table->features.empty()) {
    const std::string first = table->features.front();
    for (auto& row : table->rows) row.erase(first);
    table->features.erase(table->features.begin());
  }
  if (!table) {
    std::string where;
    for (auto& x : searched) where += (where.empty() ? "" : "; ") + x;
    fail("task {}: split '{}' not found (searched: {}); pass {} {}:{}=FILE", t.task, split,
         where.empty() ? "nothing" : where, s.data_option, t.task, split);
  }
  if (table->rows.empty()) fail("{}: task {} split '{}' is empty", table->origin, t.task, split);
  if (!t.process_docs.empty()) process_docs(t.process_docs, table->rows, t.task);
  return std::move(table->rows);
}

std::vector<std::string> features_of(const std::vector<ojson>& docs) {
  std::vector<std::string> f;
  if (!docs.empty())
    for (auto& [k, v] : docs[0].items()) f.push_back(k);
  return f;
}

std::string python_json(const ojson& v, bool indent) {
  tmpl::JsonStyle st;
  if (indent) {
    st.has_indent = true;
    st.indent = "  ";
    st.item_sep = ",";
  }
  return tmpl::to_json(tmpl::from_json(v), st);
}

// Python's str.rstrip() length of trailing whitespace, in bytes.
size_t trailing_space_bytes(const std::string& s) {
  size_t end = s.size();
  while (end > 0) {
    size_t b = end - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    if (!py_starts_with_space(std::string_view(s).substr(b, end - b))) break;
    end = b;
  }
  return s.size() - end;
}

std::vector<int32_t> tok_encode(const Tokenizer& tok, const std::string& s) {
  // HFLM.tok_encode: no special tokens when the text already starts with the prefix token.
  std::optional<int32_t> prefix = tok.bos_id() ? tok.bos_id() : tok.eos_id();
  bool add = true;
  if (prefix) {
    const int32_t id = *prefix;
    const std::string bos = tok.decode(std::span<const int32_t>(&id, 1));
    if (!bos.empty() && s.starts_with(bos)) add = false;
  }
  return tok.encode(s, add);
}

// The sampling stream of one response: (task, document, repeat) alone, so a resumed run or another
// batch draws the same tokens for it.
uint64_t stream_id(const std::string& task, int64_t doc_id, int repeat) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : task) h = (h ^ c) * 1099511628211ull;
  return h ^ ((uint64_t(doc_id) << 16 | uint64_t(repeat)) * 0x9E3779B97F4A7C15ull);
}

// --fewshot-labels: the shot's answer replaced by a random or a wrong choice.
ojson relabel(const ojson& shot, const PromptBuilder& pb, const std::string& mode, PyRandom& rng) {
  if (mode == "gold") return shot;
  auto choices = pb.doc_to_choice(shot);
  auto gold = pb.gold(shot);
  const int64_t n = static_cast<int64_t>(choices.size());
  if (n < 2 || gold.empty() || gold[0] < 0) return shot;
  int64_t g = gold[0];
  const int64_t pick =
      mode == "flipped" ? (g + 1) % n : static_cast<int64_t>(rng.randbelow(uint64_t(n)));
  ojson d = shot;
  d[PromptBuilder::kShotLabel] = pick;
  return d;
}

}  // namespace

std::pair<std::vector<int32_t>, std::vector<int32_t>> encode_pair(const Tokenizer& tok,
                                                                  const std::string& context,
                                                                  const std::string& continuation) {
  if (context.empty()) {
    auto cont = tok.encode(continuation, false);
    std::optional<int32_t> prefix = tok.bos_id() ? tok.bos_id() : tok.eos_id();
    if (!prefix) fail("the tokenizer has neither BOS nor EOS for an empty context");
    if (cont.empty()) fail("a continuation encodes to no tokens: '{}'", continuation);
    if (cont[0] != *prefix) return {{*prefix}, cont};
    return {{cont[0]}, std::vector<int32_t>(cont.begin() + 1, cont.end())};
  }
  const size_t n = trailing_space_bytes(context);
  const std::string ctx = context.substr(0, context.size() - n);
  const std::string cont = context.substr(context.size() - n) + continuation;
  auto whole = tok_encode(tok, ctx + cont);
  auto ctx_enc = tok_encode(tok, ctx);
  if (whole.size() <= ctx_enc.size())
    fail("the continuation '{}' adds no tokens to its context", continuation);
  return {ctx_enc, std::vector<int32_t>(whole.begin() + static_cast<ptrdiff_t>(ctx_enc.size()),
                                        whole.end())};
}

std::vector<PreparedTask> prepare_tasks(const TaskRegistry& reg, const EvalSettings& s) {
  const auto names = leaf_tasks(resolve_tasks(reg, s.tasks));
  // --data keys naming a group or tag stand for its tasks.
  std::map<std::string, std::set<std::string>> key_tasks;
  for (auto& [key, path] : s.data) {
    const std::string name =
        key.substr(0, key.rfind(':') == std::string::npos || key.rfind(':') == 0 ? key.size()
                                                                                 : key.rfind(':'));
    if (reg.group(name) || !reg.tagged(name).empty())
      for (auto& t : leaf_tasks(resolve_tasks(reg, {name}))) key_tasks[name].insert(t);
  }
  // 1. Documents and prompts, task by task (each task's sampler draws in document order).
  std::vector<PreparedTask> runs;
  for (auto& name : names) {
    PreparedTask r;
    r.cfg = reg.task(name);
    const TaskConfig& t = *r.cfg;
    TaskConfig* mut = const_cast<TaskConfig*>(r.cfg);  // --description, --cot-trigger
    if (r.generative()) {
      r.gen = parse_gen_kwargs(t.generation_kwargs, t.task);
      if (s.max_gen_toks) r.gen.max_gen_toks = std::min(r.gen.max_gen_toks, *s.max_gen_toks);
      r.repeats = t.repeats;
      r.filters =
          t.filter_list.empty()
              ? ojson::array({{{"name", "none"}, {"filter", {{{"function", "take_first"}}}}}})
              : t.filter_list;
      if (s.self_consistency > 1) {
        // k sampled chains; each pipeline also scored with a majority vote before its take_first.
        r.repeats = s.self_consistency;
        r.gen.sampling.do_sample = true;
        r.gen.sampling.temperature = s.temperature;
        ojson more = ojson::array();
        for (const auto& f : r.filters) {
          ojson steps = ojson::array();
          bool voted = false;
          for (const auto& st : f["filter"]) {
            if (!voted && st.value("function", "") == "take_first") {
              steps.push_back({{"function", "majority_vote"}});
              voted = true;
            }
            steps.push_back(st);
          }
          if (!voted) continue;
          more.push_back({{"name", f["name"].get<std::string>() + "-maj@" +
                                       std::to_string(s.self_consistency)},
                          {"filter", steps}});
        }
        for (auto& m : more) r.filters.push_back(m);
      }
      if (!s.cot_trigger.empty())
        mut->gen_prefix = t.gen_prefix.empty() ? s.cot_trigger : t.gen_prefix + " " + s.cot_trigger;
      r.scorer = std::make_shared<GenScorer>(t, r.filters, s.exec);
    }
    r.eval_docs = load_docs_or_fail(t, t.eval_split(), s, key_tasks);
    r.n_original = static_cast<int64_t>(r.eval_docs.size());
    r.n_shot = s.num_fewshot.value_or(t.num_fewshot.value_or(0));
    // The few-shot split: fewshot_split, else train -> validation -> test (lm-eval's fallback).
    std::optional<std::string> shot_split = t.fewshot_split;
    if (!shot_split)
      shot_split = t.training_split     ? t.training_split
                   : t.validation_split ? t.validation_split
                                        : t.test_split;
    // fewshot_config.samples unless a few-shot split is named (lm-eval: the split wins).
    if (r.n_shot > 0 && !t.fewshot_split && t.fewshot_samples.is_array() &&
        !t.fewshot_samples.empty())
      r.shot_docs.assign(t.fewshot_samples.begin(), t.fewshot_samples.end());
    else if (r.n_shot > 0)
      r.shot_docs = load_docs_or_fail(t, *shot_split, s, key_tasks);
    if (!s.description.empty()) mut->description = s.description;
    r.prompts = std::make_unique<PromptBuilder>(t, features_of(r.eval_docs));
    r.prompts->detect_multiple_input(r.eval_docs[0]);
    const int64_t n = s.limit ? std::min<int64_t>(*s.limit, r.n_original) : r.n_original;
    FewshotSampler sampler(t.fewshot_sampler, r.shot_docs, s.fewshot_seed);
    const bool exclude_self = t.fewshot_split == t.test_split;
    PyRandom label_rng(s.label_seed);
    std::string system = s.role;
    if (!s.system.empty()) system = system.empty() ? s.system : system + "\n\n" + s.system;
    ChatOptions chat{s.chat, s.chat_vars, s.fewshot_as_multiturn};
    for (int64_t i = 0; i < n; ++i) {
      const ojson& doc = r.eval_docs[size_t(i)];
      PreparedDoc d;
      d.doc_id = i;
      auto shots = sampler.sample(r.n_shot, exclude_self ? &doc : nullptr);
      std::vector<ojson> relabelled;
      std::vector<const ojson*> shot_ptrs = shots;
      if (s.fewshot_labels != "gold") {
        for (auto* sd : shots)
          relabelled.push_back(relabel(*sd, *r.prompts, s.fewshot_labels, label_rng));
        shot_ptrs.clear();
        for (auto& x : relabelled) shot_ptrs.push_back(&x);
      }
      d.contexts = r.prompts->contexts(doc, shot_ptrs, system, chat);
      if (r.generative()) {
        if (d.contexts.size() != 1)
          fail("task {}: document {}: a generate_until task has one context", t.task, i);
        d.target = r.prompts->doc_to_target(doc);
        if (!t.doc_to_choice.is_null()) d.choices = r.prompts->doc_to_choice(doc);
      } else {
        d.conts = r.prompts->continuations(doc, s.chat != nullptr);
        d.choices = r.prompts->doc_to_choice(doc);
        d.gold = r.prompts->gold(doc);
        d.target = r.prompts->doc_to_target(doc);
        for (auto g : d.gold)
          if (g == -100)
            fail("task {}: document {}: the answer {} is not one of its {} choices", t.task, i,
                 py_str(r.prompts->multiple_input() ? r.prompts->doc_to_text(doc) : d.target),
                 d.choices.size());
        if (d.contexts.size() == 1) d.contexts.resize(d.conts.size(), d.contexts[0]);
        if (d.contexts.size() != d.conts.size())
          fail("task {}: document {}: {} contexts for {} continuations", t.task, i,
               d.contexts.size(), d.conts.size());
        if (!s.chat) d.prefix_text = r.prompts->shared_prefix(doc, shot_ptrs, system);
      }
      Sha256 h;
      for (size_t k = 0; k < d.contexts.size(); ++k) {
        h.update(d.contexts[k]);
        h.update("\x1f");
        if (k < d.conts.size()) h.update(d.conts[k]);
        h.update("\x1e");
      }
      if (r.generative()) {  // a response depends on how it was generated too
        const GenKwargs& g = r.gen;
        ojson kw{{"until", g.until},
                 {"max_gen_toks", g.max_gen_toks},
                 {"do_sample", g.sampling.do_sample},
                 {"temperature", g.sampling.temperature},
                 {"top_p", g.sampling.top_p},
                 {"top_k", g.sampling.top_k},
                 {"repeats", r.repeats},
                 {"seed", g.sampling.do_sample ? s.gen_seed : 0}};
        h.update(kw.dump());
      }
      d.key = h.hex_digest();
      r.docs.push_back(std::move(d));
    }
    runs.push_back(std::move(r));
  }
  return runs;
}

// A tag names a list of tasks, not a node: lm-eval puts its tasks in the tag's place (no entry in
// results, no row in the table), so erank does too.
static std::vector<TaskNode> without_tags(std::vector<TaskNode> nodes) {
  std::vector<TaskNode> out;
  for (auto& n : nodes) {
    n.children = without_tags(std::move(n.children));
    if (n.is_group && !n.group)
      for (auto& c : n.children) out.push_back(std::move(c));
    else
      out.push_back(std::move(n));
  }
  return out;
}

EvalOutput evaluate(const TaskRegistry& reg, const Model& model, const Tokenizer& tok, Backend& be,
                    const EvalSettings& s, const EvalProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  EvalOutput out;
  out.trees = without_tags(resolve_tasks(reg, s.tasks));
  auto report = [&](const std::string& stage, int64_t done, int64_t total) {
    if (progress.fn) progress.fn(stage, done, total);
  };
  std::vector<PreparedTask> runs = prepare_tasks(reg, s);

  // 2. Resume: documents already scored by an interrupted run with the same requests.
  if (!s.partial_path.empty() && fs::exists(s.partial_path)) {
    std::ifstream in(s.partial_path);
    std::map<std::pair<std::string, int64_t>, ojson> seen;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      ojson j = ojson::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;  // a line cut by the kill
      seen[{j.value("task", ""), j.value("doc_id", int64_t(-1))}] = j;
    }
    for (auto& r : runs)
      for (auto& d : r.docs) {
        auto it = seen.find({r.cfg->task, d.doc_id});
        if (it == seen.end() || it->second.value("key", "") != d.key) continue;
        if (r.generative()) {
          if (!it->second.contains("resps") || !it->second["resps"].is_array()) continue;
          for (auto& x : it->second["resps"]) d.resps.push_back(x.get<std::string>());
          d.done = d.resps.size() == size_t(r.repeats);
          if (!d.done) d.resps.clear();
          continue;
        }
        if (!it->second.contains("lls") || !it->second.contains("greedy")) continue;
        for (auto& x : it->second["lls"]) d.lls.push_back(x.get<double>());
        for (auto& x : it->second["greedy"]) d.greedy.push_back(x.get<bool>());
        d.done = d.lls.size() == d.conts.size() && d.greedy.size() == d.conts.size();
      }
  }

  // 3. Requests, scored in chunks of documents across tasks (each chunk is appended to the
  //    resume file), shared few-shot blocks tokenised once.
  const int64_t max_len = s.max_length > 0 ? s.max_length : model.config().max_positions;
  std::map<std::string, std::shared_ptr<const std::vector<int32_t>>> prefix_ids;
  std::vector<std::pair<PreparedTask*, PreparedDoc*>> pending, gen_pending;
  int64_t total_docs = 0;
  for (auto& r : runs)
    for (auto& d : r.docs) {
      ++total_docs;
      if (!d.done) (r.generative() ? gen_pending : pending).push_back({&r, &d});
    }
  if (!s.dola_layers.empty()) {
    if (s.scoring != "loglikelihood") fail("--dola scores with --scoring loglikelihood only");
    for (auto& r : runs)
      if (r.generative())
        fail("--dola scores multiple-choice tasks; {} generates (use erank generate --dola)",
             r.cfg->task);
  }
  std::ofstream partial;
  if (!s.partial_path.empty() && (!pending.empty() || !gen_pending.empty())) {
    fs::create_directories(fs::path(s.partial_path).parent_path());
    partial.open(s.partial_path, std::ios::app);
    if (!partial) fail("{}: cannot write the resume file", s.partial_path);
  }
  const size_t chunk_docs = 256;
  int64_t done_docs = total_docs - static_cast<int64_t>(pending.size() + gen_pending.size());
  report("scoring", done_docs, total_docs);
  for (size_t c0 = 0; c0 < pending.size(); c0 += chunk_docs) {
    const size_t c1 = std::min(pending.size(), c0 + chunk_docs);
    std::vector<LLRequest> reqs;
    for (size_t i = c0; i < c1; ++i) {
      PreparedDoc& d = *pending[i].second;
      std::shared_ptr<const std::vector<int32_t>> hint;
      if (!d.prefix_text.empty()) {
        auto& p = prefix_ids[d.prefix_text];
        if (!p) p = std::make_shared<const std::vector<int32_t>>(tok_encode(tok, d.prefix_text));
        hint = p;
      }
      for (size_t k = 0; k < d.conts.size(); ++k) {
        auto [ctx, cont] = encode_pair(tok, d.contexts[k], d.conts[k]);
        out.n_tokens += static_cast<int64_t>(ctx.size() + cont.size());
        reqs.push_back({std::move(ctx), std::move(cont), hint});
      }
    }
    if (s.scoring == "opencompass-ppl") {
      // Every candidate written out in full: the whole sequence's mean NLL decides, so each
      // request scores all tokens after the first.
      for (auto& q : reqs) {
        std::vector<int32_t> all = q.context;
        all.insert(all.end(), q.continuation.begin(), q.continuation.end());
        q.context.assign(all.begin(), all.begin() + 1);
        q.continuation.assign(all.begin() + 1, all.end());
        q.shared_prefix = nullptr;
      }
    }
    LLOptions opt;
    opt.max_length = max_len;
    opt.batch_tokens = s.batch_tokens;
    opt.dola_layers = s.dola_layers;
    const int64_t base = done_docs;
    const int64_t n_chunk_reqs = static_cast<int64_t>(reqs.size());
    opt.progress = [&](int64_t done, int64_t total) {
      (void)total;
      report("scoring",
             base + (static_cast<int64_t>(c1 - c0) * done) / std::max<int64_t>(1, n_chunk_reqs),
             total_docs);
    };
    auto res = score_loglikelihood(model, be, reqs, opt);
    out.n_requests += static_cast<int64_t>(reqs.size());
    size_t at = 0;
    for (size_t i = c0; i < c1; ++i) {
      PreparedDoc& d = *pending[i].second;
      for (size_t k = 0; k < d.conts.size(); ++k, ++at) {
        double ll = res[at].logprob;
        // OpenCompass's _get_ppl: the losses of tokens 1..n-1 summed, over n (all tokens);
        // lower is better, so the score kept is its negative.
        if (s.scoring == "opencompass-ppl")
          ll /= static_cast<double>(reqs[at].context.size() + reqs[at].continuation.size());
        d.lls.push_back(ll);
        d.greedy.push_back(res[at].is_greedy);
      }
      d.done = true;
      if (partial) {
        ojson line{{"task", pending[i].first->cfg->task},
                   {"doc_id", d.doc_id},
                   {"key", d.key},
                   {"lls", d.lls},
                   {"greedy", d.greedy}};
        partial << line.dump() << "\n";
      }
    }
    if (partial) partial.flush();
    done_docs += static_cast<int64_t>(c1 - c0);
    report("scoring", done_docs, total_docs);
  }

  // 3b. Generation: documents in chunks (each chunk appended to the resume file), every
  //     prompt of a chunk decoded together; greedy tasks generate once per document.
  const size_t gen_chunk = size_t(std::max<int64_t>(64, s.gen_batch * 4));
  const int32_t eos_id = tok.eos_id() ? *tok.eos_id() : -1;
  for (size_t c0 = 0; c0 < gen_pending.size(); c0 += gen_chunk) {
    const size_t c1 = std::min(gen_pending.size(), c0 + gen_chunk);
    std::vector<GenRequest> reqs;
    std::vector<std::pair<size_t, int>> owner;  // (pending index, repeat) per request
    for (size_t i = c0; i < c1; ++i) {
      auto [r, d] = gen_pending[i];
      const int n = r->gen.sampling.do_sample ? r->repeats : 1;
      const auto ids = tok_encode(tok, d->contexts[0]);
      for (int k = 0; k < n; ++k) {
        GenRequest q;
        q.prompt = ids;
        q.kwargs = r->gen;
        q.seed_id = stream_id(r->cfg->task, d->doc_id, k);
        out.n_tokens += int64_t(ids.size());
        reqs.push_back(std::move(q));
        owner.push_back({i, k});
      }
    }
    GenRunOptions go;
    go.batch = s.gen_batch;
    go.max_length = max_len;
    go.eos_id = eos_id;
    go.seed = s.gen_seed;
    const int64_t base = done_docs;
    const int64_t n_chunk = int64_t(c1 - c0), n_reqs = int64_t(reqs.size());
    go.progress = [&](int64_t done, int64_t) {
      report("generating", base + n_chunk * done / std::max<int64_t>(1, n_reqs), total_docs);
    };
    auto res = run_generate_until(model, be, tok, reqs, go);
    out.n_requests += n_reqs;
    for (size_t q = 0; q < res.size(); ++q) {
      out.n_generated += int64_t(res[q].tokens.size());
      gen_pending[owner[q].first].second->resps.push_back(std::move(res[q].text));
    }
    for (size_t i = c0; i < c1; ++i) {
      auto [r, d] = gen_pending[i];
      if (!r->gen.sampling.do_sample) d->resps.resize(size_t(r->repeats), d->resps.at(0));
      d->done = true;
      if (partial) {
        ojson line{
            {"task", r->cfg->task}, {"doc_id", d->doc_id}, {"key", d->key}, {"resps", d->resps}};
        partial << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
    }
    if (partial) partial.flush();
    done_docs += int64_t(c1 - c0);
    report("generating", done_docs, total_docs);
  }

  // 4. Metrics per document, then per task.
  std::map<std::string, const TaskResult*> by_name;
  out.tasks.reserve(runs.size());
  for (auto& r : runs) {
    const TaskConfig& t = *r.cfg;
    TaskResult tr;
    tr.name = t.task;
    tr.alias = t.task_alias.empty() ? t.task : t.task_alias;
    tr.config = r.cfg;
    tr.n_shot = r.n_shot;
    tr.n_original = r.n_original;
    tr.n_effective = static_cast<int64_t>(r.docs.size());
    std::map<std::string, std::vector<double>> values;
    std::vector<std::string> wanted;
    for (auto& m : t.metrics) wanted.push_back(m.metric);
    const std::string& process_results = t.process_results;
    for (auto& d : r.docs) {
      if (r.generative()) {
        const ojson& doc = r.eval_docs[size_t(d.doc_id)];
        auto scores = r.scorer->score(doc, d.resps, d.target);
        for (auto& fs_ : scores) {
          for (auto& [k, v] : fs_.metrics) values[k + "," + fs_.filter].push_back(v);
          if (!s.log_samples) continue;
          ojson args{{"gen_args_0", {{"arg_0", d.contexts[0]}, {"arg_1", t.generation_kwargs}}}};
          ojson metric_names = ojson::array();
          for (auto& [k, v] : fs_.metrics) metric_names.push_back(k);
          ojson line{{"doc_id", d.doc_id},
                     {"doc", doc},
                     {"target", py_str(d.target)},
                     {"arguments", args},
                     {"resps", ojson::array({d.resps})},
                     {"filtered_resps", ojson::array({fs_.filtered})},
                     {"filter", fs_.filter},
                     {"metrics", metric_names},
                     {"doc_hash", sha256_hex(python_json(doc, true))},
                     {"prompt_hash", sha256_hex(d.contexts[0])},
                     {"target_hash", sha256_hex(py_str(d.target))}};
          for (auto& [k, v] : fs_.metrics) line[k] = v;
          tr.samples.push_back(std::move(line));
        }
        continue;
      }
      std::map<std::string, double> m;
      if (process_results == "truthfulqa_mc2") {
        m = mc2_metrics(d.lls, r.eval_docs[size_t(d.doc_id)], t.task);
      } else if (process_results == "truthfulqa_mc3") {
        m = mc3_metrics(d.lls, r.eval_docs[size_t(d.doc_id)], t.task);
      } else if (!process_results.empty()) {
        fail("task {}: unknown process_results '{}' (built-in: truthfulqa_mc2, truthfulqa_mc3)",
             t.task, process_results);
      } else {
        m = mc_doc_metrics(d.lls, d.greedy, d.choices, d.gold, wanted);
      }
      for (auto& [k, v] : m) values[k].push_back(v);
      if (s.log_samples) {
        // As lm-eval writes them: arguments by name, responses as Python's str() of each value.
        ojson args = ojson::object();
        ojson resps = ojson::array(), filtered = ojson::array();
        for (size_t k = 0; k < d.conts.size(); ++k) {
          args["gen_args_" + std::to_string(k)] = {{"arg_0", d.contexts[k]}, {"arg_1", d.conts[k]}};
          const ojson pair =
              ojson::array({py_str(ojson(d.lls[k])), std::string(d.greedy[k] ? "True" : "False")});
          resps.push_back(ojson::array({pair}));
          filtered.push_back(pair);
        }
        const ojson& doc = r.eval_docs[size_t(d.doc_id)];
        ojson metric_names = ojson::array();
        for (auto& [k, v] : m) metric_names.push_back(k);
        ojson line{{"doc_id", d.doc_id},
                   {"doc", doc},
                   {"target", py_str(d.target)},
                   {"arguments", args},
                   {"resps", resps},
                   {"filtered_resps", filtered},
                   {"filter", "none"},
                   {"metrics", metric_names},
                   {"doc_hash", sha256_hex(python_json(doc, true))},
                   {"prompt_hash", sha256_hex(d.contexts[0])},
                   {"target_hash", sha256_hex(py_str(d.target))}};
        for (auto& [k, v] : m) line[k] = v;
        tr.samples.push_back(std::move(line));
      }
    }
    for (auto& [k, v] : values) {
      tr.metrics[k] = mean(v);
      if (v.size() > 1) tr.stderrs[k] = mean_stderr(v);
    }
    out.tasks.push_back(std::move(tr));
  }
  add_contamination(runs, out, model, tok, be, s);
  for (auto& tr : out.tasks) by_name[tr.name] = &tr;

  // 5. Groups: size-weighted means over all leaf tasks, pooled standard errors (lm-eval).
  std::function<void(const TaskNode&, int)> visit = [&](const TaskNode& n, int depth) {
    if (!n.is_group) return;
    GroupResult g;
    g.name = n.name;
    g.alias = n.group && !n.group->group_alias.empty() ? n.group->group_alias : n.name;
    g.depth = depth;
    g.leaves = leaf_tasks({n});
    for (auto& l : g.leaves) g.sample_len += by_name.at(l)->n_effective;
    if (n.group && !n.group->aggregate.empty()) {
      g.has_aggregate = true;
      for (auto& a : n.group->aggregate) {
        std::vector<double> vals, errs, sizes;
        for (auto& l : g.leaves) {
          const TaskResult* tr = by_name.at(l);
          auto it = tr->metrics.find(a.metric);
          if (it == tr->metrics.end()) it = tr->metrics.find(a.metric + ",none");
          if (it == tr->metrics.end()) continue;
          vals.push_back(it->second);
          auto e = tr->stderrs.find(it->first);
          errs.push_back(e == tr->stderrs.end() ? NAN : e->second);
          sizes.push_back(a.weight_by_size ? double(tr->n_effective) : 1.0);
        }
        if (vals.empty()) continue;
        double num = 0, den = 0;
        for (size_t i = 0; i < vals.size(); ++i) num += vals[i] * sizes[i], den += sizes[i];
        g.metrics[a.metric] = num / den;
        std::vector<double> real_sizes;
        for (auto& l : g.leaves)
          if (by_name.at(l)->metrics.count(a.metric) ||
              by_name.at(l)->metrics.count(a.metric + ",none"))
            real_sizes.push_back(double(by_name.at(l)->n_effective));
        const double se = a.weight_by_size ? pooled_sample_stderr(errs, real_sizes)
                                           : unweighted_mean_stderr(errs);
        if (std::isfinite(se)) g.stderrs[a.metric] = se;
      }
    }
    out.groups.push_back(g);
    for (auto& c : n.children) visit(c, depth + 1);
  };
  for (auto& t : out.trees) visit(t, 0);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace erank
