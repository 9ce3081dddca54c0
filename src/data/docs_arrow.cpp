// Parquet and Arrow IPC documents through Apache Arrow's C++ library (the pyarrow wheel's
// libarrow/libparquet, see CMakeLists.txt ERANK_ARROW). Untrusted input: every table is
// ValidateFull()-ed before a value is read, and every Arrow/Parquet failure (Status or exception)
// becomes one erank::Error line naming the file.
#include "core/error.h"
#include "data/docs_internal.h"
#include "data/readers.h"

#ifdef ERANK_HAVE_ARROW
#include <arrow/api.h>
#include <arrow/io/api.h>
#include <arrow/ipc/api.h>
#include <arrow/util/float16.h>
#include <parquet/arrow/reader.h>
#include <parquet/exception.h>

#include <cctype>
#include <cstring>

namespace erank {

bool arrow_available() {
  return true;
}

namespace docs_detail {
namespace {

using Json = nlohmann::ordered_json;

// Arrow's messages may span lines (thrift details, context): ours are one line.
[[noreturn]] void fail_with(const std::string& origin, std::string msg) {
  while (!msg.empty() && std::isspace(static_cast<unsigned char>(msg.back()))) msg.pop_back();
  for (char& c : msg)
    if (c == '\n' || c == '\r') c = ' ';
  fail("{}: {}", origin, msg);
}

template <typename T>
T check(arrow::Result<T> r, const std::string& origin) {
  if (!r.ok()) fail_with(origin, r.status().ToString());
  return std::move(r).ValueUnsafe();
}

void check(const arrow::Status& s, const std::string& origin) {
  if (!s.ok()) fail_with(origin, s.ToString());
}

// Context for "no JSON form" errors: the file and the top-level column.
struct Where {
  const std::string& origin;
  const std::string& column;
};

// ValidateFull checks the UTF-8 of string columns but not of every path (field names,
// dictionaries): JSON needs it everywhere.
std::string text(std::string_view s, const Where& w) {
  if (!valid_utf8(s))
    fail("{}: column '{}' holds text that is not valid UTF-8", w.origin, w.column);
  return std::string(s);
}

template <typename ListLike>
Json list_value(const ListLike& a, int64_t i, const Where& w);
Json value_at(const arrow::Array& a, int64_t i, const Where& w);

// Struct fields in schema order; a field's child array is already offset to the struct's rows.
Json struct_value(const arrow::StructArray& a, int64_t i, const Where& w) {
  Json o = Json::object();
  const auto& type = *a.struct_type();
  for (int k = 0; k < type.num_fields(); ++k)
    o[text(type.field(k)->name(), w)] = value_at(*a.field(k), i, w);
  return o;
}

template <typename ListLike>
Json list_value(const ListLike& a, int64_t i, const Where& w) {
  Json arr = Json::array();
  const arrow::Array& values = *a.values();
  const int64_t start = a.value_offset(i), n = a.value_length(i);
  for (int64_t k = 0; k < n; ++k) arr.push_back(value_at(values, start + k, w));
  return arr;
}

Json value_at(const arrow::Array& a, int64_t i, const Where& w) {
  using arrow::Type;
  if (a.IsNull(i)) return nullptr;
  switch (a.type_id()) {
    case Type::NA:
      return nullptr;
    case Type::BOOL:
      return static_cast<const arrow::BooleanArray&>(a).Value(i);
    case Type::INT8:
      return static_cast<const arrow::Int8Array&>(a).Value(i);
    case Type::INT16:
      return static_cast<const arrow::Int16Array&>(a).Value(i);
    case Type::INT32:
      return static_cast<const arrow::Int32Array&>(a).Value(i);
    case Type::INT64:
      return static_cast<const arrow::Int64Array&>(a).Value(i);
    case Type::UINT8:
      return static_cast<const arrow::UInt8Array&>(a).Value(i);
    case Type::UINT16:
      return static_cast<const arrow::UInt16Array&>(a).Value(i);
    case Type::UINT32:
      return static_cast<const arrow::UInt32Array&>(a).Value(i);
    case Type::UINT64:
      return static_cast<const arrow::UInt64Array&>(a).Value(i);
    case Type::HALF_FLOAT: {
      const uint16_t bits = static_cast<const arrow::HalfFloatArray&>(a).Value(i);
      return static_cast<double>(arrow::util::Float16::FromBits(bits).ToFloat());
    }
    case Type::FLOAT:  // Python widens float32 to a double holding the same value
      return static_cast<double>(static_cast<const arrow::FloatArray&>(a).Value(i));
    case Type::DOUBLE:
      return static_cast<const arrow::DoubleArray&>(a).Value(i);
    case Type::STRING:
      return text(static_cast<const arrow::StringArray&>(a).GetView(i), w);
    case Type::LARGE_STRING:
      return text(static_cast<const arrow::LargeStringArray&>(a).GetView(i), w);
    case Type::STRING_VIEW:
      return text(static_cast<const arrow::StringViewArray&>(a).GetView(i), w);
    case Type::LIST:
      return list_value(static_cast<const arrow::ListArray&>(a), i, w);
    case Type::LARGE_LIST:
      return list_value(static_cast<const arrow::LargeListArray&>(a), i, w);
    case Type::FIXED_SIZE_LIST:
      return list_value(static_cast<const arrow::FixedSizeListArray&>(a), i, w);
    case Type::LIST_VIEW: {
      const auto& l = static_cast<const arrow::ListViewArray&>(a);
      Json arr = Json::array();
      for (int64_t k = 0; k < l.value_length(i); ++k)
        arr.push_back(value_at(*l.values(), l.value_offset(i) + k, w));
      return arr;
    }
    case Type::LARGE_LIST_VIEW: {
      const auto& l = static_cast<const arrow::LargeListViewArray&>(a);
      Json arr = Json::array();
      for (int64_t k = 0; k < l.value_length(i); ++k)
        arr.push_back(value_at(*l.values(), l.value_offset(i) + k, w));
      return arr;
    }
    case Type::STRUCT:
      return struct_value(static_cast<const arrow::StructArray&>(a), i, w);
    case Type::DICTIONARY: {
      const auto& d = static_cast<const arrow::DictionaryArray&>(a);
      return value_at(*d.dictionary(), d.GetValueIndex(i), w);
    }
    case Type::EXTENSION:
      return value_at(*static_cast<const arrow::ExtensionArray&>(a).storage(), i, w);
    default:
      fail("{}: column '{}' has Arrow type {}, which has no JSON form", w.origin, w.column,
           a.type()->ToString());
  }
}

DocTable table_to_docs(const arrow::Table& table, const std::string& origin) {
  check(table.ValidateFull(), origin + ": invalid table");
  DocTable t;
  t.origin = origin;
  const int64_t n = table.num_rows();
  t.rows.assign(static_cast<size_t>(n), Json::object());
  for (int c = 0; c < table.num_columns(); ++c) {
    const std::string& name = table.schema()->field(c)->name();
    if (!valid_utf8(name)) fail("{}: a column name is not valid UTF-8", origin);
    for (const std::string& f : t.features)
      if (f == name) fail("{}: column '{}' appears twice", origin, name);
    t.features.push_back(name);
    const Where w{origin, name};
    int64_t row = 0;
    for (const auto& chunk : table.column(c)->chunks())
      for (int64_t i = 0; i < chunk->length(); ++i)
        t.rows[static_cast<size_t>(row++)][name] = value_at(*chunk, i, w);
  }
  return t;
}

DocTable parquet_docs(std::shared_ptr<arrow::io::RandomAccessFile> in, const std::string& origin) {
  const std::string what = origin + ": not a readable Parquet file";
  std::shared_ptr<arrow::Table> table;
  try {
    auto reader = check(parquet::arrow::OpenFile(in, arrow::default_memory_pool()), what);
    table = check(reader->ReadTable(), what);
  } catch (const parquet::ParquetException& e) {
    fail_with(what, e.what());
  }
  return table_to_docs(*table, origin);
}

// IPC file format starts with "ARROW1\0\0"; datasets' save_to_disk writes the stream format.
DocTable ipc_docs(std::shared_ptr<arrow::io::RandomAccessFile> in, bool file_format,
                  const std::string& origin) {
  const std::string what = origin + ": not a readable Arrow IPC file";
  std::shared_ptr<arrow::Schema> schema;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  if (file_format) {
    auto r = check(arrow::ipc::RecordBatchFileReader::Open(in), what);
    schema = r->schema();
    for (int k = 0; k < r->num_record_batches(); ++k)
      batches.push_back(check(r->ReadRecordBatch(k), what));
  } else {
    auto r = check(arrow::ipc::RecordBatchStreamReader::Open(in), what);
    schema = r->schema();
    while (true) {
      std::shared_ptr<arrow::RecordBatch> b;
      check(r->ReadNext(&b), what);
      if (!b) break;
      batches.push_back(std::move(b));
    }
  }
  for (const auto& b : batches) check(b->ValidateFull(), what);
  return table_to_docs(*check(arrow::Table::FromRecordBatches(schema, batches), what), origin);
}

bool has_file_magic(std::string_view head) {
  return head.size() >= 6 && std::memcmp(head.data(), "ARROW1", 6) == 0;
}

std::shared_ptr<arrow::io::RandomAccessFile> buffer_reader(std::string_view bytes) {
  // Wraps without copying: the caller's bytes outlive the read.
  auto buf = std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                             static_cast<int64_t>(bytes.size()));
  return std::make_shared<arrow::io::BufferReader>(buf);
}

// Any other exception out of Arrow (bad_alloc on a size read from a corrupt file, ...) is an
// input error too.
template <typename F>
DocTable guarded(const std::string& origin, F&& f) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail_with(origin, e.what());
  }
}

}  // namespace

DocTable read_parquet_file(const std::string& path) {
  return guarded(
      path, [&] { return parquet_docs(check(arrow::io::ReadableFile::Open(path), path), path); });
}

DocTable read_arrow_file(const std::string& path) {
  return guarded(path, [&] {
    auto in = check(arrow::io::MemoryMappedFile::Open(path, arrow::io::FileMode::READ), path);
    auto head = check(in->ReadAt(0, 6), path);
    const std::string_view h(reinterpret_cast<const char*>(head->data()), head->size());
    return ipc_docs(in, has_file_magic(h), path);
  });
}

DocTable parse_parquet_bytes(std::string_view bytes, const std::string& origin) {
  return guarded(origin, [&] { return parquet_docs(buffer_reader(bytes), origin); });
}

DocTable parse_arrow_bytes(std::string_view bytes, const std::string& origin) {
  return guarded(origin,
                 [&] { return ipc_docs(buffer_reader(bytes), has_file_magic(bytes), origin); });
}

}  // namespace docs_detail
}  // namespace erank

#else  // no Arrow in this build: Parquet/Arrow paths fail with how to get it

namespace erank {

bool arrow_available() {
  return false;
}

namespace docs_detail {
namespace {

[[noreturn]] void no_arrow(const std::string& origin, const char* what) {
  fail(
      "{}: reading {} needs Apache Arrow, and this erank was built without it (run "
      "scripts/install.sh, which installs the pyarrow wheel, then configure with -DERANK_ARROW=ON)",
      origin, what);
}

}  // namespace

DocTable read_parquet_file(const std::string& path) {
  no_arrow(path, "Parquet");
}
DocTable read_arrow_file(const std::string& path) {
  no_arrow(path, "Arrow");
}
DocTable parse_parquet_bytes(std::string_view, const std::string& origin) {
  no_arrow(origin, "Parquet");
}
DocTable parse_arrow_bytes(std::string_view, const std::string& origin) {
  no_arrow(origin, "Arrow");
}

}  // namespace docs_detail
}  // namespace erank

#endif
