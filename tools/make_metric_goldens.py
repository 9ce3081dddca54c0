#!/usr/bin/env python3
"""Reference eRank and loss values from the ORIGINAL Diff-eRank code (seeds/002, copied verbatim
below) for tests/metrics. Run: /work/main/.venv/bin/python tools/make_metric_goldens.py

Each case file tests/fixtures/metrics/erank_<name>.safetensors holds:
  R            float32 N x d input (what erank_of receives)
  erank_f32 / entropy_f32   original code on R in float32 (as published)
  erank_f64 / entropy_f64   original code on R.double()
loss_case.safetensors: logits (N x V f32), ids (i32), losses (f64, torch cross_entropy in double).
"""
import math
import os

import numpy as np
import torch
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "metrics")


from original_diff_erank import cal_cov, cal_erank, compute, normalize  # noqa: E402,F401


def entropy_of(R):
    """The same pipeline, returning the entropy too (erank = exp(entropy) in cal_erank)."""
    A = cal_cov(normalize(R))
    with torch.no_grad():
        eig_val = torch.svd(A / torch.trace(A))[1]
        return -(eig_val * torch.log(eig_val)).nansum().item()


def cases(rng):
    yield "random_n7_d16", rng.standard_normal((7, 16))          # N < d (Gram route)
    yield "random_n50_d8", rng.standard_normal((50, 8))          # N > d (covariance route)
    yield "random_n32_d32", rng.standard_normal((32, 32))        # N == d
    low = rng.standard_normal((40, 4)) @ rng.standard_normal((4, 24))
    yield "lowrank4_n40_d24", low                                  # rank 4 + centring
    low2 = rng.standard_normal((12, 3)) @ rng.standard_normal((3, 64)) + 5.0
    yield "lowrank3_n12_d64_offset", low2                          # large mean, N < d
    # hidden-state-like: anisotropic scales, a few dominant directions
    scales = np.exp(rng.standard_normal(48) * 1.5)
    yield "aniso_n80_d48", rng.standard_normal((80, 48)) * scales
    yield "two_points_n2_d5", rng.standard_normal((2, 5))         # eRank 1


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240117)
    for name, R in cases(rng):
        R32 = R.astype(np.float32)
        t32 = torch.from_numpy(R32)
        t64 = t32.double()
        e32, h32 = compute(t32), entropy_of(t32)
        e64, h64 = compute(t64), entropy_of(t64)
        assert abs(math.exp(h64) - e64) <= 1e-12 * e64
        save_file({
            "R": R32,
            "erank_f32": np.array([e32], dtype=np.float64),
            "entropy_f32": np.array([h32], dtype=np.float64),
            "erank_f64": np.array([e64], dtype=np.float64),
            "entropy_f64": np.array([h64], dtype=np.float64),
        }, os.path.join(OUT, f"erank_{name}.safetensors"))
        print(f"{name:28s} N={R.shape[0]:3d} d={R.shape[1]:3d} erank f64 {e64:.12g} f32 {e32:.9g}")

    # loss: torch's cross_entropy in double on the shifted logits, per token
    N, V = 9, 37
    logits = (rng.standard_normal((N, V)) * 3).astype(np.float32)
    ids = rng.integers(0, V, size=N).astype(np.int32)
    tl = torch.from_numpy(logits).double()
    losses = torch.nn.functional.cross_entropy(tl[:-1], torch.from_numpy(ids[1:]).long(),
                                               reduction="none").numpy()
    save_file({"logits": logits, "ids": ids, "losses": losses.astype(np.float64)},
              os.path.join(OUT, "loss_case.safetensors"))
    print("loss mean", losses.mean())


if __name__ == "__main__":
    main()
