// GGUF v2/v3 parser. Layout: magic "GGUF", u32 version, u64 tensor_count, u64 kv_count, the
// key/value pairs, the tensor infos, padding to general.alignment, then the data section that
// tensor offsets are relative to. Every read goes through Reader, which checks the remaining
// bytes first; every count is checked against the remaining bytes before anything is reserved.
#include "io/gguf.h"

#include <cstring>
#include <limits>

#include "core/error.h"

namespace erank {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxDims = 4;              // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;        // nested arrays deeper than this are rejected

enum GGUFType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

// Smallest encoding of one value of type t (array element sizes), 0 for an unknown type.
uint64_t min_value_bytes(uint32_t t) {
  switch (t) {
    case U8:
    case I8:
    case BOOL:
      return 1;
    case U16:
    case I16:
      return 2;
    case U32:
    case I32:
    case F32:
      return 4;
    case U64:
    case I64:
    case F64:
    case STRING:  // u64 length
      return 8;
    case ARRAY:  // u32 type + u64 length
      return 12;
    default:
      return 0;
  }
}

// Names from the file may hold anything; keep error messages on one printable line.
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > 80) out += "...";
  return out;
}

class Reader {
 public:
  Reader(std::span<const uint8_t> b, const std::string& origin) : b_(b), origin_(origin) {}
  size_t pos() const { return pos_; }
  uint64_t remaining() const { return b_.size() - pos_; }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining())
      fail("{}: truncated GGUF: {} needs {} bytes at offset {} but only {} remain", origin_, what,
           n, pos_, remaining());
  }
  template <typename T>
  T get(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(std::string_view what) {
    const auto n = get<uint64_t>(what);
    if (n > remaining())
      fail("{}: {} has length {} at offset {}, beyond the end of the file ({} bytes remain)",
           origin_, what, n, pos_ - 8, remaining());
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const uint8_t> b_;
  const std::string& origin_;
  size_t pos_ = 0;
};

GGUFValue read_value(Reader& r, uint32_t type, const std::string& key, const std::string& origin,
                     int depth) {
  GGUFValue v;
  v.gguf_type = type;
  switch (type) {
    case U8:
      v.v = uint64_t{r.get<uint8_t>(key)};
      break;
    case I8:
      v.v = int64_t{r.get<int8_t>(key)};
      break;
    case U16:
      v.v = uint64_t{r.get<uint16_t>(key)};
      break;
    case I16:
      v.v = int64_t{r.get<int16_t>(key)};
      break;
    case U32:
      v.v = uint64_t{r.get<uint32_t>(key)};
      break;
    case I32:
      v.v = int64_t{r.get<int32_t>(key)};
      break;
    case U64:
      v.v = r.get<uint64_t>(key);
      break;
    case I64:
      v.v = r.get<int64_t>(key);
      break;
    case F32:
      v.v = double{r.get<float>(key)};
      break;
    case F64:
      v.v = r.get<double>(key);
      break;
    case BOOL: {
      const auto b = r.get<uint8_t>(key);
      if (b > 1) fail("{}: metadata '{}' is a bool with invalid value {}", origin, key, b);
      v.v = b != 0;
      break;
    }
    case STRING:
      v.v = r.str(fmt::format("string value of '{}'", key));
      break;
    case ARRAY: {
      if (depth >= kMaxArrayDepth)
        fail("{}: metadata '{}' nests arrays deeper than {}", origin, key, kMaxArrayDepth);
      const auto et = r.get<uint32_t>(key);
      const auto n = r.get<uint64_t>(key);
      const uint64_t esz = min_value_bytes(et);
      if (esz == 0) fail("{}: metadata '{}' is an array of unknown type {}", origin, key, et);
      if (n > r.remaining() / esz)
        fail("{}: metadata '{}' array length {} exceeds the remaining {} bytes of the file", origin,
             key, n, r.remaining());
      v.array_type = et;
      GGUFArray a;
      a.reserve(n);
      for (uint64_t i = 0; i < n; ++i) a.push_back(read_value(r, et, key, origin, depth + 1));
      v.v = std::move(a);
      break;
    }
    default:
      fail("{}: metadata '{}' has unknown value type {}", origin, key, type);
  }
  return v;
}

const char* type_label(uint32_t t) {
  static const char* names[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                "int32",  "float32", "bool",   "string", "array",
                                "uint64", "int64",   "float64"};
  return t < 13 ? names[t] : "unknown";
}

}  // namespace

int64_t GGUFTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

GGUFFile::GGUFFile(const std::string& path)
    : file_(std::make_unique<MappedFile>(path)), origin_(path) {
  parse(file_->bytes());
}

GGUFFile::GGUFFile(std::span<const uint8_t> bytes, std::string origin)
    : origin_(std::move(origin)) {
  parse(bytes);
}

void GGUFFile::parse(std::span<const uint8_t> bytes) {
  const std::string& o = origin_;
  Reader r(bytes, o);
  if (bytes.size() < 4 || r.get<uint32_t>("magic") != kMagic)
    fail("{}: not a GGUF file (bad magic; expected \"GGUF\")", o);
  version_ = r.get<uint32_t>("version");
  if (version_ == 1) fail("{}: GGUF version 1 is not supported (only versions 2 and 3)", o);
  if ((version_ & 0xFFFF) == 0 && version_ != 0)
    fail("{}: big-endian GGUF files are not supported", o);
  if (version_ != 2 && version_ != 3)
    fail("{}: unsupported GGUF version {} (only versions 2 and 3)", o, version_);
  const auto n_tensors = r.get<uint64_t>("tensor count");
  const auto n_kv = r.get<uint64_t>("metadata count");
  // A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes, a tensor info 32.
  if (n_kv > r.remaining() / 13)
    fail("{}: metadata count {} is impossible for a file of {} bytes", o, n_kv, bytes.size());
  if (n_tensors > r.remaining() / 32)
    fail("{}: tensor count {} is impossible for a file of {} bytes", o, n_tensors, bytes.size());

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.str(fmt::format("key of metadata entry {}", i));
    const auto type = r.get<uint32_t>(fmt::format("type of metadata '{}'", printable(key)));
    GGUFValue v = read_value(r, type, printable(key), o, 0);
    if (kv_.count(key)) fail("{}: duplicate metadata key '{}'", o, printable(key));
    kv_.emplace(std::move(key), std::move(v));
  }

  if (auto it = kv_.find("general.alignment"); it != kv_.end()) {
    if (it->second.gguf_type != U32)
      fail("{}: general.alignment must be uint32, not {}", o, type_label(it->second.gguf_type));
    const uint64_t a = std::get<uint64_t>(it->second.v);
    if (a == 0 || (a & (a - 1)) != 0) fail("{}: general.alignment {} is not a power of two", o, a);
    alignment_ = a;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GGUFTensorInfo t;
    t.name = r.str(fmt::format("name of tensor {}", i));
    const std::string nm = printable(t.name);
    const std::string what = fmt::format("info of tensor '{}'", nm);
    if (find_tensor(t.name)) fail("{}: duplicate tensor name '{}'", o, nm);
    const auto n_dims = r.get<uint32_t>(what);
    if (n_dims == 0 || n_dims > kMaxDims)
      fail("{}: tensor '{}' has {} dimensions (must be 1 to {})", o, nm, n_dims, kMaxDims);
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto ne = r.get<uint64_t>(what);
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail("{}: tensor '{}' has invalid dimension {} = {} (must be positive)", o, nm, d,
             static_cast<int64_t>(ne));
      if (static_cast<uint64_t>(numel) > static_cast<uint64_t>(INT64_MAX) / ne)
        fail("{}: tensor '{}' element count overflows", o, nm);
      numel *= static_cast<int64_t>(ne);
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    const auto type = r.get<uint32_t>(what);
    if (!ggml_type_known(type))
      fail("{}: tensor '{}' has unknown or unsupported ggml type {}{}", o, nm, type,
           ggml_type_name(static_cast<GGMLType>(type)) == "unknown"
               ? ""
               : fmt::format(" ({})", ggml_type_name(static_cast<GGMLType>(type))));
    t.type = static_cast<GGMLType>(type);
    if (t.ne[0] % ggml_block_size(t.type) != 0)
      fail("{}: tensor '{}' row length {} is not a multiple of the {} block size {}", o, nm,
           t.ne[0], ggml_type_name(t.type), ggml_block_size(t.type));
    t.offset = r.get<uint64_t>(what);
    if (t.offset % alignment_ != 0)
      fail("{}: tensor '{}' data offset {} is not a multiple of the alignment {}", o, nm, t.offset,
           alignment_);
    tensors_.push_back(std::move(t));
    index_.emplace(tensors_.back().name, tensors_.size() - 1);
  }

  // The data section starts at the next multiple of the alignment after the tensor infos.
  const uint64_t data_start = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_start > bytes.size())
    fail("{}: truncated GGUF: data section would start at {} but the file has {} bytes", o,
         data_start, bytes.size());
  const uint64_t data_size = tensors_.empty() ? 0 : bytes.size() - data_start;
  for (auto& t : tensors_) {
    const std::string nm = printable(t.name);
    // Bytes per row = blocks * block bytes; check before multiplying so nothing wraps around.
    const uint64_t blocks = static_cast<uint64_t>(t.ne[0] / ggml_block_size(t.type));
    const uint64_t bsize = ggml_type_size(t.type);
    if (blocks > data_size / bsize)
      fail("{}: tensor '{}' row of {} {} elements is larger than the whole data section ({} bytes)",
           o, nm, t.ne[0], ggml_type_name(t.type), data_size);
    const uint64_t row = blocks * bsize;
    const uint64_t rows = static_cast<uint64_t>(t.numel() / t.ne[0]);
    if (t.offset > data_size || rows > (data_size - t.offset) / row)
      fail(
          "{}: tensor '{}' ({} {} rows of {} bytes at data offset {}) extends past the end of the "
          "file (data section has {} bytes): file truncated or header corrupt",
          o, nm, rows, ggml_type_name(t.type), row, t.offset, data_size);
    t.data = bytes.subspan(data_start + t.offset, rows * row);
  }
}

const GGUFTensorInfo* GGUFFile::find_tensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

bool GGUFFile::has(std::string_view key) const {
  return kv_.find(std::string(key)) != kv_.end();
}

namespace {

const GGUFValue& lookup(const std::map<std::string, GGUFValue>& kv, std::string_view key,
                        const std::string& o) {
  auto it = kv.find(std::string(key));
  if (it == kv.end()) fail("{}: metadata key '{}' is missing", o, key);
  return it->second;
}

[[noreturn]] void wrong_type(const std::string& o, std::string_view key, const GGUFValue& v,
                             std::string_view want) {
  fail("{}: metadata '{}' has type {}, expected {}", o, key, type_label(v.gguf_type), want);
}

bool as_int(const GGUFValue& v, int64_t* out) {
  if (auto* u = std::get_if<uint64_t>(&v.v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(*u);
    return true;
  }
  if (auto* i = std::get_if<int64_t>(&v.v)) {
    *out = *i;
    return true;
  }
  return false;
}

bool as_float(const GGUFValue& v, double* out) {
  if (auto* d = std::get_if<double>(&v.v)) {
    *out = *d;
    return true;
  }
  if (auto* u = std::get_if<uint64_t>(&v.v)) {
    *out = static_cast<double>(*u);
    return true;
  }
  if (auto* i = std::get_if<int64_t>(&v.v)) {
    *out = static_cast<double>(*i);
    return true;
  }
  return false;
}

const GGUFArray& as_array(const GGUFValue& v, const std::string& o, std::string_view key) {
  auto* a = std::get_if<GGUFArray>(&v.v);
  if (!a) wrong_type(o, key, v, "array");
  return *a;
}

}  // namespace

std::string GGUFFile::get_string(std::string_view key) const {
  const GGUFValue& v = lookup(kv_, key, origin_);
  auto* s = std::get_if<std::string>(&v.v);
  if (!s) wrong_type(origin_, key, v, "string");
  return *s;
}

int64_t GGUFFile::get_int(std::string_view key) const {
  const GGUFValue& v = lookup(kv_, key, origin_);
  int64_t out;
  if (std::holds_alternative<uint64_t>(v.v) && !as_int(v, &out))
    fail("{}: metadata '{}' value {} does not fit in int64", origin_, key, std::get<uint64_t>(v.v));
  if (!as_int(v, &out)) wrong_type(origin_, key, v, "an integer");
  return out;
}

int64_t GGUFFile::get_int_or(std::string_view key, int64_t def) const {
  return has(key) ? get_int(key) : def;
}

double GGUFFile::get_float(std::string_view key) const {
  const GGUFValue& v = lookup(kv_, key, origin_);
  double out;
  if (!as_float(v, &out)) wrong_type(origin_, key, v, "a number");
  return out;
}

double GGUFFile::get_float_or(std::string_view key, double def) const {
  return has(key) ? get_float(key) : def;
}

bool GGUFFile::get_bool_or(std::string_view key, bool def) const {
  if (!has(key)) return def;
  const GGUFValue& v = lookup(kv_, key, origin_);
  auto* b = std::get_if<bool>(&v.v);
  if (!b) wrong_type(origin_, key, v, "bool");
  return *b;
}

std::vector<std::string> GGUFFile::get_string_array(std::string_view key) const {
  const std::vector<std::string_view> views = get_string_array_views(key);
  return {views.begin(), views.end()};
}

std::vector<std::string_view> GGUFFile::get_string_array_views(std::string_view key) const {
  const GGUFValue& v = lookup(kv_, key, origin_);
  const GGUFArray& a = as_array(v, origin_, key);
  std::vector<std::string_view> out;
  out.reserve(a.size());
  for (const auto& e : a) {
    auto* s = std::get_if<std::string>(&e.v);
    if (!s) fail("{}: metadata '{}' is not an array of strings", origin_, key);
    out.push_back(*s);
  }
  return out;
}

std::vector<double> GGUFFile::get_float_array(std::string_view key) const {
  const GGUFValue& v = lookup(kv_, key, origin_);
  const GGUFArray& a = as_array(v, origin_, key);
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (!as_float(a[i], &out[i]))
      fail("{}: metadata '{}' is not an array of numbers", origin_, key);
  return out;
}

std::vector<int64_t> GGUFFile::get_int_array(std::string_view key) const {
  const GGUFValue& v = lookup(kv_, key, origin_);
  const GGUFArray& a = as_array(v, origin_, key);
  std::vector<int64_t> out(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (!as_int(a[i], &out[i]))
      fail("{}: metadata '{}' is not an array of int64-representable integers", origin_, key);
  return out;
}

std::vector<float> GGUFFile::dequantize(const GGUFTensorInfo& t) const {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  try {
    erank::dequantize(t.type, t.data.data(), out.data(), t.numel());
  } catch (const Error& e) {
    fail("{}: tensor '{}': {}", origin_, printable(t.name), e.what());
  }
  return out;
}

}  // namespace erank
