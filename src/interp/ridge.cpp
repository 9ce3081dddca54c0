#include "interp/ridge.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace erank {

std::vector<double> logspace(double start, double stop, int num) {
  std::vector<double> out(static_cast<size_t>(std::max(num, 0)));
  const double step = num > 1 ? (stop - start) / (num - 1) : 0.0;
  for (int i = 0; i < num; ++i) {
    // numpy: arange * step + start, then the endpoint set exactly
    const double y = (i == num - 1 && num > 1) ? stop : static_cast<double>(i) * step + start;
    out[static_cast<size_t>(i)] = std::pow(10.0, y);
  }
  return out;
}

std::vector<double> default_ridge_alphas() {
  return logspace(0.8, 4.1, 12);
}

std::vector<double> RidgeFit::predict(std::span<const double> x, int64_t n) const {
  const int64_t p = n_features, t = n_targets;
  ERANK_CHECK(static_cast<int64_t>(x.size()) == n * p, "predict: {} values for {} x {}", x.size(),
              n, p);
  std::vector<double> y(static_cast<size_t>(n * t));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < t; ++k) y[size_t(i * t + k)] = intercept[size_t(k)];
  if (n > 0 && p > 0 && t > 0)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(t), int(p), 1.0, x.data(),
                int(p), coef.data(), int(p), 1.0, y.data(), int(t));
  return y;
}

namespace {

// Symmetric eigendecomposition in place: a [m, m] becomes the eigenvectors (columns).
std::vector<double> eigh(std::vector<double>& a, int64_t m) {
  std::vector<double> w(static_cast<size_t>(m));
  const lapack_int info =
      LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', lapack_int(m), a.data(), lapack_int(m), w.data());
  ERANK_CHECK(info == 0, "LAPACKE_dsyevd failed with info = {} (m = {})", info, m);
  return w;
}

// What both routes give per alpha: the leave-one-out errors [n, t], and a way to the coefficients.
struct Decomposition {
  int64_t n, p, t, m;           // m: size of the decomposed matrix (p for X'X, n for XX')
  bool cov;                     // X'X (n > p) or XX' (n <= p)
  std::vector<double> vecs;     // [m, m] eigenvectors as columns
  std::vector<double> vals;     // [m]
  std::vector<double> proj;     // cov: Z = Xc V [n, p]; gram: Q itself (vecs)
  std::vector<double> proj_sq;  // elementwise squares of proj [n, m], for the hat diagonal
  std::vector<double> proj_y;   // proj' yc [m, t]
  std::vector<double> proj_1;   // proj' 1 [m] (the intercept's correction)
};

}  // namespace

RidgeFit ridge_cv(std::span<const double> x, int64_t n, int64_t p, std::span<const double> y,
                  int64_t t, const RidgeCVOptions& opt) {
  if (n < 3) fail("ridge: {} rows; leave-one-out cross-validation needs at least 3", n);
  if (p < 1 || t < 1) fail("ridge: {} features, {} targets", p, t);
  if (static_cast<int64_t>(x.size()) != n * p || static_cast<int64_t>(y.size()) != n * t)
    fail("ridge: X has {} values for {} x {}, y {} for {} x {}", x.size(), n, p, y.size(), n, t);
  if (opt.alphas.empty()) fail("ridge: empty alpha grid");
  for (double a : opt.alphas)
    if (!(a > 0) || !std::isfinite(a)) fail("ridge: alpha {} is not a positive number", a);

  // Centre X and y on their means: the intercept is then fitted exactly, unpenalised.
  std::vector<double> xm(size_t(p), 0.0), ym(size_t(t), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < p; ++j) xm[size_t(j)] += x[size_t(i * p + j)];
    for (int64_t k = 0; k < t; ++k) ym[size_t(k)] += y[size_t(i * t + k)];
  }
  for (double& v : xm) v /= double(n);
  for (double& v : ym) v /= double(n);
  std::vector<double> xc(x.begin(), x.end()), yc(y.begin(), y.end());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < p; ++j) xc[size_t(i * p + j)] -= xm[size_t(j)];
    for (int64_t k = 0; k < t; ++k) yc[size_t(i * t + k)] -= ym[size_t(k)];
  }

  // RidgeCV's gcv "auto": decompose the smaller of X'X and XX'.
  Decomposition d{n, p, t, 0, n > p, {}, {}, {}, {}, {}, {}};
  const std::vector<double> ones(size_t(n), 1.0);
  if (d.cov) {
    d.m = p;
    d.vecs.assign(size_t(p * p), 0.0);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(p), int(n), 1.0, xc.data(), int(p), 0.0,
                d.vecs.data(), int(p));
    d.vals = eigh(d.vecs, p);
    d.proj.resize(size_t(n * p));  // Z = Xc V: X H^-1 X' = Z diag(1 / (l + alpha)) Z'
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(p), int(p), 1.0, xc.data(),
                int(p), d.vecs.data(), int(p), 0.0, d.proj.data(), int(p));
  } else {
    d.m = n;
    d.vecs.assign(size_t(n * n), 0.0);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, int(n), int(p), 1.0, xc.data(), int(p),
                0.0, d.vecs.data(), int(n));
    d.vals = eigh(d.vecs, n);
    d.proj = d.vecs;  // Q: G^-1 = Q diag(1 / (l + alpha)) Q'
  }
  const int64_t m = d.m;
  d.proj_sq.resize(d.proj.size());
  for (size_t i = 0; i < d.proj.size(); ++i) d.proj_sq[i] = d.proj[i] * d.proj[i];
  d.proj_y.resize(size_t(m * t));
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(m), int(t), int(n), 1.0, d.proj.data(),
              int(m), yc.data(), int(t), 0.0, d.proj_y.data(), int(t));
  d.proj_1.resize(size_t(m));
  cblas_dgemv(CblasRowMajor, CblasTrans, int(n), int(m), 1.0, d.proj.data(), int(m), ones.data(), 1,
              0.0, d.proj_1.data(), 1);

  const bool per_target = opt.alpha_per_target && t > 1;
  std::vector<double> best_score(size_t(t), 0.0), best_alpha(size_t(t), 0.0);
  const auto M = static_cast<size_t>(m), N = static_cast<size_t>(n), T = static_cast<size_t>(t);
  std::vector<double> dinv(M), scaled(M * T), fitted(N * T), diag(N), corr(N), tmp(M);
  bool first = true;
  for (double alpha : opt.alphas) {
    for (int64_t j = 0; j < m; ++j) dinv[size_t(j)] = 1.0 / (d.vals[size_t(j)] + alpha);
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < t; ++k)
        scaled[size_t(j * t + k)] = d.proj_y[size_t(j * t + k)] * dinv[size_t(j)];
    for (int64_t j = 0; j < m; ++j) tmp[size_t(j)] = d.proj_1[size_t(j)] * dinv[size_t(j)];
    // fitted = proj diag(D) proj' y; diag = rowsum(proj^2 D); corr = proj diag(D) proj' 1
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(t), int(m), 1.0,
                d.proj.data(), int(m), scaled.data(), int(t), 0.0, fitted.data(), int(t));
    cblas_dgemv(CblasRowMajor, CblasNoTrans, int(n), int(m), 1.0, d.proj_sq.data(), int(m),
                dinv.data(), 1, 0.0, diag.data(), 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, int(n), int(m), 1.0, d.proj.data(), int(m), tmp.data(),
                1, 0.0, corr.data(), 1);
    std::vector<double> sse(size_t(t), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      // cov: alpha c = y - X H^-1 X' y, alpha d = 1 - diag(X H^-1 X') - (1 - X H^-1 X' 1) / n;
      // gram: c = G^-1 y, d = diag(G^-1) - G^-1 1 / n. Either way looe = c / d.
      double den;
      if (d.cov) {
        den = 1.0 - diag[size_t(i)] - (1.0 - corr[size_t(i)]) / double(n);
      } else {
        den = diag[size_t(i)] - corr[size_t(i)] / double(n);
      }
      for (int64_t k = 0; k < t; ++k) {
        const double num =
            d.cov ? yc[size_t(i * t + k)] - fitted[size_t(i * t + k)] : fitted[size_t(i * t + k)];
        const double e = num / den;
        sse[size_t(k)] += e * e;
      }
    }
    if (per_target) {
      for (int64_t k = 0; k < t; ++k) {
        const double score = -sse[size_t(k)] / double(n);
        if (first || score > best_score[size_t(k)]) {
          best_score[size_t(k)] = score;
          best_alpha[size_t(k)] = alpha;
        }
      }
    } else {
      double total = 0;
      for (double s : sse) total += s;
      const double score = -total / double(n * t);
      if (first || score > best_score[0]) {
        for (int64_t k = 0; k < t; ++k) {
          best_score[size_t(k)] = score;
          best_alpha[size_t(k)] = alpha;
        }
      }
    }
    first = false;
  }

  // Coefficients at each target's alpha: V diag(D) Z' y (cov) or Xc' Q diag(D) Q' y (gram).
  RidgeFit fit;
  fit.n_features = p;
  fit.n_targets = t;
  fit.alpha = best_alpha;
  fit.coef.assign(size_t(t * p), 0.0);
  fit.intercept.assign(size_t(t), 0.0);
  fit.loo_mse.resize(size_t(t));
  for (int64_t k = 0; k < t; ++k) {
    fit.loo_mse[size_t(k)] = -best_score[size_t(k)];
    for (int64_t j = 0; j < m; ++j)
      tmp[size_t(j)] = d.proj_y[size_t(j * t + k)] / (d.vals[size_t(j)] + best_alpha[size_t(k)]);
    double* w = fit.coef.data() + k * p;
    if (d.cov) {
      cblas_dgemv(CblasRowMajor, CblasNoTrans, int(p), int(p), 1.0, d.vecs.data(), int(p),
                  tmp.data(), 1, 0.0, w, 1);
    } else {
      std::vector<double> c(N);
      cblas_dgemv(CblasRowMajor, CblasNoTrans, int(n), int(n), 1.0, d.vecs.data(), int(n),
                  tmp.data(), 1, 0.0, c.data(), 1);
      cblas_dgemv(CblasRowMajor, CblasTrans, int(n), int(p), 1.0, xc.data(), int(p), c.data(), 1,
                  0.0, w, 1);
    }
    double b = ym[size_t(k)];
    for (int64_t j = 0; j < p; ++j) b -= xm[size_t(j)] * w[j];
    fit.intercept[size_t(k)] = b;
  }
  return fit;
}

}  // namespace erank
