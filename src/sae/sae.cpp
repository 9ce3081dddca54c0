#include "sae/sae.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "sae/gemm.h"

namespace erank::sae {
namespace fs = std::filesystem;

std::string arch_name(Arch a) {
  return a == Arch::topk ? "topk" : "standard";
}

std::string Config::hook_name() const {
  if (tap == "resid") return fmt::format("blocks.{}.hook_resid_pre", layer);
  if (tap == "mlp") return fmt::format("blocks.{}.hook_mlp_out", layer);
  return fmt::format("blocks.{}.hook_attn_out", layer);
}

void Sae::encode(const float* x, int64_t n, std::vector<float>& z) const {
  const int64_t D = d(), N = W();
  const float s = float(cfg.input_scale);
  std::vector<float> u(static_cast<size_t>(n * D));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < D; ++j) u[size_t(t * D + j)] = s * x[t * D + j] - p.b_dec[size_t(j)];
  z.resize(size_t(n * N));
  for (int64_t t = 0; t < n; ++t) std::copy(p.b_enc.begin(), p.b_enc.end(), z.begin() + t * N);
  gemm(false, true, n, N, D, 1.0f, u.data(), D, p.enc.data(), D, 1.0f, z.data(), N);
  const int64_t k = std::min<int64_t>(cfg.k, N);
#pragma omp parallel
  {
    std::vector<int32_t> idx;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < n; ++t) {
      float* zt = &z[size_t(t * N)];
      if (cfg.arch == Arch::topk && k < N) {
        idx.resize(size_t(N));
        std::iota(idx.begin(), idx.end(), 0);
        std::nth_element(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
          return zt[a] > zt[b] || (zt[a] == zt[b] && a < b);
        });
        for (int64_t q = k; q < N; ++q) zt[idx[size_t(q)]] = 0;
      }
      for (int64_t i = 0; i < N; ++i) zt[i] = std::max(zt[i], 0.0f);
    }
  }
}

void Sae::decode(const float* z, int64_t n, std::vector<float>& xhat) const {
  const int64_t D = d(), N = W();
  xhat.resize(size_t(n * D));
  const float inv = float(1 / cfg.input_scale);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < n; ++t) {
    float* o = &xhat[size_t(t * D)];
    std::copy(p.b_dec.begin(), p.b_dec.end(), o);
    for (int64_t i = 0; i < N; ++i) {
      const float zi = z[t * N + i];
      if (zi == 0) continue;
      const float* w = &p.dec[size_t(i * D)];
      for (int64_t j = 0; j < D; ++j) o[j] += zi * w[j];
    }
    for (int64_t j = 0; j < D; ++j) o[j] *= inv;
  }
}

void Sae::reconstruct(const float* x, int64_t n, std::vector<float>& xhat) const {
  std::vector<float> z;
  encode(x, n, z);
  decode(z.data(), n, xhat);
}

Sae init_sae(const Config& cfg, const std::vector<float>& b_dec, uint64_t seed) {
  ERANK_CHECK(cfg.d_in > 0 && cfg.d_sae > 0 && int64_t(b_dec.size()) == cfg.d_in,
              "SAE of {} x {} with b_dec of {}", cfg.d_in, cfg.d_sae, b_dec.size());
  Sae s;
  s.cfg = cfg;
  const int64_t D = cfg.d_in, N = cfg.d_sae;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  s.p.dec.resize(size_t(N * D));
  for (int64_t i = 0; i < N; ++i) {
    double nn = 0;
    float* w = &s.p.dec[size_t(i * D)];
    for (int64_t j = 0; j < D; ++j) {
      w[j] = nd(rng);
      nn += double(w[j]) * w[j];
    }
    for (int64_t j = 0; j < D; ++j) w[j] = float(w[j] / std::sqrt(nn));
  }
  s.p.enc = s.p.dec;
  s.p.b_enc.assign(size_t(N), 0.f);
  s.p.b_dec = b_dec;
  return s;
}

namespace {

nlohmann::ordered_json cfg_json(const Config& c) {
  nlohmann::ordered_json j;
  j["architecture"] = arch_name(c.arch);
  j["d_in"] = c.d_in;
  j["d_sae"] = c.d_sae;
  j["dtype"] = "float32";
  j["device"] = "cpu";
  j["model_name"] = c.model;
  j["hook_name"] = c.hook_name();
  j["hook_layer"] = c.layer;
  j["hook_head_index"] = nullptr;
  j["activation_fn_str"] = c.arch == Arch::topk ? "topk" : "relu";
  j["activation_fn_kwargs"] =
      c.arch == Arch::topk ? nlohmann::ordered_json{{"k", c.k}} : nlohmann::ordered_json::object();
  if (c.arch == Arch::topk) j["k"] = c.k;
  j["apply_b_dec_to_input"] = true;
  j["finetuning_scaling_factor"] = false;
  j["normalize_activations"] = "expected_average_only_in";
  j["context_size"] = c.context_size;
  j["prepend_bos"] = false;
  j["dataset_path"] = c.dataset;
  j["training_tokens"] = c.training_tokens;
  if (c.arch == Arch::relu_l1) j["l1_coefficient"] = c.l1_coefficient;
  // erank's: which tap, and the scale s of encode z = f((s·x - b_dec) W_enc + b_enc),
  // decode x̂ = (z W_dec + b_dec) / s.
  j["layer"] = c.layer;
  j["tap"] = c.tap;
  j["input_scale"] = c.input_scale;
  return j;
}

Config parse_cfg(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("{}: cannot open (an SAE folder holds cfg.json and sae_weights.safetensors)", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  Config c;
  try {
    const std::string a = j.at("architecture").get<std::string>();
    if (a == "topk")
      c.arch = Arch::topk;
    else if (a == "standard" || a == "relu")
      c.arch = Arch::relu_l1;
    else
      fail("{}: architecture '{}' is not supported (topk, standard)", path, a);
    c.d_in = j.at("d_in").get<int64_t>();
    c.d_sae = j.at("d_sae").get<int64_t>();
    if (c.arch == Arch::topk)
      c.k = j.contains("k") ? j["k"].get<int>() : j.at("activation_fn_kwargs").at("k").get<int>();
    c.layer = j.at("layer").get<int>();
    c.tap = j.value("tap", std::string("resid"));
    c.input_scale = j.value("input_scale", 1.0);
    c.l1_coefficient = j.value("l1_coefficient", 0.0);
    c.model = j.value("model_name", std::string());
    c.dataset = j.value("dataset_path", std::string());
    c.context_size = j.value("context_size", int64_t(0));
    c.training_tokens = j.value("training_tokens", int64_t(0));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: {}", path, e.what());
  }
  if (c.d_in <= 0 || c.d_sae <= 0 || (c.arch == Arch::topk && c.k <= 0) || !(c.input_scale > 0) ||
      !std::isfinite(c.input_scale))
    fail("{}: d_in {}, d_sae {}, k {}, input_scale {}: must be positive", path, c.d_in, c.d_sae,
         c.k, c.input_scale);
  if (c.tap != "resid" && c.tap != "mlp" && c.tap != "attn")
    fail("{}: tap '{}' is not resid, mlp or attn", path, c.tap);
  return c;
}

}  // namespace

void save_sae(const Sae& s, const std::string& dir) {
  fs::create_directories(dir);
  const int64_t D = s.d(), N = s.W();
  std::vector<float> w_enc(static_cast<size_t>(D * N));  // [d, W]
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < D; ++j) w_enc[size_t(j * N + i)] = s.p.enc[size_t(i * D + j)];
  write_safetensors(dir + "/sae_weights.safetensors",
                    {make_f32("W_enc", {D, N}, w_enc), make_f32("b_enc", {N}, s.p.b_enc),
                     make_f32("W_dec", {N, D}, s.p.dec), make_f32("b_dec", {D}, s.p.b_dec)});
  write_file_atomic(dir + "/cfg.json", cfg_json(s.cfg).dump(2) + "\n");
}

Sae load_sae(const std::string& dir) {
  Sae s;
  s.cfg = parse_cfg(dir + "/cfg.json");
  const std::string wpath = dir + "/sae_weights.safetensors";
  if (!fs::exists(wpath)) fail("{}: no such file", wpath);
  SafetensorsFile f(wpath);
  const int64_t D = s.d(), N = s.W();
  auto get = [&](const std::string& name, std::vector<int64_t> shape) {
    auto it = f.tensors().find(name);
    if (it == f.tensors().end()) fail("{}: tensor '{}' is missing", wpath, name);
    const TensorView& v = it->second;
    if (v.shape != shape)
      fail("{}: tensor '{}' has shape [{}], expected [{}] (cfg.json: d_in {}, d_sae {})", wpath,
           name, fmt::join(v.shape, ", "), fmt::join(shape, ", "), D, N);
    if (v.dtype != DType::f32 && v.dtype != DType::f16 && v.dtype != DType::bf16)
      fail("{}: tensor '{}' has dtype {}, expected a float type", wpath, name, dtype_name(v.dtype));
    std::vector<float> out(static_cast<size_t>(v.numel()));
    to_f32(v, out.data());
    for (float x : out)
      if (!std::isfinite(x)) fail("{}: tensor '{}' has a non-finite value", wpath, name);
    return out;
  };
  const std::vector<float> w_enc = get("W_enc", {D, N});
  s.p.enc.resize(size_t(D * N));
  for (int64_t j = 0; j < D; ++j)
    for (int64_t i = 0; i < N; ++i) s.p.enc[size_t(i * D + j)] = w_enc[size_t(j * N + i)];
  s.p.b_enc = get("b_enc", {N});
  s.p.dec = get("W_dec", {N, D});
  s.p.b_dec = get("b_dec", {D});
  return s;
}

}  // namespace erank::sae
