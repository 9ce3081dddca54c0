#!/usr/bin/env python3
"""Features of a saved SAE that fire on one set of texts and not on another, from activations
dumped by `erank sae eval --dump-activations` (numpy, independent of erank's encoder).

  build/erank sae eval --sae DIR --data zh.jsonl --no-ce --out zh.json --dump-activations zh.safetensors
  build/erank sae eval --sae DIR --data en.jsonl --no-ce --out en.json --dump-activations en.safetensors
  .venv/bin/python tools/sae_contrast.py --sae DIR --a zh.safetensors --b en.safetensors [--top 10]

Encodes as cfg.json says (z = ReLU(TopK_k((s x - b_dec) W_enc + b_enc)); no TopK unless "topk"),
then ranks features by (fraction of A's tokens where the feature fires) - (fraction of B's).
Prints one JSON object: per feature its firing fractions on A and B and its mean activation on A.
"""
import argparse
import json

import numpy as np
from safetensors.numpy import load_file


def encode(x, w, cfg):
    s = float(cfg["input_scale"])
    pre = (s * x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
    if cfg["architecture"] != "topk":
        return np.maximum(pre, 0.0)
    k = int(cfg["k"])
    keep = np.argpartition(-pre, k - 1, axis=1)[:, :k]
    z = np.zeros_like(pre)
    np.put_along_axis(z, keep, np.take_along_axis(pre, keep, axis=1), axis=1)
    return np.maximum(z, 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sae", required=True)
    ap.add_argument("--a", required=True, help="activations of the texts the features should fire on")
    ap.add_argument("--b", required=True, help="activations of the texts they should not fire on")
    ap.add_argument("--top", type=int, default=10)
    a = ap.parse_args()
    cfg = json.load(open(f"{a.sae}/cfg.json"))
    w = {k: v.astype(np.float64) for k, v in load_file(f"{a.sae}/sae_weights.safetensors").items()}
    za = encode(load_file(a.a)["activations"].astype(np.float64), w, cfg)
    zb = encode(load_file(a.b)["activations"].astype(np.float64), w, cfg)
    fa, fb = (za > 0).mean(axis=0), (zb > 0).mean(axis=0)
    order = np.argsort(-(fa - fb))[: a.top]
    print(json.dumps({"tokens_a": int(za.shape[0]), "tokens_b": int(zb.shape[0]),
                      "features": [{"feature": int(i), "fires_a": round(float(fa[i]), 4),
                                    "fires_b": round(float(fb[i]), 4),
                                    "mean_act_a": round(float(za[:, i].mean()), 4)} for i in order]},
                     indent=1))


if __name__ == "__main__":
    main()
