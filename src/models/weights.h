// The loaded tensors of a model, keyed by the table's HF name: f32, or matrices kept in their
// file's type (bf16/f16/GGUF blocks) and expanded by the backend as it reads them.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "io/quant.h"
#include "models/tensor_table.h"

namespace erank {

// The codec that expands a GGUF/bf16/f16 weight kept in its file's type (one per type, static).
const WeightCodec& weight_codec(GGMLType t);
// Whether loaders keep matrices in their file's type (the default) or expand every tensor to f32
// at load, as erank did before (ERANK_WEIGHTS=f32: for comparisons, and a fallback).
bool keep_stored_weights();

class Weights {
 public:
  const Weight& get(const std::string& name) const;  // throws erank::Error naming the tensor
  const Weight* find(const std::string& name) const;
  void set(const std::string& name, Weight w) { map_[name] = std::move(w); }
  // `name` shares `target`'s storage (tied embeddings): no copy, saved once.
  void alias(const std::string& name, const std::string& target) { aliases_[name] = target; }
  bool is_alias(const std::string& name) const { return aliases_.count(name) > 0; }
  // Visits every stored tensor once (aliases excluded) (loading checks, memory accounting, saving).
  void for_each(const std::function<void(const std::string&, const Weight&)>& f) const {
    for (auto& [k, v] : map_) f(k, v);
  }
  size_t count() const { return map_.size(); }

 private:
  std::map<std::string, Weight> map_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace erank
