// A compiled Jinja template (the subset chat templates and task prompts use), rendered as
// jinja2's ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with transformers'
// globals and tojson. Errors are erank::Error "<origin>:<line>: <message>".
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "template/interpreter.h"

namespace erank {

// The jinja2 Environment settings that differ between users: chat templates (transformers:
// trim_blocks, lstrip_blocks) and task prompts (lm-eval: neither, keep_trailing_newline,
// StrictUndefined).
struct TemplateOptions {
  bool trim_blocks = true, lstrip_blocks = true, keep_trailing_newline = false;
  bool strict_undefined = false;
  static TemplateOptions lm_eval() { return {false, false, true, true}; }
};

class Template {
 public:
  // Parses `source`; `origin` (a file name or "model M") names the template in every error.
  Template(std::string_view source, std::string origin, TemplateOptions opt = {});
  ~Template();
  Template(Template&&) noexcept;

  // Renders with the variables of a JSON object (an ordered_json keeps the key order of its
  // input, which `tojson` and dict iteration show; nlohmann::json sorts keys).
  std::string render(const nlohmann::ordered_json& vars, tmpl::Limits limits = {}) const;
  std::string render(const nlohmann::json& vars, tmpl::Limits limits = {}) const;
  std::string render(const tmpl::Value& vars, tmpl::Limits limits = {}) const;

  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  bool strict_undefined_ = false;
  std::unique_ptr<tmpl::Body> body_;
};

}  // namespace erank
