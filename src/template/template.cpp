#include "template/template.h"

#include "core/error.h"
#include "template/lexer.h"
#include "template/parser.h"

namespace erank {

Template::Template(std::string_view source, std::string origin, TemplateOptions opt)
    : origin_(std::move(origin)),
      strict_undefined_(opt.strict_undefined),
      body_(std::make_unique<tmpl::Body>(
          tmpl::parse(tmpl::lex(source, origin_,
                                {opt.trim_blocks, opt.lstrip_blocks, opt.keep_trailing_newline}),
                      origin_))) {}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;

std::string Template::render(const tmpl::Value& vars, tmpl::Limits limits) const {
  if (!vars.is_dict()) fail("{}: template variables must be a JSON object", origin_);
  limits.strict_undefined = limits.strict_undefined || strict_undefined_;
  tmpl::Interp in(origin_, vars, limits);
  try {
    return in.render(*body_);
  } catch (const tmpl::Fault& f) {  // raised outside any node (should not happen)
    fail("{}: {}", origin_, f.what());
  }
}

std::string Template::render(const nlohmann::ordered_json& vars, tmpl::Limits limits) const {
  return render(tmpl::from_json(vars), limits);
}

std::string Template::render(const nlohmann::json& vars, tmpl::Limits limits) const {
  return render(tmpl::from_json(vars), limits);
}

}  // namespace erank
