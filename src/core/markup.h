// Escaping text for HTML and SVG pages that erank writes (reports, plots, the arena): model
// output and user text go into them, so every one of them escapes through this one function.
#pragma once
#include <string>
#include <string_view>

namespace erank {

// & < > " ' as entities, as Python's html.escape(s, quote=True); safe in element content and in
// quoted attribute values.
std::string xml_escape(std::string_view s);

}  // namespace erank
