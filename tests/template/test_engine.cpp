// The engine against jinja2 itself: every case of engine_cases.json (rendered by the environment
// transformers compiles chat templates with) byte-identical, errors containing jinja2's message;
// plus errors that name origin, line and construct.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "template/template.h"

using nlohmann::ordered_json;

namespace {

ordered_json load(const std::string& name) {
  std::ifstream in(std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/template/" + name);
  EXPECT_TRUE(in) << name;
  return ordered_json::parse(in);
}

std::string render(const std::string& src, const ordered_json& ctx = ordered_json::object()) {
  return erank::Template(src, "t.jinja").render(ctx);
}

std::string error_of(const std::string& src, const ordered_json& ctx = ordered_json::object()) {
  try {
    render(src, ctx);
  } catch (const erank::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TemplateEngine, MatchesJinja2) {
  const auto cases = load("engine_cases.json")["cases"];
  ASSERT_GT(cases.size(), 80u);
  for (const auto& c : cases) {
    const std::string src = c["template"];
    SCOPED_TRACE(src);
    if (c.contains("expected")) {
      std::string got;
      try {
        got = render(src, c["context"]);
      } catch (const erank::Error& e) {
        ADD_FAILURE() << "error: " << e.what();
        continue;
      }
      EXPECT_EQ(got, c["expected"].get<std::string>());
    } else {
      const std::string err = error_of(src, c["context"]);
      EXPECT_NE(err.find(c["expected_error"].get<std::string>()), std::string::npos) << err;
      EXPECT_EQ(err.rfind("t.jinja:", 0), 0u) << err;
    }
  }
}

TEST(TemplateEngine, ErrorsNameOriginAndLine) {
  EXPECT_EQ(
      error_of("a\n{% if x %}\nno end"),
      "t.jinja:3: syntax error: unexpected end of template, expected 'elif' or 'else' or 'endif'");
  EXPECT_EQ(error_of("{{ 1 +  }}"), "t.jinja:1: syntax error: unexpected 'end of print statement'");
  EXPECT_EQ(
      error_of("x\n\n{% include 'other.jinja' %}"),
      "t.jinja:3: unsupported construct: the '{% include %}' tag is not in erank's Jinja subset");
  EXPECT_NE(error_of("{% for x in y recursive %}{% endfor %}")
                .find("t.jinja:1: unsupported construct: recursive"),
            std::string::npos);
  EXPECT_EQ(error_of("{% frobnicate %}"), "t.jinja:1: syntax error: unknown tag 'frobnicate'");
  EXPECT_EQ(error_of("{% for x in l %}{% endif %}"),
            "t.jinja:1: syntax error: unknown tag 'endif' (looking for 'endfor' or 'else')");
  EXPECT_EQ(error_of("\n{{ x | nosuchfilter }}", {{"x", 1}}),
            "t.jinja:2: No filter named 'nosuchfilter'.");
  EXPECT_EQ(error_of("{{ x | batch(2) }}", {{"x", 1}}),
            "t.jinja:1: unsupported construct: the filter 'batch' is not in erank's Jinja subset");
  EXPECT_EQ(error_of("{{ x is nosuchtest }}"), "t.jinja:1: No test named 'nosuchtest'.");
  EXPECT_EQ(error_of("{# open comment"), "t.jinja:1: Missing end of comment tag");
  EXPECT_EQ(error_of("{{ 'abc }}"), "t.jinja:1: unterminated string literal");
  EXPECT_EQ(error_of("{{ (1 }}"), "t.jinja:1: unexpected '}', expected ')'");
  EXPECT_EQ(error_of("{% break %}"), "t.jinja:1: syntax error: 'break' outside of a loop");
  EXPECT_EQ(error_of("{{ '%s' % 1 }}"),
            "t.jinja:1: unsupported construct: printf-style '%' string formatting");
  EXPECT_EQ(error_of("l1\nl2 {{ raise_exception('boom') }}"), "t.jinja:2: boom");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "t.jinja:1: integer division or modulo by zero");
  EXPECT_EQ(error_of("{{ range(200000) | length }}"),
            "t.jinja:1: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  EXPECT_EQ(error_of("{{ [].append(1) }}"),
            "t.jinja:1: access to attribute 'append' of 'list' object is unsafe");
  EXPECT_EQ(error_of("{% set ns = namespace() %}{% set ns._x = 1 %}"),
            "t.jinja:1: chat templates cannot store underscore-prefixed attributes on a namespace "
            "('_x')");
}

TEST(TemplateEngine, DeepNestingAndRecursionAreErrorsNotCrashes) {
  EXPECT_NE(error_of("{{ " + std::string(5000, '(')).find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(2000, '[') + std::string(2000, ']') + " }}")
                .find("t.jinja:1: syntax error: template nested too deeply"),
            std::string::npos);
  std::string ifs;
  for (int i = 0; i < 500; ++i) ifs += "{% if true %}";
  EXPECT_NE(error_of(ifs).find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursion"),
            std::string::npos);
  erank::tmpl::Limits lim;
  lim.max_output = 1000;
  EXPECT_THROW(erank::Template("{{ 'x' * 100000 }}", "t").render(ordered_json::object(), lim),
               erank::Error);
}

TEST(TemplateEngine, KeyOrderFollowsTheInput) {
  const auto ctx = ordered_json::parse(R"({"d": {"z": 1, "a": 2}})");
  EXPECT_EQ(render("{{ d | tojson }}{% for k in d %}{{ k }}{% endfor %}", ctx),
            R"({"z": 1, "a": 2}za)");
  EXPECT_EQ(erank::Template("{{ d | tojson }}", "t")
                .render(nlohmann::json::parse(R"({"d": {"z": 1, "a": 2}})")),
            R"({"a": 2, "z": 1})");  // nlohmann::json sorts its keys
}

}  // namespace
