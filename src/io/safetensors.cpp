#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/atomic_file.h"

namespace erank {

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

namespace {

DType parse_dtype(const std::string& s, const std::string& origin, const std::string& name) {
  static const std::pair<const char*, DType> table[] = {
      {"F32", DType::f32},     {"F16", DType::f16}, {"BF16", DType::bf16}, {"F64", DType::f64},
      {"I32", DType::i32},     {"I64", DType::i64}, {"U8", DType::u8},     {"I8", DType::i8},
      {"I16", DType::i16},     {"U16", DType::u16}, {"U32", DType::u32},   {"U64", DType::u64},
      {"BOOL", DType::boolean}};
  for (auto& [k, v] : table)
    if (s == k) return v;
  fail("{}: tensor '{}' has unsupported dtype '{}'", origin, name, s);
}

}  // namespace

std::map<std::string, TensorView> parse_safetensors(std::span<const uint8_t> bytes,
                                                    const std::string& origin,
                                                    std::map<std::string, std::string>* metadata) {
  if (bytes.size() < 8)
    fail("{}: truncated safetensors file ({} bytes, need at least 8)", origin, bytes.size());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > bytes.size() - 8)
    fail("{}: safetensors header length {} exceeds file size {}", origin, header_len, bytes.size());
  const auto* hp = reinterpret_cast<const char*>(bytes.data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hp, hp + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: safetensors header is not valid JSON: {}", origin, e.what());
  }
  if (!header.is_object()) fail("{}: safetensors header is not a JSON object", origin);
  const size_t data_start = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_start;
  std::map<std::string, TensorView> out;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (metadata && info.is_object())
        for (auto& [k, v] : info.items())
          if (v.is_string()) (*metadata)[k] = v.get<std::string>();
      continue;
    }
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") ||
        !info.contains("data_offsets") || !info["dtype"].is_string() || !info["shape"].is_array() ||
        !info["data_offsets"].is_array() || info["data_offsets"].size() != 2)
      fail("{}: tensor '{}' has a malformed header entry", origin, name);
    TensorView v;
    v.name = name;
    v.dtype = parse_dtype(info["dtype"].get<std::string>(), origin, name);
    uint64_t numel = 1;
    for (auto& s : info["shape"]) {
      if (!s.is_number_unsigned())
        fail("{}: tensor '{}' has a non-integer or negative dimension", origin, name);
      const uint64_t d = s.get<uint64_t>();
      if (d > 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / d)
        fail("{}: tensor '{}' shape overflows", origin, name);
      numel *= d;
      v.shape.push_back(static_cast<int64_t>(d));
    }
    const auto& offs = info["data_offsets"];
    if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
      fail("{}: tensor '{}' has invalid data_offsets", origin, name);
    const uint64_t b = offs[0].get<uint64_t>(), e = offs[1].get<uint64_t>();
    if (b > e || e > data_size)
      fail(
          "{}: tensor '{}' data_offsets [{}, {}) lie outside the data section ({} bytes): file "
          "truncated or header corrupt",
          origin, name, b, e, data_size);
    const uint64_t want = numel * dtype_size(v.dtype);
    if (e - b != want)
      fail("{}: tensor '{}' occupies {} bytes but shape and dtype {} need {}", origin, name, e - b,
           dtype_name(v.dtype), want);
    v.data = bytes.subspan(data_start + b, e - b);
    out.emplace(name, std::move(v));
  }
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path, bool populate)
    : file_(std::make_unique<MappedFile>(path, populate)) {
  tensors_ = parse_safetensors(file_->bytes(), path, &metadata_);
}

void to_f32(const TensorView& v, float* out) {
  const int64_t n = v.numel();
  const uint8_t* p = v.data.data();
  switch (v.dtype) {
    case DType::f32:
      std::memcpy(out, p, static_cast<size_t>(n) * 4);
      return;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      return;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      return;
    case DType::f64:
      for (int64_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return;
    default:
      fail("tensor '{}': dtype {} is not a floating type", v.name, dtype_name(v.dtype));
  }
}

TensorToWrite make_f32(std::string name, std::vector<int64_t> shape, std::span<const float> v) {
  TensorToWrite t{std::move(name), DType::f32, std::move(shape), {}};
  t.bytes.resize(v.size() * 4);
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

TensorToWrite make_i32(std::string name, std::vector<int64_t> shape, std::span<const int32_t> v) {
  TensorToWrite t{std::move(name), DType::i32, std::move(shape), {}};
  t.bytes.resize(v.size() * 4);
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // keep the data section 8-aligned
  AtomicFile f(path);
  uint64_t hl = h.size();
  f.write(std::string_view(reinterpret_cast<const char*>(&hl), 8));
  f.write(h);
  for (const auto& t : tensors)
    f.write(std::string_view(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size()));
  f.commit();
}

}  // namespace erank
