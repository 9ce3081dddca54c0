#include "eval/task_inputs.h"

#include <fmt/core.h>

#include "backend/backend.h"
#include "core/error.h"
#include "io/gguf.h"
#include "models/model.h"
#include "tasks/contamination.h"
#include "tasks/evaluator.h"
#include "tokenizer/tokenizer.h"

namespace erank {
namespace {

EvalSettings settings_for(const std::string& task, const TaskInputOptions& o) {
  EvalSettings s;
  s.tasks = {task};
  s.limit = o.limit;
  s.data = o.data;
  s.data_option = "--task-data";
  return s;
}

}  // namespace

Dataset task_texts(const TaskRegistry& reg, const std::string& task, const TaskInputOptions& o) {
  const std::vector<PreparedTask> prepared = prepare_tasks(reg, settings_for(task, o));
  Dataset out;
  out.name = task;
  for (const PreparedTask& t : prepared) {
    out.n_records += t.n_original;
    for (const PreparedDoc& d : t.docs) {
      Text x;
      // The same question + answer that --contamination scores (tasks/contamination.h).
      const auto [question, answer] = contamination_text(t, d);
      x.text = question + answer;
      x.id = fmt::format("{}:{}", t.cfg->task, d.doc_id);
      x.record = static_cast<int64_t>(out.texts.size());
      if (x.text.empty()) {
        ++out.n_empty;
        continue;
      }
      out.texts.push_back(std::move(x));
    }
  }
  if (out.texts.empty()) fail("task {}: no documents to make texts from", task);
  out.sha256 = dataset_hash(out.texts);
  return out;
}

nlohmann::json task_accuracy(const TaskRegistry& reg, const std::string& model,
                             const std::string& task, const TaskInputOptions& o,
                             std::optional<int> num_fewshot, const std::string& backend,
                             int threads) {
  EvalSettings s = settings_for(task, o);
  s.num_fewshot = num_fewshot;
  const ModelSource src = resolve_model_source(model);
  const std::unique_ptr<Tokenizer> tok = src.kind == ModelSource::Kind::gguf
                                             ? Tokenizer::from_gguf(GGUFFile(src.path))
                                             : Tokenizer::from_hf_folder(src.path);
  const std::unique_ptr<Model> m = load_model(src);
  const std::unique_ptr<Backend> be = make_backend(backend, threads);
  const EvalOutput out = evaluate(reg, *m, *tok, *be, s);
  // The reported number: a group's aggregate when it has one, else the first task's.
  const std::map<std::string, double>* metrics = nullptr;
  const std::map<std::string, double>* stderrs = nullptr;
  int64_t n_docs = 0;
  int n_shot = 0;
  for (const auto& g : out.groups)
    if (g.name == task && g.has_aggregate) {
      metrics = &g.metrics;
      stderrs = &g.stderrs;
      n_docs = g.sample_len;
    }
  if (!metrics) {
    if (out.tasks.empty()) fail("task {}: nothing was scored", task);
    metrics = &out.tasks[0].metrics;
    stderrs = &out.tasks[0].stderrs;
    n_docs = out.tasks[0].n_effective;
  }
  if (!out.tasks.empty()) n_shot = out.tasks[0].n_shot;
  std::string metric;
  for (const char* m : {"acc", "exact_match", "pass@1", "mc2", "mc1"})
    for (const auto& [k, v] : *metrics)
      if (metric.empty() && (k == m || k.rfind(std::string(m) + ",", 0) == 0)) metric = k;
  if (metric.empty() && !metrics->empty()) metric = metrics->begin()->first;
  if (metric.empty()) fail("task {}: no metric to report", task);
  const auto se = stderrs->find(metric);
  return {{"task", task},
          {"metric", metric},
          {"value", metrics->at(metric)},
          {"stderr", se == stderrs->end() ? nlohmann::json(nullptr) : nlohmann::json(se->second)},
          {"n_docs", n_docs},
          {"num_fewshot", n_shot}};
}

}  // namespace erank
