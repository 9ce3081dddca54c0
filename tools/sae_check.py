#!/usr/bin/env python3
"""Recomputes `erank sae eval`'s activation metrics from the saved SAE and the dumped activations,
independently of erank (numpy + safetensors), and compares them with its JSON.

  build/erank sae eval --sae DIR --data F --out eval.json --dump-activations acts.safetensors
  .venv/bin/python tools/sae_check.py --sae DIR --acts acts.safetensors --eval eval.json

Follows cfg.json: z = ReLU(TopK_k((s x - b_dec) W_enc + b_enc)) (architecture "standard": no TopK),
x̂ = (z W_dec + b_dec) / s. Exits 1 when a metric differs by more than --tol (default 1e-3).
"""
import argparse
import json
import sys

import numpy as np
from safetensors.numpy import load_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sae", required=True)
    ap.add_argument("--acts", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--tol", type=float, default=1e-3)
    a = ap.parse_args()
    cfg = json.load(open(f"{a.sae}/cfg.json"))
    w = load_file(f"{a.sae}/sae_weights.safetensors")
    x = load_file(a.acts)["activations"].astype(np.float64)
    W_enc, b_enc = w["W_enc"].astype(np.float64), w["b_enc"].astype(np.float64)
    W_dec, b_dec = w["W_dec"].astype(np.float64), w["b_dec"].astype(np.float64)
    s = float(cfg["input_scale"])
    pre = (s * x - b_dec) @ W_enc + b_enc
    if cfg["architecture"] == "topk":
        k = int(cfg["k"])
        keep = np.argpartition(-pre, k - 1, axis=1)[:, :k]
        z = np.zeros_like(pre)
        np.put_along_axis(z, keep, np.take_along_axis(pre, keep, axis=1), axis=1)
        z = np.maximum(z, 0)
    else:
        z = np.maximum(pre, 0)
    xh = (z @ W_dec + b_dec) / s
    err = ((x - xh) ** 2).sum()
    var = ((x - x.mean(0)) ** 2).sum()
    fired = (z > 0).sum(0)
    cos = (x * xh).sum(1) / np.sqrt((x * x).sum(1) * (xh * xh).sum(1))
    mine = {
        "l0": (z > 0).sum(1).mean(),
        "fvu": err / var,
        "explained_variance": 1 - err / var,
        "mse": err / len(x),
        "cosine": cos.mean(),
        "dead_fraction": (fired == 0).mean(),
        "dense_fraction": (fired / len(x) > 0.1).mean(),
    }
    theirs = json.load(open(a.eval))
    worst = 0.0
    for key, v in mine.items():
        diff = abs(v - theirs[key]) / max(1.0, abs(v))
        worst = max(worst, diff)
        print(f"{key:20s} numpy {v:.6f}  erank {theirs[key]:.6f}  diff {diff:.2e}")
    print(f"tokens {len(x)}; worst relative difference {worst:.2e} (tolerance {a.tol})")
    sys.exit(0 if worst <= a.tol else 1)


if __name__ == "__main__":
    main()
