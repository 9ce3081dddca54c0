// The op-level backend interface. Models are written once against these ops; a backend decides
// precision and where memory lives. Two exist today: "cpu" (f32, OpenBLAS + OpenMP) and
// "reference" (f64, plain loops, the test oracle). A CUDA backend would implement the same ops;
// none exists yet.
//
// Shapes: activations are row-major [rows, cols]; rows are the tokens of all sequences of a
// batch, concatenated (see SeqLayout). Weights are f32 [out, in] as in PyTorch's nn.Linear.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace erank {

enum class Precision { f32, f64 };

// Big blocks of raw memory: 8 MiB and more are mapped with transparent huge pages (a multi-GB
// model then takes thousands of page faults instead of millions); smaller ones come from malloc.
void* buffer_alloc(size_t bytes);
void buffer_free(void* p, size_t bytes);

// The allocator of weights and activations: elements are left uninitialised (every buffer is
// written in full by whatever makes it; zero-filling first would cost a pass over memory).
template <class T>
struct BufferAllocator {
  using value_type = T;
  BufferAllocator() = default;
  template <class U>
  BufferAllocator(const BufferAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(buffer_alloc(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { buffer_free(p, n * sizeof(T)); }
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const BufferAllocator<U>&) const noexcept {
    return true;
  }
};
template <class T>
using Buffer = std::vector<T, BufferAllocator<T>>;

struct Act {
  int64_t rows = 0, cols = 0;
  Precision prec = Precision::f32;
  Buffer<float> f;   // storage when prec == f32
  Buffer<double> d;  // storage when prec == f64
  int64_t size() const { return rows * cols; }
  double at(int64_t r, int64_t c) const {
    return prec == Precision::f32 ? f[r * cols + c] : d[r * cols + c];
  }
};

// How a weight kept in its file's encoding expands to f32: rows are runs of `block`-value blocks
// of `block_bytes` bytes (bf16/f16: 1 value, 2 bytes); `dequantize` expands n values (a multiple
// of block) exactly. Made by the loader (models/weights.h), which knows the file types.
struct WeightCodec {
  const char* name = "";
  int64_t block = 1;
  size_t block_bytes = 4;
  void (*dequantize)(const uint8_t* src, float* dst, int64_t n) = nullptr;
  // One block of 16 rows (row r at src + r * ld) into dst[j * ldd + r]: the same values with the
  // rows in the vector lanes, for few-row products and panels. Null: rows expanded, transposed.
  void (*dequantize_columns)(const uint8_t* src, size_t ld, int n, float* dst,
                             int64_t ldd) = nullptr;
  // Dot products of 1 to 4 rows with x in a fixed order (io/quant.h's row_dot): one-row
  // products. Null where the type has no vectorised kernel.
  void (*dot_rows)(const uint8_t* src, size_t ld, int rows, const float* x, int64_t n,
                   float* out) = nullptr;
};

// A weight tensor, PyTorch shape order (e.g. [out, in]). Its values are f32, either owned
// (converted, generated) or used in place from a mapped f32 file; or, for matrices read from
// bf16/f16/quantised files, kept as the file's bytes (`raw`, one row of shape[1] values every
// row_bytes bytes) and expanded per panel by the backend, so a weight takes what the file takes.
// `keep` holds the mapping (or the bytes) alive.
struct Weight {
  std::vector<int64_t> shape;
  Buffer<float> own;  // owned values; empty when `view` or `raw` is set
  const float* view = nullptr;
  const uint8_t* raw = nullptr;  // stored form: set together with codec and row_bytes (2-D only)
  const WeightCodec* codec = nullptr;
  size_t row_bytes = 0;
  std::shared_ptr<const void> keep;

  Weight() = default;
  Weight(std::vector<int64_t> s, std::span<const float> v)
      : shape(std::move(s)), own(v.begin(), v.end()) {}
  bool stored() const { return codec != nullptr; }
  // The f32 values; an erank::Error for a stored weight (read those through dequantize_rows or
  // the backend's ops, or make an f32 copy with to_f32()), so nothing reads raw bytes as floats.
  const float* values() const {
    if (codec) stored_not_f32();
    return view ? view : own.data();
  }
  float operator[](int64_t i) const { return values()[i]; }
  int64_t numel() const {
    int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
  int64_t dim(int i) const { return shape.at(static_cast<size_t>(i)); }
  // Rows [r0, r0 + n) as f32 into dst (n * shape[1] values), from either form.
  void dequantize_rows(int64_t r0, int64_t n, float* dst) const;
  Weight to_f32() const;  // an owned f32 copy (the same values, exactly)
  size_t bytes() const;   // memory the values take (file bytes when stored or viewed)
  // Makes the values owned f32 (a copy of the view or the expanded stored rows) to change them.
  Buffer<float>& mutable_values() {
    if (view || codec) *this = to_f32();
    return own;
  }

 private:
  [[noreturn]] void stored_not_f32() const;
};

// Which rows belong to which sequence, and each row's position id.
struct SeqLayout {
  std::vector<int64_t> offsets;  // size n_seq + 1; sequence s owns rows [offsets[s], offsets[s+1])
  std::vector<int32_t> positions;  // per row: 0..len-1 within its sequence
  int64_t n_seq() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t rows() const { return offsets.empty() ? 0 : offsets.back(); }
};

enum class Activation { relu, gelu_tanh, gelu_erf, silu, quick_gelu };

struct AttentionParams {
  int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  double scale = 1.0;          // multiplies q.k
  int64_t sliding_window = 0;  // 0: full causal; w: key j visible from query i iff i - w < j <= i
  double softcap = 0.0;        // 0: none; else scores = cap * tanh(scores / cap)
  double dropout = 0.0;        // train-mode dropout on the attention probabilities
  uint64_t dropout_seed = 0;
  bool causal = true;  // false: every row of a sequence sees all of its rows (vision encoders)
};

// Keys and values of one layer kept between forwards for incremental decoding. Slot s owns rows
// [s * cap, (s + 1) * cap). A full-attention layer stores position p at row p (cap = the context);
// a sliding-window layer keeps a ring of cap >= window rows, position p at row p % cap.
struct KVLayer {
  Act k, v;  // [n_slots * cap, Hkv * hd]
  int64_t cap = 0;
  bool ring = false;
};

// For each sequence of a cached forward: its cache slot and how many of its tokens the cache
// already holds (its rows in the forward are the next tokens, at positions past, past + 1, ...).
// A read-only sequence attends to its slot without appending its rows (they are scored on top of
// a shared context and then dropped).
struct CacheRefs {
  std::vector<int64_t> slot, past;
  std::vector<bool> read_only;  // per sequence; empty: none
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual Precision precision() const = 0;
  // Batch-invariant products: each row of a linear then sums the same way whatever the other rows
  // (cpu: erank's kernel for every weight where the CPU runs it, instead of OpenBLAS tiles for big
  // weights, ~10% faster on those). Returns the previous setting; the reference always is.
  virtual bool set_batch_invariant(bool /*on*/) { return true; }
  // Decoding: few-row products may read weights kept in their file's type from an f32 packed
  // copy made once per weight (the f32 path's speed, at the f32 path's memory), instead of
  // expanding their blocks on every step. The same sums either way. Off by default.
  virtual void set_decode_cache(bool /*on*/) {}
  // Decoding steps: one-row products on weights kept in their file's type sum in dot-product
  // order (gemv_stored: 1.1-2.5x faster per product than gemm's order, which needs the blocks
  // transposed; SmolLM2 decodes 2x faster), so a step's results differ from a full forward's by
  // rounding (SmolLM2's one-token hidden states by up to 3e-6 of their largest value). Off by
  // default: forwards stay bitwise equal to the f32 path. Returns the previous setting.
  virtual bool set_decoding(bool /*on*/) { return false; }

  Act alloc(int64_t rows, int64_t cols) const;         // zero-filled
  Act alloc_uninit(int64_t rows, int64_t cols) const;  // for outputs written in full
  // The same, in a's own storage when it has room: a 262k-vocabulary logits block (268 MB, over
  // the block cache's limit) in fresh memory was faulted in and zeroed afresh on every block.
  void reuse_uninit(Act& a, int64_t rows, int64_t cols) const;

  // out[r] = table[ids[r]] (table [V, cols]); ids are validated by the caller.
  virtual void embed(const Weight& table, std::span<const int32_t> ids, Act& out) = 0;
  // y = x W^T (+ b). W [out, in], x [rows, in], y [rows, out].
  virtual void linear(const Act& x, const Weight& w, const Weight* b, Act& y) = 0;
  // y[i] = x W[i]^T (+ b[i]) for weights that read the same input (q, k and v; gate and up), each
  // y[i] as linear's. One call, so that the cpu backend can run a decoding step's products in
  // one parallel region. b[i] may be null; no y[i] may be x or another y[j].
  virtual void linear_many(const Act& x, std::span<const Weight* const> w,
                           std::span<const Weight* const> b, std::span<Act* const> y);
  // y += x (same shape)
  virtual void add(Act& y, const Act& x) = 0;
  // y *= x elementwise
  virtual void mul(Act& y, const Act& x) = 0;
  virtual void scale(Act& y, double s) = 0;
  // Adds row vector v [cols] to every row (learned positions are gathered with embed instead).
  virtual void activation(Act& x, Activation a) = 0;
  // LayerNorm over each row (biased variance), optional affine w, b.
  virtual void layer_norm(const Act& x, const Weight* w, const Weight* b, double eps, Act& y) = 0;
  // RMSNorm over each contiguous group of `group` values (group == cols: per row; head_dim: per
  // head, for q/k norms). Gain is w, or (1 + w) when one_plus (Gemma).
  virtual void rms_norm(const Act& x, const Weight& w, double eps, int64_t group, bool one_plus,
                        Act& y) = 0;
  // Rotary embedding, rotate-half (NeoX/HF) convention, on the first `rotary_dim` dims of every
  // head of width head_dim. inv_freq has rotary_dim / 2 entries.
  virtual void rope(Act& x, int64_t head_dim, int64_t rotary_dim, std::span<const double> inv_freq,
                    std::span<const int32_t> positions) = 0;
  // Causal self-attention per sequence; q [rows, H*hd], k/v [rows, Hkv*hd], out [rows, H*hd].
  virtual void attention(const Act& q, const Act& k, const Act& v, const AttentionParams& p,
                         const SeqLayout& seqs, Act& out) = 0;
  // Causal attention of new rows over the cached keys and values of their sequence plus their own,
  // then appends the new keys and values to the cache. Query row i of sequence s sits at
  // position refs.past[s] + i; the window and soft-cap of p apply as in attention().
  virtual void attention_cached(const Act& q, const Act& k, const Act& v, const AttentionParams& p,
                                const SeqLayout& seqs, const CacheRefs& refs, KVLayer& cache,
                                Act& out) = 0;
  // out = x's columns viewed as [n_blocks, block]: take [offset, offset + width) of each block.
  // Splits fused QKV projections (GPT-2: one block; GPT-NeoX: one block per head).
  virtual void slice_cols(const Act& x, int64_t block, int64_t offset, int64_t width, Act& out) = 0;
  // x = cap * tanh(x / cap)
  virtual void softcap(Act& x, double cap) = 0;
  // Train-mode dropout: each value kept with probability 1 - p and scaled by 1 / (1 - p), as
  // torch does. The mask is a hash of (seed, element index): the same for any thread count.
  virtual void dropout(Act& x, double p, uint64_t seed) = 0;
  // Selected rows of x (e.g. the last token of each sequence).
  virtual void gather_rows(const Act& x, std::span<const int64_t> rows, Act& out) = 0;
};

// Uniform [0, 1) from (seed, index): the dropout mask, shared by all backends.
inline double dropout_uniform(uint64_t seed, uint64_t i) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (i + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

// "cpu" (default) or "reference". threads <= 0: all cores. With ERANK_PROFILE set in the
// environment, the backend is wrapped by one that prints time per op when it is destroyed.
std::unique_ptr<Backend> make_backend(const std::string& name, int threads = 0);
std::unique_ptr<Backend> make_profiling_backend(std::unique_ptr<Backend> inner);

}  // namespace erank
