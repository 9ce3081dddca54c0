// erank's built-in document processors: what lm-eval's task folders do in Python (utils.py
// process_docs), for the tasks whose prompts need more than a Jinja template. A task file names
// one with `process_docs: NAME`; each keeps the document's fields and adds lm-eval's.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace erank {

// Applies processor `name` to the documents of one split, in order. Throws erank::Error for an
// unknown name (listing the known ones) or a document missing a field the processor reads.
void process_docs(const std::string& name, std::vector<nlohmann::ordered_json>& docs,
                  const std::string& task);

// Names of the processors, for error messages and the README.
std::vector<std::string> process_docs_names();

// HellaSwag's text clean-up (lm-eval tasks/hellaswag/utils.py preprocess).
std::string hellaswag_preprocess(const std::string& text);

}  // namespace erank
