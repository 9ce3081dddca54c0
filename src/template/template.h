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

class Template {
 public:
  // Parses `source`; `origin` (a file name or "model M") names the template in every error.
  Template(std::string_view source, std::string origin);
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
  std::unique_ptr<tmpl::Body> body_;
};

}  // namespace erank
