#include "tasks/process_docs.h"

#include "core/error.h"
#include "data/py_random.h"
#include "tasks/gen_scoring.h"
#include "template/interpreter.h"
#include "template/pyre.h"
#include "template/pystr.h"

namespace erank {
namespace {

using ojson = nlohmann::ordered_json;

const std::string& field(const ojson& d, const char* key, const std::string& task) {
  if (!d.contains(key) || !d[key].is_string())
    fail("task {}: a document has no string field '{}'", task, key);
  return d[key].get_ref<const std::string&>();
}

// lm-eval tasks/hellaswag/utils.py process_docs.
void hellaswag(std::vector<ojson>& docs, const std::string& task) {
  for (auto& d : docs) {
    const std::string ctx =
        field(d, "ctx_a", task) + " " + tmpl::pystr::capitalize(field(d, "ctx_b", task));
    ojson choices = ojson::array();
    if (!d.contains("endings") || !d["endings"].is_array())
      fail("task {}: a document has no list field 'endings'", task);
    for (auto& e : d["endings"]) choices.push_back(hellaswag_preprocess(e.get<std::string>()));
    const ojson& label = d.contains("label") ? d["label"] : ojson();
    int64_t gold = 0;
    if (label.is_number_integer())
      gold = label.get<int64_t>();
    else if (label.is_string() && !label.get<std::string>().empty())
      gold = std::stoll(label.get<std::string>());
    else
      fail("task {}: a document's 'label' is not an integer", task);
    d["query"] = hellaswag_preprocess(field(d, "activity_label", task) + ": " + ctx);
    d["choices"] = choices;
    d["gold"] = gold;
  }
}

// lm-eval tasks/gpqa/*/utils.py process_docs: the four answers shuffled with Python's global
// random, which lm-eval seeds with 0 (--seed's first value) before building tasks.
std::string gpqa_preprocess(const ojson& v) {
  if (v.is_null()) return " ";
  std::string t = tmpl::pystr::strip(v.get<std::string>(), std::nullopt, true, true);
  t = tmpl::pystr::replace(t, " [title]", ". ", -1);
  return tmpl::pystr::replace(t, "  ", " ", -1);
}

void gpqa(std::vector<ojson>& docs, const std::string& task, bool with_list = false) {
  PyRandom rng(0);
  for (auto& d : docs) {
    std::vector<std::string> c;
    for (const char* k :
         {"Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3", "Correct Answer"}) {
      if (!d.contains(k)) fail("task {}: a document has no field '{}'", task, k);
      c.push_back(gpqa_preprocess(d[k]));
    }
    std::vector<int64_t> order = {0, 1, 2, 3};
    random_shuffle(rng, order);
    std::vector<std::string> s;
    for (int64_t i : order) s.push_back(c[size_t(i)]);
    const std::string correct = gpqa_preprocess(d["Correct Answer"]);
    size_t idx = 0;
    while (s[idx] != correct) ++idx;
    for (size_t i = 0; i < 4; ++i) d["choice" + std::to_string(i + 1)] = s[i];
    if (with_list) d["choices"] = s;  // the chain-of-thought tasks' flexible filter reads them
    d["answer"] = std::string("(") + char('A' + idx) + ")";
  }
}

// google/boolq (question, answer: bool, passage) -> SuperGLUE's boolq (question, passage, idx,
// label), the copy lm-eval reads; documents already in SuperGLUE's layout pass unchanged.
void boolq(std::vector<ojson>& docs, const std::string& task) {
  for (size_t i = 0; i < docs.size(); ++i) {
    ojson& d = docs[i];
    if (d.contains("label")) continue;
    if (!d.contains("answer") || !d["answer"].is_boolean())
      fail("task {}: document {} has neither 'label' nor a boolean 'answer'", task, i);
    d = ojson{{"question", field(d, "question", task)},
              {"passage", field(d, "passage", task)},
              {"idx", static_cast<int64_t>(i)},
              {"label", d["answer"].get<bool>() ? 1 : 0}};
  }
}

}  // namespace

std::string hellaswag_preprocess(const std::string& text) {
  std::string t = tmpl::pystr::strip(text, std::nullopt, true, true);
  t = tmpl::pystr::replace(t, " [title]", ". ", -1);
  t = tmpl::py_re_sub("\\[.*?\\]", "", t, 0);
  return tmpl::pystr::replace(t, "  ", " ", -1);
}

std::vector<std::string> process_docs_names() {
  return {"hellaswag", "gpqa", "gpqa_cot", "boolq", "minerva_math", "hendrycks_math"};
}

void process_docs(const std::string& name, std::vector<ojson>& docs, const std::string& task) {
  if (name == "hellaswag") return hellaswag(docs, task);
  if (name == "gpqa") return gpqa(docs, task);
  if (name == "gpqa_cot") return gpqa(docs, task, true);
  if (name == "minerva_math") return minerva_math_docs(docs, task);
  if (name == "hendrycks_math") return hendrycks_math_docs(docs, task);
  if (name == "boolq") return boolq(docs, task);
  std::string known;
  for (auto& n : process_docs_names()) known += (known.empty() ? "" : ", ") + n;
  fail("task {}: unknown process_docs '{}' (built-in: {})", task, name, known);
}

}  // namespace erank
