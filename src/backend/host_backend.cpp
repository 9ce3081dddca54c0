// Host backends: HostBackend<float> is "cpu" (OpenBLAS sgemm + OpenMP), HostBackend<double> is
// "reference" (plain double loops, no BLAS: the oracle the fast path is tested against).
#include <cblas.h>
#include <malloc.h>
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <type_traits>

#include "backend/backend.h"
#include "backend/gemm_f32.h"
#include "backend/vec_math.h"
#include "core/error.h"

namespace erank {

void Backend::reuse_uninit(Act& a, int64_t rows, int64_t cols) const {
  const auto n = static_cast<size_t>(rows * cols);
  a.rows = rows;
  a.cols = cols;
  a.prec = precision();
  auto fit = [n](auto& v) {
    if (v.capacity() < n) v = {};  // no copy of the old values into the new buffer
    v.resize(n);
  };
  if (a.prec == Precision::f32) {
    a.d = {};
    fit(a.f);
  } else {
    a.f = {};
    fit(a.d);
  }
}

namespace {

constexpr size_t kHuge = size_t(8) << 20;

// Big blocks are mapped in size classes (rounded up to 1/8 of their leading power of two), and
// blocks freed recently are kept by class for reuse: every layer asks for the same activation
// sizes, batches for similar ones, and a fresh mapping would be zeroed by the kernel again (page
// clearing was ~8% of a forward). Bounded so that it never holds much next to the weights.
size_t size_class(size_t bytes) {
  size_t top = size_t(1) << (63 - __builtin_clzll(bytes));
  const size_t step = top / 8;
  return (bytes + step - 1) / step * step;
}

struct BlockCache {
  static constexpr size_t kMaxBlock = size_t(128) << 20, kMaxTotal = size_t(256) << 20;
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;
  size_t total = 0;

  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = free_blocks.find(bytes);
    if (it == free_blocks.end()) return nullptr;
    void* p = it->second;
    free_blocks.erase(it);
    total -= bytes;
    return p;
  }
  bool keep(void* p, size_t bytes) {
    if (bytes > kMaxBlock) return false;
    std::lock_guard<std::mutex> lock(mu);
    while (total + bytes > kMaxTotal && !free_blocks.empty()) {  // evict the largest
      auto last = std::prev(free_blocks.end());
      ::munmap(last->second, last->first);
      total -= last->first;
      free_blocks.erase(last);
    }
    free_blocks.emplace(bytes, p);
    total += bytes;
    return true;
  }
};

BlockCache& block_cache() {
  static BlockCache* c = new BlockCache;  // never destroyed: buffers may be freed at exit
  return *c;
}

}  // namespace

void* buffer_alloc(size_t bytes) {
  if (bytes < kHuge) {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  bytes = size_class(bytes);
  if (void* p = block_cache().take(bytes)) return p;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without THP it is plain pages
  return p;
}

void buffer_free(void* p, size_t bytes) {
  if (!p) return;
  if (bytes < kHuge) {
    std::free(p);
    return;
  }
  bytes = size_class(bytes);
  if (!block_cache().keep(p, bytes)) ::munmap(p, bytes);
}

void Backend::linear_many(const Act& x, std::span<const Weight* const> w,
                          std::span<const Weight* const> b, std::span<Act* const> y) {
  ERANK_CHECK(w.size() == b.size() && w.size() == y.size(),
              "linear_many: {} weights, {} biases, {} outputs", w.size(), b.size(), y.size());
  for (size_t i = 0; i < w.size(); ++i) linear(x, *w[i], b[i], *y[i]);
}

Act Backend::alloc(int64_t rows, int64_t cols) const {
  Act a;
  a.rows = rows;
  a.cols = cols;
  a.prec = precision();
  if (a.prec == Precision::f32)
    a.f.assign(static_cast<size_t>(rows * cols), 0.0f);
  else
    a.d.assign(static_cast<size_t>(rows * cols), 0.0);
  return a;
}

Act Backend::alloc_uninit(int64_t rows, int64_t cols) const {
  Act a;
  reuse_uninit(a, rows, cols);
  return a;
}

namespace {

template <class T>
T* data(Act& a) {
  if constexpr (std::is_same_v<T, float>)
    return a.f.data();
  else
    return a.d.data();
}
template <class T>
const T* data(const Act& a) {
  if constexpr (std::is_same_v<T, float>)
    return a.f.data();
  else
    return a.d.data();
}

void check_shape(const Act& a, int64_t rows, int64_t cols, const char* what) {
  ERANK_CHECK(a.rows == rows && a.cols == cols, "{}: expected [{}, {}], got [{}, {}]", what, rows,
              cols, a.rows, a.cols);
}

template <class T>
class HostBackend final : public Backend {
 public:
  static constexpr bool kFast = std::is_same_v<T, float>;
  static constexpr int64_t kRowTile = 256, kColTile = 512;
  static constexpr int64_t kOwnGemmMaxWeights = int64_t(1) << 21;
  // Products of at most this many rows (decoding steps, LM heads over last rows) always run on
  // erank's kernel from weights packed once: the same sums for a row whatever else is in the
  // batch, and a step reads each weight once instead of three times.
  static constexpr int64_t kDecodeRows = 64;
  // Elementwise and per-row ops run in parallel over rows above this many values; each row is
  // done by one thread, so results do not depend on the thread count.
  static constexpr int64_t kParallelMin = 1 << 15;
  static constexpr int64_t kQueryBlock = 64;  // attention rows per score block
  explicit HostBackend(int threads) : threads_(threads) {}

  std::string name() const override { return kFast ? "cpu" : "reference"; }
  Precision precision() const override { return kFast ? Precision::f32 : Precision::f64; }
  void set_decode_cache(bool on) override { decode_cache_ = on; }
  bool set_decoding(bool on) override { return std::exchange(decoding_, on); }
  bool set_batch_invariant(bool on) override {
    return kFast ? std::exchange(batch_invariant_, on) : true;
  }

  void embed(const Weight& table, std::span<const int32_t> ids, Act& out) override {
    const int64_t C = table.dim(1);
    const int64_t R = static_cast<int64_t>(ids.size());
    out = alloc_uninit(R, C);
    T* o = data<T>(out);
#pragma omp parallel for num_threads(nthreads()) if (kFast && R * C > kParallelMin)
    for (int64_t r = 0; r < R; ++r) {
      const int64_t id = ids[size_t(r)];
      if (table.stored()) {  // only the requested rows are expanded
        if constexpr (kFast) {
          table.dequantize_rows(id, 1, o + r * C);
        } else {
          thread_local std::vector<float> row;
          row.resize(size_t(C));
          table.dequantize_rows(id, 1, row.data());
          for (int64_t c = 0; c < C; ++c) o[r * C + c] = row[size_t(c)];
        }
        continue;
      }
      const float* src = table.values() + id * C;
      for (int64_t c = 0; c < C; ++c) o[r * C + c] = static_cast<T>(src[c]);
    }
  }

  // x [rows, K] times a weight kept in its file's type, into C (onto C's values when accumulating).
  static GemmF32 stored_product(const float* x, int64_t rows, const Weight& w, float* C,
                                bool accumulate) {
    return {.M = rows,
            .N = w.dim(0),
            .K = w.dim(1),
            .A = x,
            .lda = w.dim(1),
            .C = C,
            .ldc = w.dim(0),
            .accumulate = accumulate,
            .Bq = w.raw,
            .ldbq = w.row_bytes,
            .codec = w.codec};
  }
  // Decoding one sequence (set_decoding): blocks expanded in registers and multiplied along k (a
  // row's sums then depend on the row count, so not when batch-invariant).
  bool takes_gemv(const GemmF32& g) const {
    return decoding_ && !batch_invariant_ && gemv_stored_fits(g);
  }

  void linear(const Act& x, const Weight& w, const Weight* b, Act& y) override {
    const int64_t R = x.rows, I = x.cols, O = w.dim(0);
    ERANK_CHECK(w.dim(1) == I, "linear: weight [{}, {}] vs input width {}", O, w.dim(1), I);
    ERANK_CHECK(!b || b->numel() == O, "linear: bias has {} values, output width {}",
                b ? b->numel() : 0, O);
    ERANK_CHECK(&y != &x, "linear: the output cannot be the input");
    reuse_uninit(y, R, O);
    T* yo = data<T>(y);
    const T* xi = data<T>(x);
    if constexpr (kFast) {
      // A bias is written into the output first and the product accumulated onto it: one pass
      // over y instead of a zeroing pass plus a bias pass.
      const float* bv = b ? b->values() : nullptr;
      if (bv) {
#pragma omp parallel for num_threads(nthreads()) if (R * O > kParallelMin)
        for (int64_t r = 0; r < R; ++r) std::copy_n(bv, O, yo + r * O);
      }
      const int nt = R * O * I > 32768 ? nthreads() : 1;
      // erank's kernel wins on small weights (SmolLM2's: ~5% over OpenBLAS), OpenBLAS on big
      // ones streamed cold from memory (OPT-1.3B's 16-64 MB matrices: ~10%); measured, not
      // derived. The switch is per shape, so a given layer always sums in the same order.
      // Few rows (decoding): always erank's kernel, from the weight packed once.
      const bool few_rows = R <= kDecodeRows;
      if (w.stored() && gemm_f32_available()) {
        const GemmF32 g = stored_product(xi, R, w, yo, bv != nullptr);
        if (takes_gemv(g)) {
          gemv_stored(g, nt);
        } else if (gemm_stored_rows_fits(g)) {
          // Decoding: blocks expanded with the weight's rows in the vector lanes, no panel.
          gemm_stored_rows(g, nt);
        } else if (few_rows && decode_cache_) {
          // Decoding with the cache on: the f32 values packed once (set_decode_cache).
          GemmF32 p = g;
          p.Bq = nullptr;
          p.codec = nullptr;
          p.packed = packed_weight(w);
          gemm_f32(p, nt);
        } else {
          // Blocks expanded per panel inside the kernel, for any row count: no f32 copy, and
          // the same sums as erank's kernel on the f32 values.
          gemm_f32(g, nt);
        }
        return;
      }
      if (w.stored()) {  // no erank kernel on this CPU; OpenBLAS needs f32: expand for this product
        Act yb;
        linear(x, w.to_f32(), b, yb);
        y = std::move(yb);
        return;
      }
      if (gemm_f32_available() && (few_rows || O * I <= kOwnGemmMaxWeights || batch_invariant_)) {
        gemm_f32({.M = R,
                  .N = O,
                  .K = I,
                  .A = xi,
                  .lda = I,
                  .B = w.values(),
                  .ldb = I,
                  .b_nk = true,
                  .C = yo,
                  .ldc = O,
                  .accumulate = bv != nullptr,
                  .packed = few_rows ? packed_weight(w) : nullptr},
                 nt);
        return;
      }
      // OpenBLAS (big weights, or no AVX-512): fixed tiles of rows x columns, each one
      // single-threaded sgemm on erank's OpenMP threads (OpenBLAS' own threads would fight them
      // for the cores): every output element comes from the same kernel call whatever the
      // thread count.
      constexpr int64_t RT = kRowTile, CT = kColTile;
      const int64_t nr = (R + RT - 1) / RT, nc = (O + CT - 1) / CT;
#pragma omp parallel for schedule(dynamic) num_threads(nt)
      for (int64_t t = 0; t < nr * nc; ++t) {
        const int64_t r0 = (t / nc) * RT, rb = std::min(RT, R - r0);
        const int64_t o0 = (t % nc) * CT, ob = std::min(CT, O - o0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rb),
                    static_cast<int>(ob), static_cast<int>(I), 1.0f, xi + r0 * I,
                    static_cast<int>(I), w.values() + o0 * I, static_cast<int>(I), bv ? 1.0f : 0.0f,
                    yo + r0 * O + o0, static_cast<int>(O));
      }
    } else {
      std::vector<float> row(w.stored() ? size_t(I) : 0);
      for (int64_t o = 0; o < O; ++o) {
        const float* wr = w.stored() ? row.data() : w.values() + o * I;
        if (w.stored()) w.dequantize_rows(o, 1, row.data());
        for (int64_t r = 0; r < R; ++r) {
          double s = 0;
          for (int64_t i = 0; i < I; ++i) s += xi[r * I + i] * static_cast<double>(wr[i]);
          yo[r * O + o] = s;
        }
      }
    }
    if (b && !kFast) {
      const float* bv = b->values();
      for (int64_t r = 0; r < R; ++r)
        for (int64_t o = 0; o < O; ++o) yo[r * O + o] += static_cast<T>(bv[o]);
    }
  }

  // A decoding step's products that read one row (q, k, v; gate, up) in one parallel region: each
  // output is linear's, bit for bit (the same kernel on the same groups of rows); one barrier
  // instead of three, where SmolLM2's 576-wide products take tens of microseconds each.
  void linear_many(const Act& x, std::span<const Weight* const> w, std::span<const Weight* const> b,
                   std::span<Act* const> y) override {
    if constexpr (kFast) {
      std::vector<GemmF32> gs;
      bool fits = gemm_f32_available() && b.size() == w.size() && y.size() == w.size();
      int64_t work = 0;
      for (size_t i = 0; fits && i < w.size(); ++i) {
        const Weight& wi = *w[i];
        fits = wi.stored() && wi.dim(1) == x.cols && (!b[i] || b[i]->numel() == wi.dim(0)) &&
               y[i] != &x;
        if (!fits) break;
        gs.push_back(stored_product(data<T>(x), x.rows, wi, nullptr, b[i] != nullptr));
        fits = takes_gemv(gs.back());
        work += wi.dim(0) * x.cols;
      }
      if (fits) {
        for (size_t i = 0; i < w.size(); ++i) {
          reuse_uninit(*y[i], 1, gs[i].N);
          gs[i].C = data<T>(*y[i]);
          if (b[i]) std::copy_n(b[i]->values(), gs[i].N, gs[i].C);
        }
        gemv_stored_many(gs, work > 32768 ? nthreads() : 1);
        return;
      }
    }
    Backend::linear_many(x, w, b, y);
  }

  void add(Act& y, const Act& x) override {
    check_shape(x, y.rows, y.cols, "add");
    T* a = data<T>(y);
    const T* b = data<T>(x);
    const int64_t n = y.size();
#pragma omp parallel for num_threads(nthreads()) if (kFast && n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) a[i] += b[i];
  }

  void mul(Act& y, const Act& x) override {
    check_shape(x, y.rows, y.cols, "mul");
    T* a = data<T>(y);
    const T* b = data<T>(x);
    const int64_t n = y.size();
#pragma omp parallel for num_threads(nthreads()) if (kFast && n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) a[i] *= b[i];
  }

  void scale(Act& y, double s) override {
    T* a = data<T>(y);
    for (int64_t i = 0; i < y.size(); ++i) a[i] = static_cast<T>(a[i] * s);
  }

  void activation(Act& x, Activation act) override {
    T* a = data<T>(x);
    const int64_t n = x.size();
    // Formulas as in transformers' ACT2FN (relu, gelu_new/gelu_pytorch_tanh, gelu, silu).
    switch (act) {
      case Activation::relu:
#pragma omp parallel for num_threads(nthreads()) if (kFast && n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) a[i] = a[i] > 0 ? a[i] : T(0);
        break;
      case Activation::gelu_tanh: {
        if constexpr (kFast) {
          constexpr int64_t kChunk = 4096;
#pragma omp parallel for num_threads(nthreads()) if (n > kParallelMin)
          for (int64_t i = 0; i < n; i += kChunk) vec_gelu_tanh(a + i, std::min(kChunk, n - i));
          break;
        }
        const T k = static_cast<T>(std::sqrt(2.0 / M_PI));
#pragma omp parallel for num_threads(nthreads()) if (kFast && n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
          const T v = a[i];
          a[i] = T(0.5) * v * (T(1) + std::tanh(k * (v + T(0.044715) * v * v * v)));
        }
        break;
      }
      case Activation::gelu_erf:
#pragma omp parallel for num_threads(nthreads()) if (kFast && n > kParallelMin)
        for (int64_t i = 0; i < n; ++i)
          a[i] = T(0.5) * a[i] * (T(1) + std::erf(a[i] / std::sqrt(T(2))));
        break;
      case Activation::silu:
        if constexpr (kFast) {
          constexpr int64_t kChunk = 4096;
#pragma omp parallel for num_threads(nthreads()) if (n > kParallelMin)
          for (int64_t i = 0; i < n; i += kChunk) vec_silu(a + i, std::min(kChunk, n - i));
        } else {
          for (int64_t i = 0; i < n; ++i) a[i] = a[i] / (T(1) + std::exp(-a[i]));
        }
        break;
      case Activation::quick_gelu:  // x * sigmoid(1.702 x), CLIP's activation
#pragma omp parallel for num_threads(nthreads()) if (kFast && n > kParallelMin)
        for (int64_t i = 0; i < n; ++i) a[i] = a[i] * (T(1) / (T(1) + std::exp(T(-1.702) * a[i])));
        break;
    }
  }

  void layer_norm(const Act& x, const Weight* w, const Weight* b, double eps, Act& y) override {
    const int64_t R = x.rows, C = x.cols;
    y = alloc_uninit(R, C);
    const T* xi = data<T>(x);
    T* yo = data<T>(y);
    const float* wv = w ? w->values() : nullptr;
    const float* bv = b ? b->values() : nullptr;
#pragma omp parallel for num_threads(nthreads()) if (kFast && R * C > kParallelMin)
    for (int64_t r = 0; r < R; ++r) {
      const T* row = xi + r * C;
      if constexpr (kFast) {
        vec_layer_norm(row, wv, bv, C, eps, yo + r * C);
        continue;
      }
      double mean = 0, var = 0;
      for (int64_t c = 0; c < C; ++c) mean += row[c];
      mean /= static_cast<double>(C);
      for (int64_t c = 0; c < C; ++c) var += (row[c] - mean) * (row[c] - mean);
      var /= static_cast<double>(C);
      const double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t c = 0; c < C; ++c) {
        double v = (row[c] - mean) * inv;
        if (wv) v *= wv[c];
        if (bv) v += bv[c];
        yo[r * C + c] = static_cast<T>(v);
      }
    }
  }

  void rms_norm(const Act& x, const Weight& w, double eps, int64_t group, bool one_plus,
                Act& y) override {
    ERANK_CHECK(group > 0 && x.cols % group == 0 && w.numel() == group,
                "rms_norm: group {} vs width {} and weight of {}", group, x.cols, w.numel());
    y = alloc_uninit(x.rows, x.cols);
    const T* xi = data<T>(x);
    T* yo = data<T>(y);
    const float* wv = w.values();
    const int64_t n_groups = x.size() / group;
#pragma omp parallel for num_threads(nthreads()) if (kFast && x.size() > kParallelMin)
    for (int64_t g = 0; g < n_groups; ++g) {
      const T* v = xi + g * group;
      if constexpr (kFast) {
        vec_rms_norm(v, wv, group, eps, one_plus, yo + g * group);
        continue;
      }
      double ss = 0;
      for (int64_t c = 0; c < group; ++c) ss += static_cast<double>(v[c]) * v[c];
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(group) + eps);
      for (int64_t c = 0; c < group; ++c) {
        const double gain = one_plus ? 1.0 + wv[c] : wv[c];
        yo[g * group + c] = static_cast<T>(v[c] * inv * gain);
      }
    }
  }

  void rope(Act& x, int64_t head_dim, int64_t rotary_dim, std::span<const double> inv_freq,
            std::span<const int32_t> positions) override {
    ERANK_CHECK(x.cols % head_dim == 0 && rotary_dim <= head_dim && rotary_dim % 2 == 0 &&
                    static_cast<int64_t>(inv_freq.size()) == rotary_dim / 2 &&
                    static_cast<int64_t>(positions.size()) == x.rows,
                "rope: bad shapes (cols {}, head_dim {}, rotary_dim {})", x.cols, head_dim,
                rotary_dim);
    const int64_t H = x.cols / head_dim, half = rotary_dim / 2;
    const std::vector<T>& tab = rope_table(inv_freq, positions);  // [rows, 2 * half]: cos, sin
    T* a = data<T>(x);
#pragma omp parallel for num_threads(nthreads()) if (kFast && x.size() > kParallelMin)
    for (int64_t r = 0; r < x.rows; ++r) {
      const T* cs = tab.data() + r * 2 * half;
      const T* sn = cs + half;
      for (int64_t h = 0; h < H; ++h) {
        T* v = a + r * x.cols + h * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const T x1 = v[i], x2 = v[i + half];
          v[i] = x1 * cs[i] - x2 * sn[i];
          v[i + half] = x2 * cs[i] + x1 * sn[i];
        }
      }
    }
  }

  void attention(const Act& q, const Act& k, const Act& v, const AttentionParams& p,
                 const SeqLayout& seqs, Act& out) override {
    const int64_t H = p.n_heads, Hkv = p.n_kv_heads, hd = p.head_dim;
    ERANK_CHECK(H % Hkv == 0 && q.cols == H * hd && k.cols == Hkv * hd && v.cols == Hkv * hd,
                "attention: heads {} kv {} head_dim {} vs widths {}/{}/{}", H, Hkv, hd, q.cols,
                k.cols, v.cols);
    out = alloc_uninit(q.rows, H * hd);
    const T* Q = data<T>(q);
    const T* K = data<T>(k);
    const T* V = data<T>(v);
    T* O = data<T>(out);
    const int64_t qs = H * hd, ks = Hkv * hd;
    const auto tasks = seq_head_tasks(seqs, H);
    const int64_t n_tasks = static_cast<int64_t>(tasks.size());
#pragma omp parallel for schedule(dynamic) num_threads(nthreads()) if (kFast && n_tasks > 1)
    for (int64_t t = 0; t < n_tasks; ++t) {
      const auto [s, h] = tasks[size_t(t)];
      const int64_t b = seqs.offsets[s], n = seqs.offsets[s + 1] - b;
      const int64_t kh = h / (H / Hkv);
      const T* Qh = Q + b * qs + h * hd;
      const T* Kh = K + b * ks + kh * hd;
      const T* Vh = V + b * ks + kh * hd;
      T* Oh = O + b * qs + h * hd;
      // Query blocks: block [i0, i1) only needs keys [jl, i1) (causal, sliding window), so the
      // score matrix is built block by block and the masked upper part is never computed.
      // Without the causal mask every block takes all keys [0, n).
      thread_local std::vector<T> S;
      for (int64_t i0 = 0; i0 < n; i0 += kQueryBlock) {
        const int64_t i1 = std::min(n, i0 + kQueryBlock), nq = i1 - i0;
        const int64_t jl =
            p.causal && p.sliding_window > 0 ? std::max<int64_t>(0, i0 - p.sliding_window + 1) : 0;
        const int64_t nk = (p.causal ? i1 : n) - jl;
        S.resize(static_cast<size_t>(nq * nk));
        // Scores S[i - i0][j - jl] = q_i . k_j * scale.
        if constexpr (kFast) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(nq), int(nk), int(hd),
                      float(p.scale), Qh + i0 * qs, int(qs), Kh + jl * ks, int(ks), 0.0f, S.data(),
                      int(nk));
        } else {
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t j = jl; j < (p.causal ? i + 1 : n); ++j) {
              double d = 0;
              for (int64_t c = 0; c < hd; ++c) d += Qh[i * qs + c] * Kh[j * ks + c];
              S[(i - i0) * nk + (j - jl)] = d * p.scale;
            }
        }
        // Mask, soft-cap, softmax per query row; dropout indexed by absolute (i, j).
        for (int64_t i = i0; i < i1; ++i) {
          T* row = S.data() + (i - i0) * nk;  // row[j - jl] for j in [jl, jl + nk)
          const int64_t j0 =
              p.causal && p.sliding_window > 0 ? std::max<int64_t>(0, i - p.sliding_window + 1) : 0;
          const int64_t je = p.causal ? i + 1 : n;  // keys [j0, je) are visible
          mask_softmax(row + (j0 - jl), j0 - jl, je - j0, nk, p.softcap);
          if (p.dropout > 0) {
            const uint64_t base = static_cast<uint64_t>(((b * H + h) * n + i) * n);
            for (int64_t j = j0; j < je; ++j)
              row[j - jl] = dropout_uniform(p.dropout_seed, base + uint64_t(j)) < p.dropout
                                ? T(0)
                                : static_cast<T>(row[j - jl] / (1.0 - p.dropout));
          }
        }
        // O[i0:i1] = P V[jl:i1].
        if constexpr (kFast) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(nq), int(hd), int(nk), 1.0f,
                      S.data(), int(nk), Vh + jl * ks, int(ks), 0.0f, Oh + i0 * qs, int(qs));
        } else {
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t c = 0; c < hd; ++c) {
              double acc = 0;
              for (int64_t j = jl; j < jl + nk; ++j)
                acc += S[(i - i0) * nk + (j - jl)] * Vh[j * ks + c];
              Oh[i * qs + c] = acc;
            }
        }
      }
    }
  }

  void attention_cached(const Act& q, const Act& k, const Act& v, const AttentionParams& p,
                        const SeqLayout& seqs, const CacheRefs& refs, KVLayer& cache,
                        Act& out) override {
    const int64_t H = p.n_heads, Hkv = p.n_kv_heads, hd = p.head_dim;
    const int64_t qs = H * hd, ks = Hkv * hd, cap = cache.cap, w = p.sliding_window;
    ERANK_CHECK(H % Hkv == 0 && q.cols == qs && k.cols == ks && v.cols == ks && k.rows == q.rows &&
                    v.rows == q.rows && cache.k.cols == ks && cache.v.cols == ks &&
                    cache.k.rows == cache.v.rows && cap > 0,
                "attention_cached: heads {} kv {} head_dim {} vs widths {}/{}/{}, cache width {}",
                H, Hkv, hd, q.cols, k.cols, v.cols, cache.k.cols);
    ERANK_CHECK(p.dropout == 0, "attention_cached: no dropout in cached (eval) forwards");
    ERANK_CHECK(p.causal, "attention_cached: a cache holds causal (decoder) attention only");
    ERANK_CHECK(!cache.ring || (w > 0 && cap >= w), "attention_cached: ring of {} for window {}",
                cap, w);
    const int64_t n_seq = seqs.n_seq();
    ERANK_CHECK(
        static_cast<int64_t>(refs.slot.size()) == n_seq &&
            static_cast<int64_t>(refs.past.size()) == n_seq &&
            (refs.read_only.empty() || static_cast<int64_t>(refs.read_only.size()) == n_seq),
        "attention_cached: {} sequences, {} slots, {} past lengths, {} read-only flags", n_seq,
        refs.slot.size(), refs.past.size(), refs.read_only.size());
    for (int64_t s = 0; s < n_seq; ++s) {
      const int64_t n = seqs.offsets[s + 1] - seqs.offsets[s];
      ERANK_CHECK(refs.slot[s] >= 0 && (refs.slot[s] + 1) * cap <= cache.k.rows &&
                      refs.past[s] >= 0 && (cache.ring || refs.past[s] + n <= cap),
                  "attention_cached: sequence {} (slot {}, {} cached + {} new) outside a cache of "
                  "{} rows per slot",
                  s, refs.slot[s], refs.past[s], n, cap);
    }
    out = alloc_uninit(q.rows, qs);
    const T* Q = data<T>(q);
    const T* K = data<T>(k);
    const T* V = data<T>(v);
    T* CK = data<T>(cache.k);
    T* CV = data<T>(cache.v);
    T* O = data<T>(out);
    const auto tasks = seq_head_tasks(seqs, H);
    const int64_t n_tasks = static_cast<int64_t>(tasks.size());
#pragma omp parallel for schedule(dynamic) num_threads(nthreads()) if (kFast && n_tasks > 1)
    for (int64_t t = 0; t < n_tasks; ++t) {
      const auto [s, h] = tasks[size_t(t)];
      const int64_t b = seqs.offsets[s], n = seqs.offsets[s + 1] - b;
      const int64_t past = refs.past[s], base = refs.slot[s] * cap, kh = h / (H / Hkv);
      const T* Qh = Q + b * qs + h * hd;
      T* Oh = O + b * qs + h * hd;
      // Key/value row of position j: the new rows from `past` on, the cache before.
      auto row = [&](const T* fresh, const T* cached, int64_t j) {
        return j >= past ? fresh + (b + j - past) * ks + kh * hd
                         : cached + (base + (cache.ring ? j % cap : j)) * ks + kh * hd;
      };
      thread_local std::vector<T> S;
      thread_local std::vector<std::pair<int64_t, int64_t>> pieces;  // (first position, count)
      for (int64_t i0 = 0; i0 < n; i0 += kQueryBlock) {
        const int64_t i1 = std::min(n, i0 + kQueryBlock), nq = i1 - i0;
        const int64_t last = past + i1 - 1;
        const int64_t jl = w > 0 ? std::max<int64_t>(0, past + i0 - w + 1) : 0;
        const int64_t nk = last - jl + 1;
        // Runs of positions whose rows are contiguous: the cache (split where a ring wraps),
        // then the new rows.
        pieces.clear();
        for (int64_t j = jl; j <= last;) {
          const int64_t cnt = j >= past    ? last - j + 1
                              : cache.ring ? std::min(past - j, cap - j % cap)
                                           : past - j;
          pieces.push_back({j, cnt});
          j += cnt;
        }
        S.resize(static_cast<size_t>(nq * nk));
        if constexpr (kFast) {
          // One query (a decoding step): matrix-vector products. OpenBLAS's sgemm packs its
          // operands first, which made attention 15% of SmolLM2's decoding step.
          for (auto [j0, cnt] : pieces)
            if (nq == 1)
              cblas_sgemv(CblasRowMajor, CblasNoTrans, int(cnt), int(hd), float(p.scale),
                          row(K, CK, j0), int(ks), Qh + i0 * qs, 1, 0.0f, S.data() + (j0 - jl), 1);
            else
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(nq), int(cnt), int(hd),
                          float(p.scale), Qh + i0 * qs, int(qs), row(K, CK, j0), int(ks), 0.0f,
                          S.data() + (j0 - jl), int(nk));
        } else {
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t j = jl; j <= past + i; ++j) {
              const T* kr = row(K, CK, j);
              double d = 0;
              for (int64_t c = 0; c < hd; ++c) d += Qh[i * qs + c] * kr[c];
              S[(i - i0) * nk + (j - jl)] = d * p.scale;
            }
        }
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t P = past + i, j0 = w > 0 ? std::max<int64_t>(0, P - w + 1) : 0;
          T* r = S.data() + (i - i0) * nk;  // r[j - jl]
          mask_softmax(r + (j0 - jl), j0 - jl, P - j0 + 1, nk, p.softcap);
        }
        if constexpr (kFast) {
          for (size_t pi = 0; pi < pieces.size(); ++pi) {
            const auto [j0, cnt] = pieces[pi];
            const float beta = pi == 0 ? 0.0f : 1.0f;
            if (nq == 1)
              cblas_sgemv(CblasRowMajor, CblasTrans, int(cnt), int(hd), 1.0f, row(V, CV, j0),
                          int(ks), S.data() + (j0 - jl), 1, beta, Oh + i0 * qs, 1);
            else
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(nq), int(hd), int(cnt),
                          1.0f, S.data() + (j0 - jl), int(nk), row(V, CV, j0), int(ks), beta,
                          Oh + i0 * qs, int(qs));
          }
        } else {
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t c = 0; c < hd; ++c) {
              double acc = 0;
              for (int64_t j = jl; j <= past + i; ++j)
                acc += S[(i - i0) * nk + (j - jl)] * row(V, CV, j)[c];
              Oh[i * qs + c] = acc;
            }
        }
      }
    }
    // Append the new keys and values (a ring keeps only the last cap of them).
    for (int64_t s = 0; s < n_seq; ++s) {
      if (!refs.read_only.empty() && refs.read_only[size_t(s)]) continue;
      const int64_t b = seqs.offsets[s], n = seqs.offsets[s + 1] - b;
      const int64_t past = refs.past[s], base = refs.slot[s] * cap;
      for (int64_t i = cache.ring ? std::max<int64_t>(0, n - cap) : 0; i < n; ++i) {
        const int64_t r = base + (cache.ring ? (past + i) % cap : past + i);
        std::copy_n(K + (b + i) * ks, ks, CK + r * ks);
        std::copy_n(V + (b + i) * ks, ks, CV + r * ks);
      }
    }
  }

  void slice_cols(const Act& x, int64_t block, int64_t offset, int64_t width, Act& out) override {
    ERANK_CHECK(block > 0 && x.cols % block == 0 && offset + width <= block,
                "slice_cols: block {} offset {} width {} of width {}", block, offset, width,
                x.cols);
    const int64_t nb = x.cols / block;
    out = alloc(x.rows, nb * width);
    const T* a = data<T>(x);
    T* o = data<T>(out);
    for (int64_t r = 0; r < x.rows; ++r)
      for (int64_t bi = 0; bi < nb; ++bi)
        std::copy_n(a + r * x.cols + bi * block + offset, width, o + r * out.cols + bi * width);
  }

  void softcap(Act& x, double cap) override {
    T* a = data<T>(x);
    for (int64_t i = 0; i < x.size(); ++i) a[i] = static_cast<T>(cap * std::tanh(a[i] / cap));
  }

  void dropout(Act& x, double p, uint64_t seed) override {
    ERANK_CHECK(p >= 0 && p < 1, "dropout probability {} outside [0, 1)", p);
    T* a = data<T>(x);
    for (int64_t i = 0; i < x.size(); ++i)
      a[i] = dropout_uniform(seed, uint64_t(i)) < p ? T(0) : static_cast<T>(a[i] / (1.0 - p));
  }

  void gather_rows(const Act& x, std::span<const int64_t> rows, Act& out) override {
    out = alloc(static_cast<int64_t>(rows.size()), x.cols);
    const T* a = data<T>(x);
    T* o = data<T>(out);
    for (size_t i = 0; i < rows.size(); ++i) {
      ERANK_CHECK(rows[i] >= 0 && rows[i] < x.rows, "gather_rows: row {} of {}", rows[i], x.rows);
      std::copy_n(a + rows[i] * x.cols, x.cols, o + static_cast<int64_t>(i) * x.cols);
    }
  }

 private:
  // Attention work: one task per (sequence, head), each with its own score matrix; BLAS calls
  // inside are single-threaded. Longest sequences first so the last tasks are small.
  static std::vector<std::pair<int64_t, int64_t>> seq_head_tasks(const SeqLayout& seqs, int64_t H) {
    std::vector<std::pair<int64_t, int64_t>> tasks;
    for (int64_t s = 0; s < seqs.n_seq(); ++s)
      if (seqs.offsets[s + 1] > seqs.offsets[s])
        for (int64_t h = 0; h < H; ++h) tasks.push_back({s, h});
    std::stable_sort(tasks.begin(), tasks.end(), [&](auto& x, auto& y) {
      return seqs.offsets[x.first + 1] - seqs.offsets[x.first] >
             seqs.offsets[y.first + 1] - seqs.offsets[y.first];
    });
    return tasks;
  }

  // One score row of a query: its `n` visible scores start at v, `lead` masked ones lie before
  // them and the rest of the `width` after; soft-cap and softmax the visible, zero the masked.
  static void mask_softmax(T* v, int64_t lead, int64_t n, int64_t width, double cap) {
    if (cap > 0)
      for (int64_t j = 0; j < n; ++j) v[j] = static_cast<T>(cap * std::tanh(v[j] / cap));
    std::fill(v - lead, v, T(0));
    std::fill(v + n, v - lead + width, T(0));
    if constexpr (kFast) {
      vec_softmax(v, n);
    } else {
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, v[j]);
      T sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        v[j] = std::exp(v[j] - mx);
        sum += v[j];
      }
      for (int64_t j = 0; j < n; ++j) v[j] /= sum;
    }
  }

  // The weight packed for gemm_f32, made on first use and kept while the weight lives (keyed by
  // its data and shape; a weight freed and another allocated at the same address with the
  // same shape would be stale, so entries also hold its first 8 bytes as a check). A weight in
  // its file's type is expanded to f32 first (the values its per-panel expansion gives).
  const float* packed_weight(const Weight& w) {
    const void* key = w.stored() ? static_cast<const void*>(w.raw) : w.values();
    uint64_t first = 0;
    std::memcpy(&first, key, std::min<size_t>(sizeof first, w.stored() ? w.row_bytes : 4));
    auto it = packed_.find(key);
    if (it != packed_.end() && it->second.rows == w.dim(0) && it->second.cols == w.dim(1) &&
        it->second.first == first)
      return it->second.data.data();
    Packed p{w.dim(0), w.dim(1), first, {}};
    p.data.resize(gemm_f32_packed_floats(p.rows, p.cols));
    Buffer<float> expanded;
    const float* v = nullptr;
    if (w.stored()) {
      expanded.resize(size_t(p.rows * p.cols));
      w.dequantize_rows(0, p.rows, expanded.data());
      v = expanded.data();
    } else {
      v = w.values();
    }
    gemm_f32_pack({.N = p.rows, .K = p.cols, .B = v, .ldb = p.cols, .b_nk = true}, p.data.data(),
                  nthreads());
    return (packed_[key] = std::move(p)).data.data();
  }
  struct Packed {
    int64_t rows = 0, cols = 0;
    uint64_t first = 0;
    Buffer<float> data;
  };
  std::map<const void*, Packed> packed_;
  bool decode_cache_ = false;
  bool decoding_ = false;

  // cos and sin of every (row, frequency) angle, [rows, 2 * half]. Every layer rotates with the
  // same positions and frequencies, so the table is built once per forward and reused.
  const std::vector<T>& rope_table(std::span<const double> inv_freq,
                                   std::span<const int32_t> positions) {
    if (!std::equal(inv_freq.begin(), inv_freq.end(), rope_freq_.begin(), rope_freq_.end()) ||
        !std::equal(positions.begin(), positions.end(), rope_pos_.begin(), rope_pos_.end())) {
      const int64_t half = static_cast<int64_t>(inv_freq.size());
      const int64_t rows = static_cast<int64_t>(positions.size());
      rope_freq_.assign(inv_freq.begin(), inv_freq.end());
      rope_pos_.assign(positions.begin(), positions.end());
      rope_tab_.resize(static_cast<size_t>(rows * 2 * half));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < half; ++i) {
          // HF computes the angle in f32 (freqs = pos * inv_freq) then cos/sin; the fast path
          // follows that so large positions round the same way.
          const T ang = static_cast<T>(static_cast<T>(positions[size_t(r)]) *
                                       static_cast<T>(inv_freq[size_t(i)]));
          rope_tab_[size_t(r * 2 * half + i)] = std::cos(ang);
          rope_tab_[size_t(r * 2 * half + half + i)] = std::sin(ang);
        }
    }
    return rope_tab_;
  }
  std::vector<double> rope_freq_;
  std::vector<int32_t> rope_pos_;
  std::vector<T> rope_tab_;

  int nthreads() const {
    return threads_ > 0 ? threads_ : omp_get_max_threads();
  }
  int threads_;
  bool batch_invariant_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_backend(const std::string& name, int threads) {
  // erank threads with OpenMP around single-threaded BLAS calls (see linear()).
  openblas_set_num_threads(1);
  // Activation buffers come and go every op; keep freed memory in the heap instead of returning
  // it to the kernel, which would fault and zero every page again on the next op.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  std::unique_ptr<Backend> be;
  if (name == "cpu") be = std::make_unique<HostBackend<float>>(threads);
  if (name == "reference") be = std::make_unique<HostBackend<double>>(threads);
  if (be)
    return std::getenv("ERANK_PROFILE") ? make_profiling_backend(std::move(be)) : std::move(be);
  fail("unknown backend '{}' (known: cpu, reference)", name);
}

}  // namespace erank
