// libFuzzer target: arbitrary bytes parsed and rendered as a Jinja template against a fixed chat
// context. Bad templates must end in erank::Error, never a crash, hang, leak or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.h"
#include "template/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "  Hi 你好 \n"},
                 {"role": "assistant", "content": "Hello.", "tool_calls": [
                   {"type": "function", "function": {"name": "f", "arguments": {"x": 1.5}}}]},
                 {"role": "user", "content": [{"type": "text", "text": "part"}]}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": true,
    "n": 3, "x": 2.5, "flag": false, "nothing": null})");
  erank::tmpl::Limits limits;  // bounded work per input: no timeouts from `range` loops
  limits.max_output = size_t{1} << 20;
  limits.max_steps = 200000;
  limits.max_call_depth = 50;
  const std::string_view src(reinterpret_cast<const char*>(data), size);
  try {
    erank::Template t(src, "fuzz");
    (void)t.render(ctx, limits);
  } catch (const erank::Error&) {
  }
  return 0;
}
