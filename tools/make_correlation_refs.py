#!/usr/bin/env python3
"""scipy.stats' pearsonr, spearmanr and kendalltau (tau-b) on fixed samples: the reference for
erank's correlations (src/metrics/correlation.h), which `erank sweep` reports across models.

Cases: seeded random samples of several sizes, samples with ties (in x, in y, in both), a
constant sample (scipy: nan), values on very different scales, and, with --sweep FILE, the
per-model numbers of a real `erank sweep` results file (every pair it correlates).

Usage: .venv/bin/python tools/make_correlation_refs.py [--sweep sweep.json]
Writes tests/fixtures/metrics/correlations.json.
"""
import argparse
import json
import math
import os
import warnings

import numpy as np
import scipy
import scipy.stats as st

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "metrics", "correlations.json")


def nan_to_none(v):
    v = float(v)
    return None if math.isnan(v) else v


def case(name, x, y):
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy warns and returns nan
        r = st.pearsonr(x, y).statistic if len(x) >= 2 else float("nan")
        rho = st.spearmanr(x, y).statistic
        tau = st.kendalltau(x, y, variant="b").statistic
    return {"name": name, "x": x, "y": y, "pearson": nan_to_none(r), "spearman": nan_to_none(rho),
            "kendall": nan_to_none(tau)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep", help="an erank sweep results file whose model numbers to add")
    args = ap.parse_args()
    rng = np.random.default_rng(20261206)
    cases = []
    for n in (3, 4, 5, 8, 30):
        x = rng.normal(size=n)
        y = 0.6 * x + rng.normal(size=n)
        cases.append(case(f"random_n{n}", x, y))
    cases.append(case("ties_in_x", [1, 2, 2, 3, 4, 4, 4, 5], [3.1, 1.2, 5.5, 2.0, 9.1, 0.3, 4.4, 7.7]))
    cases.append(case("ties_in_y", [0.5, 1.5, 2.5, 3.5, 4.5, 5.5], [1, 1, 2, 3, 3, 3]))
    cases.append(case("ties_in_both", [1, 1, 2, 2, 3, 3, 4], [2, 2, 1, 3, 3, 5, 5]))
    cases.append(case("perfect_inverse", [1, 2, 3, 4, 5], [50, 40, 30, 20, 10]))
    cases.append(case("constant_y", [1, 2, 3, 4], [7, 7, 7, 7]))
    cases.append(case("scales", [1e-9, 3e-9, 2e-9, 8e-9], [1e12, 5e11, 3e12, 9e12]))
    cases.append(case("two_points", [0.0, 1.0], [2.0, -1.0]))
    # The paper's OPT numbers (REFERENCE.md §1): Diff-eRank on OpenBookQA vs accuracy, 5 sizes.
    cases.append(case("opt_openbookqa", [1.410, 2.140, 2.338, 2.280, 3.032],
                      [0.276, 0.332, 0.370, 0.360, 0.366]))
    worst = None
    if args.sweep:
        doc = json.load(open(args.sweep))
        keys = ["n_params", "diff_a", "diff_b", "reduced_loss_per_token", "reduced_loss_per_text",
                "accuracy"]
        for s in doc["sets"]:
            ok = [m for m in s["models"] if m["status"] == "ok"]
            for i, a in enumerate(keys):
                for b in keys[i + 1:]:
                    if all(m.get(a) is not None and m.get(b) is not None for m in ok) and len(ok) >= 2:
                        c = case(f"sweep_{s['name']}_{a}_{b}", [m[a] for m in ok], [m[b] for m in ok])
                        cases.append(c)
                        # What erank sweep itself reported for this pair, against scipy.
                        for rep in s["correlations"]:
                            if rep["x"] == a and rep["y"] == b:
                                for k in ("pearson", "spearman", "kendall"):
                                    if rep[k] is not None and c[k] is not None:
                                        d = abs(rep[k] - c[k])
                                        worst = d if worst is None else max(worst, d)
    with open(OUT, "w") as f:
        json.dump({"scipy": scipy.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"{OUT}: {len(cases)} cases (scipy {scipy.__version__})")
    if worst is not None:
        print(f"erank sweep's reported correlations vs scipy: max |difference| {worst:.3g}")


if __name__ == "__main__":
    main()
