// safetensors reader (memory-mapped) and writer. The header is untrusted: every offset, size and
// shape is validated against the file before a tensor view is handed out.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/mapped_file.h"

namespace erank {

struct TensorView {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;  // exactly numel * dtype_size bytes
  int64_t numel() const;
};

// Parses a safetensors image held in memory. `origin` names the file in error messages.
// Throws erank::Error on any inconsistency. Used directly by the fuzz target.
std::map<std::string, TensorView> parse_safetensors(std::span<const uint8_t> bytes,
                                                    const std::string& origin,
                                                    std::map<std::string, std::string>* metadata);

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path, bool populate = false);
  const std::string& path() const { return file_->path(); }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Converts any float dtype view to f32 (f32 copied, f16/bf16 widened exactly).
void to_f32(const TensorView& v, float* out);

struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
TensorToWrite make_f32(std::string name, std::vector<int64_t> shape, std::span<const float> v);
TensorToWrite make_i32(std::string name, std::vector<int64_t> shape, std::span<const int32_t> v);

// Writes atomically (temp file + rename): a crash never leaves a half-written file at `path`.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace erank
