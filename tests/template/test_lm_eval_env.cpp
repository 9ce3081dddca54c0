// Task prompts against lm-eval's own Jinja environment (lm_eval.utils.apply_template): every case
// of lm_eval_cases.json (tools/make_task_prompt_goldens.py: erank's task-file templates on real
// documents, and the environment's settings: no block trimming, trailing newline kept,
// StrictUndefined, regex_replace) byte-identical, and renderings lm-eval reads back with
// ast.literal_eval parsed to the same values.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tasks/py_literal.h"
#include "template/template.h"

using nlohmann::ordered_json;

TEST(LmEvalEnvironment, MatchesLmEvalApplyTemplate) {
  std::ifstream in(std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/template/lm_eval_cases.json");
  ASSERT_TRUE(in);
  const auto cases = ordered_json::parse(in)["cases"];
  ASSERT_GT(cases.size(), 60u);
  int literals = 0;
  for (const auto& c : cases) {
    const std::string src = c["template"];
    SCOPED_TRACE(src);
    erank::Template t(src, "task.yaml", erank::TemplateOptions::lm_eval());
    if (c.contains("expected_error")) {
      EXPECT_THROW(t.render(c["context"]), erank::Error);
      continue;
    }
    std::string got;
    try {
      got = t.render(c["context"]);
    } catch (const erank::Error& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    EXPECT_EQ(got, c["expected"].get<std::string>());
    if (c.contains("literal")) {
      EXPECT_EQ(erank::py_literal_eval(got, "case"), c["literal"]);
      ++literals;
    }
  }
  EXPECT_GT(literals, 20);
}

TEST(LmEvalEnvironment, PythonLiterals) {
  using erank::py_literal_eval;
  EXPECT_EQ(py_literal_eval("['a', \"it's\", 'b\\\\c', 'x\\ny']", "t"),
            ordered_json::array({"a", "it's", "b\\c", "x\ny"}));
  EXPECT_EQ(py_literal_eval("(1, -2.5, True, None)", "t"),
            ordered_json::array({1, -2.5, true, nullptr}));
  EXPECT_EQ(py_literal_eval("{'k': [1]}", "t"), ordered_json({{"k", {1}}}));
  EXPECT_EQ(py_literal_eval("'\\u00e9\\x41'", "t"), ordered_json("éA"));
  EXPECT_THROW(py_literal_eval("['a', ", "t"), erank::Error);
  EXPECT_THROW(py_literal_eval("[a]", "t"), erank::Error);
  EXPECT_THROW(py_literal_eval("[1] 2", "t"), erank::Error);
  EXPECT_TRUE(erank::py_isdigit("0123"));
  EXPECT_TRUE(erank::py_isdigit("٣"));  // Arabic-Indic digit: str.isdigit() is True
  EXPECT_FALSE(erank::py_isdigit("-1"));
  EXPECT_FALSE(erank::py_isdigit(""));
}
