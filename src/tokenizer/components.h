// The stages of a Hugging Face tokenizer pipeline (normalizer, pre-tokenizer, model,
// post-processor, decoder), built from their tokenizer.json objects. Semantics follow the
// `tokenizers` crate; only ids matter here, so offsets are not tracked -- except "does this piece
// start at byte 0 of the input", which Metaspace(prepend_scheme=first) reads.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/vocab.h"

namespace erank::tok {

using json = nlohmann::json;

// One piece of text on its way through the pipeline. `id` >= 0 marks a piece already resolved to
// an added token, which later stages leave alone.
struct Piece {
  std::string text;
  bool at_origin = false;  // starts at byte 0 of the original input
  int32_t id = -1;
};

// A Split/Replace pattern: {"String": s} (literal) or {"Regex": r}.
class Pattern {
 public:
  explicit Pattern(const json& j);
  // Calls f(start, end) for each match.
  void for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& f) const;

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(Piece& p) const = 0;
};
std::unique_ptr<Normalizer> make_normalizer(const json& j);  // null json -> nullptr

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits every piece with id < 0; empty pieces are dropped.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j);

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(std::string_view word, std::vector<int32_t>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual const std::string* id_to_token(int32_t id) const = 0;
  virtual int64_t vocab_size() const = 0;
};
std::unique_ptr<Model> make_model(const json& j);

// A BPE model from tables rather than a tokenizer.json object (the GGUF front end: building and
// re-parsing a JSON vocabulary of 262k tokens and a million merges cost seconds). `options` is the
// model object without "vocab" and "merges"; merges are in rank order, either "a b" texts (viewing
// memory that outlives the call) or ids.
struct BpeMerge {
  int32_t left, right, merged;
};
struct BpeTables {
  Vocab vocab;
  std::vector<std::string_view> merge_texts;
  std::vector<BpeMerge> merge_ids;
};
std::unique_ptr<Model> make_bpe(const json& options, BpeTables tables);

// Maps a sequence of ids to the sequence with special tokens (single sequence only).
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>& ids) const = 0;
};
// `token_id` resolves token strings named by the processor (Roberta/Bert give ids directly).
std::unique_ptr<PostProcessor> make_post_processor(const json& j);

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};
std::unique_ptr<Decoder> make_decoder(const json& j);

// Splits `pieces` at every match of `pat` with HF's SplitDelimiterBehavior.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
SplitBehavior parse_behavior(const std::string& s);
void split_pieces(std::vector<Piece>& pieces, SplitBehavior b, bool invert,
                  const std::function<void(std::string_view,
                                           std::vector<std::pair<size_t, size_t>>&)>& find_matches);

// Required member access with a clear error.
const json& need(const json& j, const char* key, const char* what);

}  // namespace erank::tok
