// `erank eval --contamination`: membership scores of each evaluated document (Min-K% Prob and
// Min-K%++, metrics/contamination.h): was this test item in the model's pretraining data?
//
// The text of a document is its own zero-shot prompt and gold answer, with no few-shot examples,
// description, system prompt or chat template (whatever the run's options), as lm-eval would
// build a 0-shot request for it:
//   multiple choice:  doc_to_text + target_delimiter + choices[gold]   (the first gold if several)
//   multiple input:   choices[gold] + target_delimiter + doc_to_target (Winogrande: the gold
//   context) generate_until:   doc_to_text + target_delimiter + the target (choices[target] when
//   the target
//                     is an index, its first element when a list); gen_prefix is not added.
// It is tokenised as lm-eval tokenises that (context, continuation) request (encode_pair): the
// sequence x_1..x_n is the context's tokens then the continuation's (with the BOS the tokenizer
// adds, if any); tokens x_2..x_n are scored, each from the logits at the position before it, in
// one pass of the loglikelihood scorer (request context = [x_1], continuation = x_2..x_n). A
// sequence longer than max_length + 1 tokens is cut to its first max_length + 1 (flagged).
// Scores are computed fresh for every document, also for documents a resumed run skips.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tasks/evaluator.h"

namespace erank {

// The (context, continuation) pair a document is scored by, as described above.
std::pair<std::string, std::string> contamination_text(const PreparedTask& task,
                                                       const PreparedDoc& doc);

// Scores every document of `runs` (s.contamination_k, each checked to be in (0, 1]) and fills
// out.tasks[i].contamination (the per-task block written to the results JSON) and, when the
// samples were kept, a "contamination" object on each sample line of the document. out.tasks must
// be in the order of runs.
void add_contamination(const std::vector<PreparedTask>& runs, EvalOutput& out, const Model& model,
                       const Tokenizer& tok, Backend& be, const EvalSettings& s);

// A markdown table: per task and k, the item count and the mean and median of both scores.
// Empty when no task has contamination scores.
std::string contamination_table(const EvalOutput& out);

}  // namespace erank
