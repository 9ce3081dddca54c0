// Readers behind data/docs.h, one per format family; each returns the table of one file image
// (`origin` names it in errors) and leaves the "no rows" check to the caller.
#pragma once
#include <string>
#include <string_view>

#include "data/docs.h"

namespace erank::docs_detail {

// JSONL (one object per line); with allow_array also a whole-file JSON array of objects.
DocTable parse_json_docs(std::string_view bytes, bool allow_array, const std::string& origin);
// CSV with a header row, typed as pandas' read_csv defaults type it.
DocTable parse_csv_docs(std::string_view bytes, const std::string& origin);

// docs_arrow.cpp: without ERANK_HAVE_ARROW these throw, saying how to enable Arrow.
DocTable read_parquet_file(const std::string& path);
DocTable read_arrow_file(const std::string& path);  // IPC stream or file format
DocTable parse_parquet_bytes(std::string_view bytes, const std::string& origin);
DocTable parse_arrow_bytes(std::string_view bytes, const std::string& origin);

}  // namespace erank::docs_detail
