#include "sae/train.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "sae/gemm.h"

namespace erank::sae {
namespace {

template <class T>
T dot(const T* a, const T* b, int64_t n) {
  T s = 0;
  for (int64_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

template <class T>
void axpy(T a, const T* x, T* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += a * x[j];
}

// One latent's part in one token's loss: z its value in the main (TopK) code, za in the AuxK code,
// dp the gradient reaching its pre-activation.
template <class T>
struct Entry {
  int64_t t;
  int32_t i;
  T z, za, dp;
};

template <class T>
void resize_like(Params<T>& g, const Params<T>& p) {
  g.enc.assign(p.enc.size(), T(0));
  g.b_enc.assign(p.b_enc.size(), T(0));
  g.dec.assign(p.dec.size(), T(0));
  g.b_dec.assign(p.b_dec.size(), T(0));
}

// The indices of the m largest of v[cand[...]] (all of cand when it has at most m).
template <class T>
void top_of(const T* v, std::vector<int32_t>& cand, int64_t m) {
  if (static_cast<int64_t>(cand.size()) > m) {
    std::nth_element(cand.begin(), cand.begin() + m, cand.end(),
                     [&](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
    cand.resize(static_cast<size_t>(m));
  }
}

template <class T>
LossParts dense_relu(const Config& cfg, const Params<T>& p, const T* X, int64_t B,
                     const std::vector<T>& U, std::vector<T>& P, Params<T>* grad,
                     std::vector<int64_t>* fired, std::vector<double>* sq_err) {
  const int64_t d = cfg.d_in, W = cfg.d_sae;
  const T lam = T(cfg.l1_coefficient);
  LossParts lp;
  std::vector<T> Z(static_cast<size_t>(B * W)), R(static_cast<size_t>(B * d));
  for (size_t e = 0; e < Z.size(); ++e) Z[e] = P[e] > 0 ? P[e] : T(0);
  for (int64_t t = 0; t < B; ++t) std::copy(p.b_dec.begin(), p.b_dec.end(), R.begin() + t * d);
  gemm(false, false, B, d, W, T(1), Z.data(), W, p.dec.data(), d, T(1), R.data(), d);
  double mse = 0, l1 = 0, l0 = 0;
  for (int64_t t = 0; t < B; ++t) {
    double e2 = 0;
    for (int64_t j = 0; j < d; ++j) {
      T& r = R[size_t(t * d + j)];
      r -= X[t * d + j];
      e2 += double(r) * double(r);
    }
    mse += e2;
    if (sq_err) (*sq_err)[size_t(t)] = e2;
    for (int64_t i = 0; i < W; ++i) {
      const T z = Z[size_t(t * W + i)];
      l1 += double(z);
      if (z > 0) {
        l0 += 1;
        if (fired) ++(*fired)[size_t(i)];
      }
    }
  }
  lp.mse = mse / double(B);
  lp.l1 = double(lam) * l1 / double(B);
  lp.l0 = l0 / double(B);
  if (!grad) return lp;
  Params<T>& g = *grad;
  // G = 2R/B; dZ = G W_dec^T + λ/B; dP = dZ ⊙ [P > 0]
  const T inv = T(2) / T(B);
  for (T& r : R) r *= inv;
  std::vector<T>& dP = P;  // P is not needed any more
  std::vector<T> mask(P.size());
  for (size_t e = 0; e < P.size(); ++e) mask[e] = P[e] > 0 ? T(1) : T(0);
  gemm(false, true, B, W, d, T(1), R.data(), d, p.dec.data(), d, T(0), dP.data(), W);
  for (size_t e = 0; e < dP.size(); ++e) dP[e] = (dP[e] + lam / T(B)) * mask[e];
  gemm(true, false, W, d, B, T(1), Z.data(), W, R.data(), d, T(0), g.dec.data(), d);
  gemm(true, false, W, d, B, T(1), dP.data(), W, U.data(), d, T(0), g.enc.data(), d);
  for (int64_t t = 0; t < B; ++t) {
    for (int64_t i = 0; i < W; ++i) g.b_enc[size_t(i)] += dP[size_t(t * W + i)];
    for (int64_t j = 0; j < d; ++j) g.b_dec[size_t(j)] += R[size_t(t * d + j)];
  }
  for (int64_t i = 0; i < W; ++i)
    axpy(-g.b_enc[size_t(i)], &p.enc[size_t(i * d)], g.b_dec.data(), d);
  return lp;
}

}  // namespace

template <class T>
LossParts loss_and_grad(const Config& cfg, const Params<T>& p, const T* X, int64_t B,
                        const LossOptions& lo, Params<T>* grad, std::vector<int64_t>* fired,
                        std::vector<double>* sq_err, const T* aux_e_in, std::vector<T>* aux_e_out) {
  const int64_t d = cfg.d_in, W = cfg.d_sae;
  ERANK_CHECK(B > 0 && d > 0 && W > 0, "empty batch or SAE ({} x {} x {})", B, d, W);
  if (grad) resize_like(*grad, p);
  if (sq_err) sq_err->assign(size_t(B), 0.0);
  // U = X - b_dec; P = U W_enc + b_enc
  std::vector<T> U(static_cast<size_t>(B * d)), P(static_cast<size_t>(B * W));
  double var = 0;
  {
    std::vector<double> mean(static_cast<size_t>(d), 0.0);
    for (int64_t t = 0; t < B; ++t)
      for (int64_t j = 0; j < d; ++j) {
        U[size_t(t * d + j)] = X[t * d + j] - p.b_dec[size_t(j)];
        mean[size_t(j)] += double(X[t * d + j]);
      }
    for (double& m : mean) m /= double(B);
    for (int64_t t = 0; t < B; ++t)
      for (int64_t j = 0; j < d; ++j) {
        const double c = double(X[t * d + j]) - mean[size_t(j)];
        var += c * c;
      }
  }
  for (int64_t t = 0; t < B; ++t) std::copy(p.b_enc.begin(), p.b_enc.end(), P.begin() + t * W);
  gemm(false, true, B, W, d, T(1), U.data(), d, p.enc.data(), d, T(1), P.data(), W);
  if (cfg.arch == Arch::relu_l1) {
    LossParts lp = dense_relu(cfg, p, X, B, U, P, grad, fired, sq_err);
    lp.var = var / double(B);
    lp.total = lp.mse + lp.l1;
    return lp;
  }

  // TopK: per token the k largest pre-activations, those > 0 fire; AuxK: the aux_k largest among
  // the dead latents. Entries are laid out per token, k + ka slots each.
  const int64_t k = std::min<int64_t>(cfg.k, W);
  std::vector<int32_t> dead_list;
  if (lo.dead && lo.aux_k > 0)
    for (int64_t i = 0; i < W; ++i)
      if (lo.dead[i]) dead_list.push_back(int32_t(i));
  const int64_t ka = std::min<int64_t>(lo.aux_k, int64_t(dead_list.size()));
  const int64_t slots = k + ka;
  std::vector<Entry<T>> ent(static_cast<size_t>(B * slots));
  std::vector<int32_t> n_main(static_cast<size_t>(B), 0), n_aux(static_cast<size_t>(B), 0);
  std::vector<T> R(static_cast<size_t>(B * d)), Ra(ka > 0 ? size_t(B * d) : 0);
  std::vector<double> e2_main(static_cast<size_t>(B)), e2_aux(static_cast<size_t>(B));
  const T inv = T(2) / T(B), inva = T(2 * lo.aux_coef) / T(B);
#pragma omp parallel
  {
    std::vector<int32_t> cand;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < B; ++t) {
      const T* pt = &P[size_t(t * W)];
      Entry<T>* et = &ent[size_t(t * slots)];
      cand.resize(size_t(W));
      std::iota(cand.begin(), cand.end(), 0);
      top_of(pt, cand, k);
      int32_t nm = 0;
      T* r = &R[size_t(t * d)];
      std::copy(p.b_dec.begin(), p.b_dec.end(), r);
      for (int32_t i : cand)
        if (pt[i] > 0) {
          et[nm++] = {t, i, pt[i], T(0), T(0)};
          axpy(pt[i], &p.dec[size_t(i) * size_t(d)], r, d);
        }
      n_main[size_t(t)] = nm;
      double e2 = 0;
      for (int64_t j = 0; j < d; ++j) {
        r[j] -= X[t * d + j];  // R = X̂ - X
        e2 += double(r[j]) * double(r[j]);
      }
      e2_main[size_t(t)] = e2;
      // dZ_i = G_t · W_dec[i] with G = 2R/B
      for (int32_t e = 0; e < nm; ++e)
        et[e].dp = inv * dot(r, &p.dec[size_t(et[e].i) * size_t(d)], d);
      if (ka > 0) {
        cand = dead_list;
        top_of(pt, cand, ka);
        int32_t na = 0;
        T* ra = &Ra[size_t(t * d)];
        for (int64_t j = 0; j < d; ++j)
          ra[j] = aux_e_in ? -aux_e_in[t * d + j] : r[j];  // Ê - E = Za W_dec + (X̂ - X)
        for (int32_t i : cand)
          if (pt[i] > 0) {
            et[nm + na++] = {t, i, T(0), pt[i], T(0)};
            axpy(pt[i], &p.dec[size_t(i) * size_t(d)], ra, d);
          }
        n_aux[size_t(t)] = na;
        double ea = 0;
        for (int64_t j = 0; j < d; ++j) ea += double(ra[j]) * double(ra[j]);
        e2_aux[size_t(t)] = ea;
        for (int32_t e = nm; e < nm + na; ++e)
          et[e].dp = inva * dot(ra, &p.dec[size_t(et[e].i) * size_t(d)], d);
      }
    }
  }
  if (aux_e_out) {
    aux_e_out->resize(R.size());
    for (size_t e = 0; e < R.size(); ++e) (*aux_e_out)[e] = -R[e];
  }
  LossParts lp;
  double mse = 0, aux = 0, l0 = 0;
  for (int64_t t = 0; t < B; ++t) {
    mse += e2_main[size_t(t)];
    if (n_aux[size_t(t)] > 0) aux += e2_aux[size_t(t)];
    l0 += n_main[size_t(t)];
    if (sq_err) (*sq_err)[size_t(t)] = e2_main[size_t(t)];
    if (fired)
      for (int32_t e = 0; e < n_main[size_t(t)]; ++e)
        ++(*fired)[size_t(ent[size_t(t * slots + e)].i)];
  }
  lp.mse = mse / double(B);
  lp.aux = lo.aux_coef * aux / double(B);
  lp.l0 = l0 / double(B);
  lp.var = var / double(B);
  lp.total = lp.mse + lp.aux;
  if (!grad) return lp;

  // Latent-major gather of the entries, so that each latent's rows are summed by one thread.
  Params<T>& g = *grad;
  std::vector<int64_t> start(static_cast<size_t>(W) + 1, 0);
  for (int64_t t = 0; t < B; ++t)
    for (int32_t e = 0; e < n_main[size_t(t)] + n_aux[size_t(t)]; ++e)
      ++start[size_t(ent[size_t(t * slots + e)].i) + 1];
  for (int64_t i = 0; i < W; ++i) start[size_t(i + 1)] += start[size_t(i)];
  std::vector<const Entry<T>*> by(static_cast<size_t>(start[size_t(W)]));
  {
    std::vector<int64_t> pos(start.begin(), start.end() - 1);
    for (int64_t t = 0; t < B; ++t)
      for (int32_t e = 0; e < n_main[size_t(t)] + n_aux[size_t(t)]; ++e) {
        const Entry<T>& en = ent[size_t(t * slots + e)];
        by[size_t(pos[size_t(en.i)]++)] = &en;
      }
  }
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < W; ++i) {
    T* gd = &g.dec[size_t(i * d)];
    T* ge = &g.enc[size_t(i * d)];
    T gb = 0;
    for (int64_t q = start[size_t(i)]; q < start[size_t(i + 1)]; ++q) {
      const Entry<T>& en = *by[size_t(q)];
      if (en.z != 0) axpy(en.z * inv, &R[size_t(en.t * d)], gd, d);
      if (en.za != 0) axpy(en.za * inva, &Ra[size_t(en.t * d)], gd, d);
      axpy(en.dp, &U[size_t(en.t * d)], ge, d);
      gb += en.dp;
    }
    g.b_enc[size_t(i)] = gb;
  }
  // b_dec: + Σ_t G_t (the decoder's bias) - Σ_i (Σ_t dP_ti) W_enc[i] (it is subtracted at the
  // input)
  for (int64_t t = 0; t < B; ++t) axpy(inv, &R[size_t(t * d)], g.b_dec.data(), d);
  for (int64_t i = 0; i < W; ++i)
    if (g.b_enc[size_t(i)] != 0)
      axpy(-g.b_enc[size_t(i)], &p.enc[size_t(i * d)], g.b_dec.data(), d);
  return lp;
}

template LossParts loss_and_grad<float>(const Config&, const Params<float>&, const float*, int64_t,
                                        const LossOptions&, Params<float>*, std::vector<int64_t>*,
                                        std::vector<double>*, const float*, std::vector<float>*);
template LossParts loss_and_grad<double>(const Config&, const Params<double>&, const double*,
                                         int64_t, const LossOptions&, Params<double>*,
                                         std::vector<int64_t>*, std::vector<double>*, const double*,
                                         std::vector<double>*);

Trainer::Trainer(Sae& sae, TrainOptions o) : sae_(sae), o_(o) {
  resize_like(m, sae.p);
  resize_like(v, sae.p);
  last_fired.assign(size_t(sae.W()), 0);
  dead_.assign(size_t(sae.W()), 0);
}

double Trainer::dead_fraction() const {
  int64_t n = 0;
  for (int64_t lf : last_fired) n += tokens - lf > o_.dead_window;
  return double(n) / double(last_fired.size());
}

StepStats Trainer::step(const float* X, int64_t n) {
  const int64_t d = sae_.d(), W = sae_.W();
  for (int64_t i = 0; i < W; ++i)
    dead_[size_t(i)] = tokens - last_fired[size_t(i)] > o_.dead_window;
  LossOptions lo{dead_.data(), sae_.cfg.arch == Arch::topk ? o_.aux_k : 0, o_.aux_coef};
  std::vector<int64_t> fired(static_cast<size_t>(W), 0);
  std::vector<double> sq_err;
  StepStats st;
  st.loss = loss_and_grad<float>(sae_.cfg, sae_.p, X, n, lo, &g_, &fired,
                                 o_.resample_every > 0 ? &sq_err : nullptr);
  tokens += n;
  for (int64_t i = 0; i < W; ++i)
    if (fired[size_t(i)]) last_fired[size_t(i)] = tokens;
      // The decoder's rows stay on the unit sphere: drop each row gradient's radial component.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < W; ++i) {
    const float* w = &sae_.p.dec[size_t(i * d)];
    float* gw = &g_.dec[size_t(i * d)];
    axpy(-dot(gw, w, d), w, gw, d);
  }
  ++steps;
  const double bc1 = 1 - std::pow(o_.beta1, double(steps)),
               bc2 = 1 - std::pow(o_.beta2, double(steps));
  const float step_size = float(o_.lr / bc1), b1 = float(o_.beta1), b2 = float(o_.beta2),
              isb2 = float(1 / std::sqrt(bc2)), eps = float(o_.eps);
  auto adam = [&](std::vector<float>& p, std::vector<float>& g, std::vector<float>& m1,
                  std::vector<float>& m2) {
    const int64_t N = int64_t(p.size());
#pragma omp parallel for schedule(static)
    for (int64_t e = 0; e < N; ++e) {
      m1[size_t(e)] = b1 * m1[size_t(e)] + (1 - b1) * g[size_t(e)];
      m2[size_t(e)] = b2 * m2[size_t(e)] + (1 - b2) * g[size_t(e)] * g[size_t(e)];
      p[size_t(e)] -= step_size * m1[size_t(e)] / (std::sqrt(m2[size_t(e)]) * isb2 + eps);
    }
  };
  adam(sae_.p.enc, g_.enc, m.enc, v.enc);
  adam(sae_.p.b_enc, g_.b_enc, m.b_enc, v.b_enc);
  adam(sae_.p.dec, g_.dec, m.dec, v.dec);
  adam(sae_.p.b_dec, g_.b_dec, m.b_dec, v.b_dec);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < W; ++i) {
    float* w = &sae_.p.dec[size_t(i * d)];
    const float nrm = std::sqrt(dot(w, w, d));
    if (nrm > 0)
      for (int64_t j = 0; j < d; ++j) w[j] /= nrm;
  }
  if (o_.resample_every > 0 && steps % o_.resample_every == 0) {
    const int64_t before = std::count(dead_.begin(), dead_.end(), uint8_t(1));
    resample(X, n, sq_err);
    st.resampled = before;
  }
  st.dead_fraction = dead_fraction();
  return st;
}

// Towards Monosemanticity's resampling: each dead latent gets a batch input drawn with probability
// proportional to its squared reconstruction error; the decoder row becomes that input (centred,
// unit norm), the encoder row the same times 0.2 x the mean alive encoder norm, b_enc 0, and its
// Adam moments are reset.
void Trainer::resample(const float* X, int64_t n, const std::vector<double>& sq_err) {
  const int64_t d = sae_.d(), W = sae_.W();
  double alive_norm = 0;
  int64_t n_alive = 0;
  for (int64_t i = 0; i < W; ++i)
    if (!dead_[size_t(i)]) {
      alive_norm +=
          std::sqrt(double(dot(&sae_.p.enc[size_t(i * d)], &sae_.p.enc[size_t(i * d)], d)));
      ++n_alive;
    }
  alive_norm = n_alive ? alive_norm / double(n_alive) : 1.0;
  std::mt19937_64 rng(o_.seed ^ (uint64_t(steps) * 0x9E3779B97F4A7C15ull));
  std::discrete_distribution<int64_t> pick(sq_err.begin(), sq_err.end());
  for (int64_t i = 0; i < W; ++i) {
    if (!dead_[size_t(i)]) continue;
    const int64_t t = pick(rng);
    std::vector<float> u(static_cast<size_t>(d));
    double nn = 0;
    for (int64_t j = 0; j < d; ++j) {
      u[size_t(j)] = X[t * d + j] - sae_.p.b_dec[size_t(j)];
      nn += double(u[size_t(j)]) * u[size_t(j)];
    }
    const float inv = nn > 0 ? float(1 / std::sqrt(nn)) : 0.f;
    for (int64_t j = 0; j < d; ++j) {
      const size_t e = size_t(i * d + j);
      sae_.p.dec[e] = u[size_t(j)] * inv;
      sae_.p.enc[e] = u[size_t(j)] * inv * float(0.2 * alive_norm);
      m.dec[e] = v.dec[e] = m.enc[e] = v.enc[e] = 0;
    }
    sae_.p.b_enc[size_t(i)] = m.b_enc[size_t(i)] = v.b_enc[size_t(i)] = 0;
    last_fired[size_t(i)] = tokens;
  }
  (void)n;
}

std::vector<float> geometric_median(const float* X, int64_t n, int64_t d, int iters) {
  ERANK_CHECK(n > 0 && d > 0, "geometric median of {} rows", n);
  std::vector<double> y(static_cast<size_t>(d), 0.0), num(static_cast<size_t>(d));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < d; ++j) y[size_t(j)] += X[t * d + j];
  for (double& v : y) v /= double(n);
  for (int it = 0; it < iters; ++it) {
    std::fill(num.begin(), num.end(), 0.0);
    double den = 0, moved = 0;
    for (int64_t t = 0; t < n; ++t) {
      double dist = 0;
      for (int64_t j = 0; j < d; ++j) {
        const double c = X[t * d + j] - y[size_t(j)];
        dist += c * c;
      }
      const double w =
          1 / std::max(std::sqrt(dist), 1e-8);  // a row at y gets a large, finite weight
      den += w;
      for (int64_t j = 0; j < d; ++j) num[size_t(j)] += w * X[t * d + j];
    }
    for (int64_t j = 0; j < d; ++j) {
      const double v = num[size_t(j)] / den;
      moved += (v - y[size_t(j)]) * (v - y[size_t(j)]);
      y[size_t(j)] = v;
    }
    if (moved < 1e-12) break;
  }
  return std::vector<float>(y.begin(), y.end());
}

}  // namespace erank::sae
