// GGUF v2/v3 reader (memory-mapped). Everything in the file is untrusted: counts, string and
// array lengths, tensor shapes, types and offsets are validated against the file size first.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "io/mapped_file.h"
#include "io/quant.h"

namespace erank {

struct GGUFValue;
using GGUFArray = std::vector<GGUFValue>;
// Integers keep their signedness (uint8..uint64 -> uint64_t, int8..int64 -> int64_t),
// float32/float64 -> double.
struct GGUFValue {
  std::variant<uint64_t, int64_t, double, bool, std::string, GGUFArray> v;
  uint32_t gguf_type = 0;   // the on-disk type code (GGUF_TYPE_*), for `erank info`
  uint32_t array_type = 0;  // for arrays: the element type code (known even when empty)
};

struct GGUFTensorInfo {
  std::string name;
  GGMLType type = GGMLType::F32;
  std::vector<int64_t> ne;        // ggml order: ne[0] is the fastest-varying (row length)
  uint64_t offset = 0;            // relative to the data section
  std::span<const uint8_t> data;  // validated: exactly ggml_nbytes(type, ne) bytes
  int64_t numel() const;
};

class GGUFFile {
 public:
  explicit GGUFFile(const std::string& path);  // mmap + parse; throws erank::Error
  // Parses an in-memory image (no copy; `bytes` must outlive the object). For tests and fuzzing.
  GGUFFile(std::span<const uint8_t> bytes, std::string origin);

  const std::string& path() const { return origin_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  const std::map<std::string, GGUFValue>& metadata() const { return kv_; }
  const std::vector<GGUFTensorInfo>& tensors() const { return tensors_; }
  const GGUFTensorInfo* find_tensor(std::string_view name) const;

  // Typed metadata access. The *_or variants return `def` when the key is absent; the others
  // throw erank::Error naming the file and key when absent or of the wrong type.
  bool has(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;  // any integer type, range-checked
  int64_t get_int_or(std::string_view key, int64_t def) const;
  double get_float(std::string_view key) const;  // float or integer types
  double get_float_or(std::string_view key, double def) const;
  bool get_bool_or(std::string_view key, bool def) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  // As get_string_array without copying: views valid as long as this GGUFFile lives.
  std::vector<std::string_view> get_string_array_views(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;

  // Dequantises a whole tensor to f32 (numel floats, ggml order).
  std::vector<float> dequantize(const GGUFTensorInfo& t) const;

 private:
  void parse(std::span<const uint8_t> bytes);
  std::unique_ptr<MappedFile> file_;
  std::string origin_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  std::map<std::string, GGUFValue> kv_;
  std::vector<GGUFTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // tensor name -> position in tensors_
};

}  // namespace erank
