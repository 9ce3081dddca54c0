// The features a probe reads: HF hidden_states[l] at each sequence's last token, collected by a
// tap sink. Many sequences share a forward; of each layer's [rows, d] output only the last row of
// every sequence is copied, so memory is n x d per layer, never all tokens of all layers.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace erank {

class Model;
class Backend;

struct Features {  // [n, d] row-major f32 (as the cpu backend computes them)
  int64_t n = 0, d = 0;
  std::vector<float> v;
};

// layers: HF hidden_states indices (0 = embeddings, n_layers = after the final norm). Sequences
// are packed in order up to `batch_tokens` tokens per forward (a longer one runs alone).
// progress(done, total) is called after each forward.
std::map<int, Features> last_token_states(
    const Model& model, Backend& be, const std::vector<std::vector<int32_t>>& seqs,
    const std::vector<int>& layers, int64_t batch_tokens,
    const std::function<void(int64_t, int64_t)>& progress = {});

// "all" (1..n_layers: every block's output, hidden_states[1:]), "last", or a comma-separated
// list of HF indices (negative from the end; 0 = embeddings) -> sorted, distinct; a layer
// outside 0..n_layers is an error naming the range.
std::vector<int> parse_probe_layers(const std::string& spec, int n_layers);

}  // namespace erank
