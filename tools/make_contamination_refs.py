#!/usr/bin/env python3
"""Reference values for erank's contamination scores (src/metrics/contamination.h), in float64
numpy, written from the papers' definitions and their public code:

  Min-K% Prob (Shi et al. 2023): log p(x_t | x_<t) for t = 2..n, k_length = int(len * k),
    np.mean(np.sort(token_log_probs)[:k_length]).
  Min-K%++ (Zhang et al. 2024): with p the next-token distribution at each position,
    mu = sum p log p, sigma^2 = sum p (log p)^2 - mu^2 (this form, as the paper's run.py),
    score = (log p(x_t) - mu) / sigma, then the same mean of the k% smallest.

Where int(len * k) is 0 the papers' code takes the mean of an empty slice (NaN); erank documents
max(1, int(len * k)) instead, and both are written here ("paper_k_length" and "k_length").
Also the score distributions (np.mean, np.std ddof=1, np.quantile linear, np.histogram bins=10).

Writes tests/fixtures/metrics/contamination.json. Run: .venv/bin/python tools/make_contamination_refs.py
"""
import json
import os

import numpy as np

KS = [0.1, 0.2, 0.5]
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "metrics",
                   "contamination.json")


def log_softmax64(z):
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def paper_mean_smallest(vals, k):
    k_length = int(len(vals) * k)
    if k_length == 0:
        return None  # np.mean of an empty slice: NaN
    return float(np.mean(np.sort(vals)[:k_length]))


def erank_mean_smallest(vals, k):
    if len(vals) == 0:
        return None
    k_length = max(1, int(len(vals) * k))
    return float(np.mean(np.sort(vals)[:k_length]))


def case(name, logits, ids):
    """logits: [N, V] as the model writes them (row t predicts ids[t + 1]; the last is unused)."""
    logits = np.asarray(logits)
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    assert logits.shape[0] == n
    lp = log_softmax64(logits[:-1]) if n > 1 else np.zeros((0, logits.shape[1]))
    p = np.exp(lp)
    tok = ids[1:]
    token_lp = lp[np.arange(n - 1), tok]
    mu = (p * lp).sum(-1)
    var = (p * np.square(lp)).sum(-1) - np.square(mu)
    sigma = np.sqrt(var)
    pp = (token_lp - mu) / sigma
    # The centred form, for the record: how far the paper's E[x^2] - mu^2 is from it here.
    var_c = (p * np.square(lp - mu[:, None])).sum(-1)
    rel = float(np.max(np.abs(var - var_c) / var_c)) if n > 1 else 0.0
    out = {
        "name": name,
        "dtype": str(logits.dtype),
        "n": int(n),
        "vocab": int(logits.shape[1]),
        # float32 values are written as the doubles they equal, so they round-trip exactly.
        "logits": [[float(v) for v in row] for row in logits],
        "ids": [int(i) for i in ids],
        "token_logp": token_lp.tolist(),
        "mu": mu.tolist(),
        "sigma": sigma.tolist(),
        "mink_pp_token": pp.tolist(),
        "variance_forms_max_rel_diff": rel,
        "paper_k_length": {},
        "k_length": {},
        "paper_min_k": {},
        "paper_min_k_plus_plus": {},
        "min_k": {},
        "min_k_plus_plus": {},
    }
    for k in KS:
        key = repr(k)
        out["paper_k_length"][key] = int((n - 1) * k)
        out["k_length"][key] = max(1, int((n - 1) * k)) if n > 1 else 0
        out["paper_min_k"][key] = paper_mean_smallest(token_lp, k)
        out["paper_min_k_plus_plus"][key] = paper_mean_smallest(pp, k)
        out["min_k"][key] = erank_mean_smallest(token_lp, k)
        out["min_k_plus_plus"][key] = erank_mean_smallest(pp, k)
    return out


def distribution(values, bins=10):
    v = np.asarray(values, dtype=np.float64)
    counts, edges = np.histogram(v, bins=bins)
    return {
        "values": v.tolist(),
        "bins": bins,
        "mean": float(np.mean(v)),
        "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
        "quantiles": [float(np.quantile(v, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)],
        "edges": edges.tolist(),
        "counts": counts.tolist(),
    }


def main():
    rng = np.random.default_rng(20240517)
    cases = []
    V = 50
    # Plain random logits, as a model writes them (float32).
    z = (rng.standard_normal((12, V)) * 2.0).astype(np.float32)
    cases.append(case("random_f32_12x50", z, rng.integers(0, V, 12)))
    # The same in float64, peakier.
    z = rng.standard_normal((12, V)) * 6.0
    cases.append(case("peaky_f64_12x50", z, rng.integers(0, V, 12)))
    # Ties: integer logits, repeated rows and tokens -> equal log-probs and equal scores.
    z = np.round(rng.standard_normal((12, V)) * 1.5).astype(np.float32)
    z[5] = z[3]
    z[7] = z[3]
    ids = rng.integers(0, V, 12)
    ids[4] = ids[6] = ids[8] = 17
    cases.append(case("ties_f32_12x50", z, ids))
    # A near-one-hot row whose token is the argmax (log p ~ -1e-16), and one whose token is not.
    z = (rng.standard_normal((12, V))).astype(np.float32)
    ids = rng.integers(0, V, 12)
    z[2, :] = 0
    z[2, 9] = 40
    ids[3] = 9
    z[6, :] = 0
    z[6, 11] = 30
    ids[7] = 12
    cases.append(case("near_one_hot_f32_12x50", z, ids))
    # Near-uniform rows: the spread of log p is tiny (the paper's variance form cancels most).
    z = rng.standard_normal((12, V)) * 1e-2
    cases.append(case("near_uniform_f64_12x50", z, rng.integers(0, V, 12)))
    # Short texts: 1 token (nothing scored), 2 (int(1 * k) = 0), 4, 6 (int(5 * 0.2) = 1), 11.
    for n in (1, 2, 4, 6, 11):
        z = (rng.standard_normal((n, V)) * 3.0).astype(np.float32)
        cases.append(case(f"short_f32_n{n}", z, rng.integers(0, V, n)))

    dists = [
        distribution(rng.standard_normal(37) * 2 - 5),
        distribution(np.arange(11, dtype=np.float64)),  # values on the bin edges
        distribution([-3.25, -3.25, -3.25]),  # all equal: [v - 0.5, v + 0.5]
        distribution([-1.5]),
        distribution(np.round(rng.standard_normal(20), 1)),  # ties
    ]
    doc = {
        "about": "Min-K% Prob and Min-K%++ in float64 numpy from the papers' definitions "
                 "(tools/make_contamination_refs.py). logits: [n, vocab] as a model writes them, "
                 "row t predicts ids[t + 1]. paper_*: the papers' code (None where it gives NaN); "
                 "min_k / min_k_plus_plus: with erank's k_length = max(1, int(len * k)).",
        "numpy": np.__version__,
        "ks": KS,
        "cases": cases,
        "distributions": dists,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} cases, {len(dists)} distributions, "
          f"{os.path.getsize(OUT)} bytes")
    for c in cases:
        print(f"  {c['name']}: variance forms differ by {c['variance_forms_max_rel_diff']:.2e}")


if __name__ == "__main__":
    main()
