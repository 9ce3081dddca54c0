#include "tasks/prompt.h"

#include <algorithm>

#include "core/error.h"
#include "tasks/py_literal.h"
#include "template/value.h"

namespace erank {
namespace {

// lm-eval's api/utils.py maybe_delimit: join, adding the delimiter only when neither side has
// whitespace at the boundary.
std::string maybe_delimit(const std::string& prefix, const std::string& suffix,
                          const std::string& delim) {
  if (prefix.empty()) return suffix;
  if (suffix.empty()) return prefix;
  if (py_ends_with_space(prefix) || py_starts_with_space(suffix)) return prefix + suffix;
  return prefix + delim + suffix;
}

bool requires_delimiter(const std::string& prefix, const std::string& suffix) {
  if (prefix.empty()) return false;
  return !(py_ends_with_space(prefix) || (!suffix.empty() && py_starts_with_space(suffix)));
}

}  // namespace

std::string py_str(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  return tmpl::to_str(tmpl::from_json(v));
}

PromptBuilder::PromptBuilder(const TaskConfig& cfg, std::vector<std::string> features)
    : cfg_(cfg), features_(std::move(features)) {}

bool PromptBuilder::is_feature(const std::string& s) const {
  return std::find(features_.begin(), features_.end(), s) != features_.end();
}

std::string PromptBuilder::render(const std::string& src, const ojson& doc) const {
  auto it = cache_.find(src);
  if (it == cache_.end()) {
    auto t = std::make_unique<Template>(src, cfg_.file + " (task " + cfg_.task + ")",
                                        TemplateOptions::lm_eval());
    it = cache_.emplace(src, std::move(t)).first;
  }
  return it->second->render(doc);
}

ojson PromptBuilder::doc_to_text(const ojson& doc, const ojson& spec) const {
  if (spec.is_number_integer()) return spec;
  if (!spec.is_string()) fail("{}: task {} has no doc_to_text", cfg_.file, cfg_.task);
  const std::string s = spec.get<std::string>();
  if (is_feature(s)) return doc.at(s);
  std::string text = render(s, doc);
  if (py_isdigit(text) && !cfg_.doc_to_choice.is_null())
    return py_literal_eval(text, cfg_.task + " doc_to_text");
  return text;
}

ojson PromptBuilder::doc_to_target(const ojson& doc, const ojson& spec) const {
  if (spec.is_number_integer() || spec.is_array()) return spec;
  if (!spec.is_string()) fail("{}: task {} has no doc_to_target", cfg_.file, cfg_.task);
  const std::string s = spec.get<std::string>();
  if (is_feature(s)) return doc.at(s);
  std::string t = render(s, doc);
  if (py_isdigit(t) && !cfg_.doc_to_choice.is_null())
    return py_literal_eval(t, cfg_.task + " doc_to_target");
  if (t.size() >= 2 && t.front() == '[' && t.back() == ']') {
    try {
      return py_literal_eval(t, cfg_.task + " doc_to_target");
    } catch (const Error&) {
      return t;
    }
  }
  return t;
}

std::vector<std::string> PromptBuilder::doc_to_choice(const ojson& doc, const ojson& spec) const {
  ojson list;
  if (spec.is_string()) {
    const std::string s = spec.get<std::string>();
    list =
        is_feature(s) ? doc.at(s) : py_literal_eval(render(s, doc), cfg_.task + " doc_to_choice");
  } else if (spec.is_array()) {
    list = spec;
  } else if (spec.is_object()) {
    list = ojson::array();
    for (auto& [k, v] : spec.items()) list.push_back(v);
  } else {
    fail("{}: task {} has no doc_to_choice", cfg_.file, cfg_.task);
  }
  if (!list.is_array())
    fail("task {}: doc_to_choice must give a list, got {}", cfg_.task, py_str(list));
  std::vector<std::string> out;
  for (auto& x : list) out.push_back(py_str(x));
  return out;
}

std::string PromptBuilder::description(const ojson& doc) const {
  if (cfg_.description.empty()) return "";
  if (doc.contains(cfg_.description)) return py_str(doc[cfg_.description]);
  return render(cfg_.description, doc);
}

void PromptBuilder::detect_multiple_input(const ojson& first_doc) {
  multiple_input_ = !cfg_.doc_to_choice.is_null() && doc_to_text(first_doc).is_number_integer();
}

std::string PromptBuilder::shot_answer(const ojson& shot) const {
  const ojson& tspec =
      cfg_.fewshot_doc_to_target.is_null() ? cfg_.doc_to_target : cfg_.fewshot_doc_to_target;
  ojson a = doc_to_target(shot, tspec);
  if (a.is_number_integer()) {
    const ojson& cspec =
        cfg_.fewshot_doc_to_choice.is_null() ? cfg_.doc_to_choice : cfg_.fewshot_doc_to_choice;
    if (cspec.is_null()) return py_str(a);
    auto c = doc_to_choice(shot, cspec);
    const int64_t i = a.get<int64_t>();
    if (i < 0 || i >= static_cast<int64_t>(c.size()))
      fail("task {}: a few-shot document's answer {} is outside its {} choices", cfg_.task, i,
           c.size());
    return c[static_cast<size_t>(i)];
  }
  if (a.is_array()) return a.empty() ? "" : py_str(a[0]);
  return py_str(a);
}

std::vector<PromptBuilder::Msg> PromptBuilder::qa_turn(const std::string& q, const ojson* answer,
                                                       const std::vector<std::string>* choices,
                                                       const std::string& tgt_delim,
                                                       const std::string& few_delim) const {
  (void)choices;
  const std::string& gp = cfg_.gen_prefix;
  std::vector<Msg> m;
  const bool has_answer = answer != nullptr;
  const std::string delim =
      (has_answer && gp.empty()) || (!gp.empty() && requires_delimiter(q, gp)) ? tgt_delim : "";
  m.push_back({"user", q, delim});
  if (has_answer) {
    m.push_back({"assistant", maybe_delimit(gp, answer->get<std::string>(), " "), few_delim});
  } else if (!gp.empty()) {
    m.push_back({"assistant", gp, ""});
  }
  return m;
}

std::string PromptBuilder::finish(std::vector<Msg> msgs, const ChatOptions& chat) const {
  if (!chat.tmpl) {
    std::string s;
    for (auto& m : msgs) s += m.content + m.delim;
    return s;
  }
  ojson conv = ojson::array();
  auto add = [&](const std::string& role, const std::string& content) {
    conv.push_back(ojson{{"role", role}, {"content", content}});
  };
  if (chat.multiturn) {
    for (auto& m : msgs) add(m.role, m.content);
  } else {  // lm-eval's multiturn_to_singleturn
    size_t first = 0;
    if (!msgs.empty() && msgs[0].role == "system") add("system", msgs[0].content), first = 1;
    const bool ends_assistant = msgs.size() > first && msgs.back().role == "assistant";
    const size_t user_end = ends_assistant ? msgs.size() - 1 : msgs.size();
    std::string user;
    for (size_t i = first; i < user_end; ++i)
      user += msgs[i].content + (i + 1 == user_end ? "" : msgs[i].delim);
    add("user", user);
    if (ends_assistant) add("assistant", msgs.back().content);
  }
  const bool add_generation_prompt = cfg_.gen_prefix.empty();
  if (!add_generation_prompt)
    fail(
        "task {}: gen_prefix with --apply-chat-template (continue_final_message) is not "
        "supported",
        cfg_.task);
  return render_chat(*chat.tmpl, conv, add_generation_prompt, chat.vars);
}

std::vector<PromptBuilder::Msg> PromptBuilder::head(const ojson& doc,
                                                    const std::vector<const ojson*>& shots,
                                                    const std::string& system) const {
  std::vector<Msg> msgs;
  const std::string sys = maybe_delimit(system, description(doc), cfg_.fewshot_delimiter);
  if (!sys.empty()) msgs.push_back({"system", sys, ""});
  const ojson& text_spec =
      cfg_.fewshot_doc_to_text.is_null() ? cfg_.doc_to_text : cfg_.fewshot_doc_to_text;
  const ojson& choice_spec =
      cfg_.fewshot_doc_to_choice.is_null() ? cfg_.doc_to_choice : cfg_.fewshot_doc_to_choice;
  const std::string& tgt = cfg_.fewshot_target_delimiter.value_or(cfg_.target_delimiter);
  const std::string& few = cfg_.fewshot_fewshot_delimiter.value_or(cfg_.fewshot_delimiter);
  for (const ojson* shot : shots) {
    // --fewshot-labels: a shot may carry the choice to show instead of its own answer.
    const bool relabelled = shot->contains(kShotLabel);
    ojson q = doc_to_text(*shot, text_spec);
    std::string answer;
    if (multiple_input_) {
      auto c = doc_to_choice(*shot, choice_spec);
      const int64_t i = relabelled ? (*shot)[kShotLabel].get<int64_t>() : q.get<int64_t>();
      if (i < 0 || i >= static_cast<int64_t>(c.size()))
        fail("task {}: a few-shot document's input index {} is outside its {} choices", cfg_.task,
             i, c.size());
      q = c[static_cast<size_t>(i)];
      answer = shot_answer(*shot);
    } else if (relabelled) {
      auto c = doc_to_choice(*shot, choice_spec);
      answer = c.at(static_cast<size_t>((*shot)[kShotLabel].get<int64_t>()));
    } else {
      answer = shot_answer(*shot);
    }
    if (!q.is_string()) fail("task {}: doc_to_text of a shot is not a string", cfg_.task);
    const ojson a = answer;
    auto t = qa_turn(q.get<std::string>(), &a, nullptr, tgt, few);
    msgs.insert(msgs.end(), t.begin(), t.end());
  }
  return msgs;
}

std::string PromptBuilder::shared_prefix(const ojson& doc, const std::vector<const ojson*>& shots,
                                         const std::string& system) const {
  std::string s;
  for (auto& m : head(doc, shots, system)) s += m.content + m.delim;
  return s;
}

std::vector<std::string> PromptBuilder::contexts(const ojson& doc,
                                                 const std::vector<const ojson*>& shots,
                                                 const std::string& system,
                                                 const ChatOptions& chat) const {
  std::vector<Msg> msgs = head(doc, shots, system);
  std::vector<std::string> out;
  if (multiple_input_) {
    for (auto& c : doc_to_choice(doc)) {
      auto m = msgs;
      auto t = qa_turn(c, nullptr, nullptr, "", "");
      m.insert(m.end(), t.begin(), t.end());
      out.push_back(finish(std::move(m), chat));
    }
    return out;
  }
  ojson q = doc_to_text(doc);
  if (!q.is_string()) fail("task {}: doc_to_text did not give a string", cfg_.task);
  auto t = qa_turn(q.get<std::string>(), nullptr, nullptr, cfg_.target_delimiter, "");
  msgs.insert(msgs.end(), t.begin(), t.end());
  out.push_back(finish(std::move(msgs), chat));
  return out;
}

std::vector<std::string> PromptBuilder::continuations(const ojson& doc, bool chat) const {
  std::string delim = cfg_.target_delimiter;
  if (chat && (cfg_.gen_prefix.empty() || py_ends_with_space(cfg_.gen_prefix))) delim = "";
  std::vector<std::string> out;
  if (multiple_input_) {
    const std::string cont = delim + py_str(doc_to_target(doc));
    for (size_t i = 0; i < doc_to_choice(doc).size(); ++i) out.push_back(cont);
    return out;
  }
  for (auto& c : doc_to_choice(doc)) out.push_back(delim + c);
  return out;
}

std::vector<int64_t> PromptBuilder::gold(const ojson& doc) const {
  const auto choices = doc_to_choice(doc);
  const int64_t n = static_cast<int64_t>(choices.size());
  ojson g = multiple_input_ ? doc_to_text(doc) : doc_to_target(doc);
  auto index = [&](const ojson& x) -> int64_t {
    if (x.is_number_integer()) {
      const int64_t i = x.get<int64_t>();
      return i < n ? i : -100;
    }
    if (x.is_string()) {
      auto it = std::find(choices.begin(), choices.end(), x.get<std::string>());
      return it == choices.end() ? -100 : static_cast<int64_t>(it - choices.begin());
    }
    return -100;
  };
  std::vector<int64_t> out;
  if (g.is_array()) {
    for (auto& x : g) out.push_back(index(x));
  } else {
    out.push_back(index(g));
  }
  return out;
}

}  // namespace erank
