// Tokenizers that give exactly Hugging Face's ids, from a tokenizer.json folder or from a GGUF
// file's tokenizer.ggml.* metadata (rebuilt the way transformers converts a GGUF vocabulary).
//
// Input text that is not valid UTF-8 is first repaired the way Python's
// bytes.decode("utf-8", errors="replace") does it (one U+FFFD per maximal invalid subpart), so
// erank's ids equal `tokenizer(raw_bytes.decode(errors="replace"))["input_ids"]`.
// Thread safety: a Tokenizer is immutable after construction; encode/decode may run concurrently.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace erank {

class GGUFFile;  // io/gguf.h

class Tokenizer {
 public:
  virtual ~Tokenizer();
  // tokenizer.json (+ tokenizer_config.json beside it when present, for add_bos/eos defaults)
  static std::unique_ptr<Tokenizer> from_hf_folder(const std::string& dir);
  static std::unique_ptr<Tokenizer> from_gguf(const GGUFFile& f);  // tokenizer.ggml.* metadata
  // From the text of a tokenizer.json (and optionally of a tokenizer_config.json; empty = none).
  // `origin` names the source in error messages. Throws erank::Error on malformed input.
  static std::unique_ptr<Tokenizer> from_json_text(std::string_view tokenizer_json,
                                                   std::string_view config_json,
                                                   const std::string& origin);

  // Ids exactly as Python `tokenizer(text)["input_ids"]` (add_special_tokens=True by default).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // As the backend `tokenizers` decode (no clean_up_tokenization_spaces). Unknown ids are skipped.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;
  // The vocabulary string of an id (byte-level / metaspace spelling); throws for an unknown id.
  std::string token_string(int32_t id) const;
  // Number of distinct ids: the model's vocabulary plus added tokens outside it.
  int64_t vocab_size() const;
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> token_to_id(std::string_view token) const;
  bool is_special(int32_t id) const;

  struct Impl;  // tokenizer/tokenizer_impl.h
  explicit Tokenizer(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace erank
