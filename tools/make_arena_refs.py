#!/usr/bin/env python3
"""Arena rating references for tests/arena, computed by FastChat's and lmarena's own code.

Run: bash tools/setup_venv.sh && .venv/bin/python tools/make_arena_refs.py --fastchat-git DIR
  DIR: a clone of github.com/lm-sys/FastChat (a bare/mirror git dir works: files are read with
  `git show HEAD:...`), or --fastchat-src DIR for a checkout. PyPI's fschat 0.2.36 has online Elo
  but neither the pure-MLE Bradley-Terry nor style control: those live in the repository's
  fastchat/serve/monitor/rating_systems.py (and add_markdown_info.py), imported from there as they
  are. lmarena's PyPI arena-rank (BradleyTerry: L-BFGS MLE, sandwich and multinomial bootstrap) is
  the second reference.

Writes tests/fixtures/arena/:
  battles.jsonl   a synthetic FastChat battle log (seeded): 5 models, unequal pair counts, ties and
                  "tie (bothbad)", tstamps out of file order, short markdown answers in
                  conversation_a/b and conv_metadata as FastChat's style control reads it
  refs.json       elo: fschat 0.2.36 compute_elo on the battles sorted by tstamp
                  bt_fastchat: rating_systems.compute_bt (scipy L-BFGS-B); bt_fastchat_anchor:
                    the same anchored with scale_and_offset(baseline_model=m, baseline_rating=1000)
                  bt_mle_scipy: our own tightly converged scipy minimize of the same likelihood
                  bt_arena_rank / sandwich_arena_rank / bootstrap_arena_rank: arena-rank 0.1.1
                  bootstrap_fastchat: compute_bootstrap_bt(100 rounds) q2.5/q97.5 (pandas quantile);
                    bootstrap_fastchat_1000: the same with 1000 rounds
                  rank_*: 1 + models whose lower bound exceeds this one's upper bound
                  style: compute_style_control ratings + coefficients, bootstrap (100) bounds;
                  style_tight: FastChat's contextual_bt_loss_and_grad minimised to gtol 1e-12
  markdown.json   count_markdown_elements(remove_pattern(text, "```([^`]*)```")) on tricky texts
"""
import argparse
import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import types

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "arena")
MODELS = ["alpha-7b", "bravo-13b", "charlie-70b", "delta-mini", "echo-1.5b"]
STRENGTH = {"alpha-7b": 0.0, "bravo-13b": 0.35, "charlie-70b": 0.9, "delta-mini": -0.6,
            "echo-1.5b": 0.2}  # natural log-odds units
VERBOSITY = {"alpha-7b": 1.0, "bravo-13b": 1.6, "charlie-70b": 1.2, "delta-mini": 0.6,
             "echo-1.5b": 2.0}  # answer length multiplier: length helps win, as people vote


def load_fastchat(args):
    """fastchat/serve/monitor/{rating_systems,add_markdown_info}.py from the repository."""
    mods = {}
    for name in ["rating_systems", "add_markdown_info"]:
        rel = f"fastchat/serve/monitor/{name}.py"
        if args.fastchat_src:
            path = os.path.join(args.fastchat_src, rel)
        else:
            text = subprocess.check_output(["git", "--git-dir", args.fastchat_git, "show",
                                            f"HEAD:{rel}"])
            path = os.path.join(tempfile.mkdtemp(), f"{name}.py")
            with open(path, "wb") as f:
                f.write(text)
        spec = importlib.util.spec_from_file_location(f"fastchat_repo_{name}", path)
        m = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = m  # its bootstrap pickles fit_bt by module name for mp.Pool
        spec.loader.exec_module(m)
        mods[name] = m
    commit = None
    if args.fastchat_git:
        commit = subprocess.check_output(["git", "--git-dir", args.fastchat_git, "rev-parse",
                                          "HEAD"]).decode().strip()
    return mods, commit


def load_fschat_elo():
    """fschat 0.2.36's compute_elo; its module imports plotting and serving code that the rating
    does not use, stubbed when absent (offline venv)."""
    for name in ["plotly", "plotly.express", "plotly.graph_objects", "gradio"]:
        try:
            __import__(name)
        except Exception:
            sys.modules[name] = types.ModuleType(name)
    from fastchat.serve.monitor import elo_analysis
    return elo_analysis.compute_elo


def answer(rng, model):
    """A short markdown answer whose length and formatting depend on the model."""
    v = VERBOSITY[model]
    parts = []
    if rng.random() < 0.3 * v:
        parts.append(rng.choice(["# Answer", "## Steps", "### Note", "#### Detail"]))
    parts.append("Text " * max(1, int(rng.expovariate(1.0) * 6 * v)))
    if rng.random() < 0.35 * v:
        for i in range(rng.randint(1, 4)):
            parts.append(rng.choice([f"{i + 1}. item", "- item", "* item", "  + item"]))
    if rng.random() < 0.3 * v:
        parts.append(rng.choice(["**bold** text", "__bold__ and **more**", "a **b** c __d__"]))
    if rng.random() < 0.1:
        parts.append("```\n# not a header\n- not a list\n```")
    return "\n".join(parts)


def make_battles(seed=20251123, n=1200):
    rng = random.Random(seed)
    pairs = [(a, b) for i, a in enumerate(MODELS) for b in MODELS[i + 1:]]
    pair_w = [rng.uniform(0.2, 3.0) for _ in pairs]  # unequal pair counts
    recs = []
    t0 = 1_700_000_000.0
    for i in range(n):
        a, b = rng.choices(pairs, pair_w)[0]
        if rng.random() < 0.5:
            a, b = b, a
        ans_a, ans_b = answer(rng, a), answer(rng, b)
        la, lb = len(ans_a.split()), len(ans_b.split())
        d = STRENGTH[a] - STRENGTH[b] + 0.8 * (la - lb) / (la + lb + 1)
        p = 1 / (1 + math.exp(-d))
        u = rng.random()
        if u < 0.12:
            winner = "tie"
        elif u < 0.18:
            winner = "tie (bothbad)"
        else:
            winner = "model_a" if rng.random() < p else "model_b"
        tstamp = t0 + i * 37.0 + rng.random()
        recs.append({
            "question_id": f"q{i:05d}",
            "model_a": a, "model_b": b, "winner": winner, "judge": f"user{rng.randint(1, 40)}",
            "conversation_a": [{"role": "user", "content": f"question {i}"},
                               {"role": "assistant", "content": ans_a}],
            "conversation_b": [{"role": "user", "content": f"question {i}"},
                               {"role": "assistant", "content": ans_b}],
            "turn": 1, "anony": True, "language": "English", "tstamp": tstamp,
        })
    # Out of file order: the raters must sort by tstamp (FastChat's report does).
    for i in range(0, n - 1, 7):
        recs[i], recs[i + 1] = recs[i + 1], recs[i]
    return recs


def add_conv_metadata(recs, md):
    pat = __import__("re").compile("```([^`]*)```")
    for r in recs:
        meta = {}
        for side in ["a", "b"]:
            text = "\n".join(t["content"] for t in r[f"conversation_{side}"]
                             if t["role"] == "assistant")
            meta[f"sum_assistant_{side}_tokens"] = len(text.split())
            meta.update(md.count_markdown_elements(md.remove_pattern(text, pat), suffix=f"_{side}"))
        meta["sum_user_tokens"] = 2
        r["conv_metadata"] = meta


def ranks(models, lo, hi):
    return {m: 1 + sum(1 for o in models if o != m and lo[o] > hi[m]) for m in models}


def mle_scipy(df):
    """The same likelihood as compute_bt, minimised to a tight tolerance (our check that the
    reference optimisers converged), centred on 1000."""
    from scipy.optimize import minimize
    idx = {m: i for i, m in enumerate(sorted(set(df.model_a) | set(df.model_b)))}
    a = df.model_a.map(idx).values
    b = df.model_b.map(idx).values
    y = np.where(df.winner == "model_a", 1.0, np.where(df.winner == "model_b", 0.0, 0.5))

    def f(t):
        d = t[a] - t[b]
        p = 1 / (1 + np.exp(-d))
        loss = -np.sum(y * d - np.logaddexp(0, d))
        g = np.zeros_like(t)
        np.add.at(g, a, -(y - p))
        np.add.at(g, b, (y - p))
        return loss, g

    r = minimize(f, np.zeros(len(idx)), jac=True, method="L-BFGS-B",
                 options={"maxiter": 10000, "gtol": 1e-12, "ftol": 1e-15})
    t = r.x - r.x.mean()
    return {m: 400 * t[i] / math.log(10) + 1000 for m, i in idx.items()}


def markdown_cases():
    return [
        "# h1\n## h2\n### h3\n#### h4\n##### h5\n###### h6\n####### h7",
        "#no space\n #indented\n#\ttab header\n#\nx",
        "1. one\n2. two\n\n\n3. three\n  10. nested\n1.no",
        "- a\n* b\n+ c\n  - d\n-no\n\n\n- after blanks",
        "**bold** and **more bold** but **not\nacross** and ****",
        "__under__ and __x__y__ and ___triple___",
        "```python\n# comment\n- item\n```\n# real header\n- real item",
        "```a``` then a again: a **a**",
        "1.\n2. x\n-\n- y",
        "",
        "## Title\n\nSome **bold** text.\n\n1. first\n2. second\n- bullet\n\n```\n**not bold**\n```\n",
    ]


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--fastchat-git")
    g.add_argument("--fastchat-src")
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    fc, commit = load_fastchat(args)
    rs, md = fc["rating_systems"], fc["add_markdown_info"]
    fschat_elo = load_fschat_elo()

    recs = make_battles()
    add_conv_metadata(recs, md)
    with open(os.path.join(OUT, "battles.jsonl"), "w") as f:
        for i, r in enumerate(recs):
            if i >= 200:  # the rest carry conv_metadata only (keeps the file small)
                r = {k: v for k, v in r.items() if not k.startswith("conversation_")}
                # and plain ints for the counts (FastChat's extract_style_feature takes either)
                r["conv_metadata"] = {k: (sum(v.values()) if isinstance(v, dict) else v)
                                      for k, v in r["conv_metadata"].items()}
            f.write(json.dumps(r, separators=(",", ":")) + "\n")

    df = pd.DataFrame(recs).sort_values(by="tstamp", kind="stable").reset_index(drop=True)
    out = {"source": {"fschat": "0.2.36", "arena_rank": "0.1.1", "fastchat_commit": commit,
                      "n_battles": len(df), "rounds": args.rounds}}
    out["elo"] = {k: float(v) for k, v in fschat_elo(df).items()}
    out["elo_fastchat_repo"] = {k: float(v) for k, v in rs.compute_elo(df).items()}

    bt = rs.compute_bt(df)
    out["bt_fastchat"] = {k: float(v) for k, v in bt.items()}
    anchor = "alpha-7b"
    m, o, models, w = rs.preprocess_for_bt(df)
    theta = rs.fit_bt(m, o, w, len(models), math.log(10.0))
    anch = rs.scale_and_offset(theta, models, 400, 1000, baseline_model=anchor, baseline_rating=1000)
    out["bt_fastchat_anchor"] = {"model": anchor, "rating": 1000.0,
                                 "ratings": {mm: float(anch[i]) for i, mm in enumerate(models)}}
    out["bt_mle_scipy"] = mle_scipy(df)

    boot = rs.compute_bootstrap_bt(df, num_round=1000)  # Monte Carlo error small enough to compare
    out["bootstrap_fastchat_1000"] = {mm: [float(boot.quantile(0.025)[mm]),
                                           float(boot.quantile(0.975)[mm])] for mm in boot.columns}
    boot = rs.compute_bootstrap_bt(df, num_round=args.rounds)
    lo, hi = boot.quantile(0.025), boot.quantile(0.975)
    out["bootstrap_fastchat"] = {mm: [float(lo[mm]), float(hi[mm])] for mm in boot.columns}
    out["rank_bootstrap_fastchat"] = ranks(list(boot.columns), lo, hi)

    import multiprocessing.dummy
    import arena_rank.models.bradley_terry as ar_bt
    from arena_rank.models.bradley_terry import BradleyTerry
    ar_bt.mp.Pool = multiprocessing.dummy.Pool  # fork after jax started deadlocks: threads instead
    from arena_rank.utils.data_utils import PairDataset
    ar_df = df.copy()
    ar_df["winner"] = ar_df["winner"].replace({"tie (bothbad)": "both_bad"})
    ds = PairDataset.from_pandas(ar_df)
    sw = BradleyTerry(n_competitors=len(ds.competitors)).compute_ratings_and_cis(ds, ci_method="sandwich")
    out["bt_arena_rank"] = {c: float(sw["ratings"][i]) for i, c in enumerate(sw["competitors"])}
    out["sandwich_arena_rank"] = {c: [float(sw["rating_lower"][i]), float(sw["rating_upper"][i])]
                                  for i, c in enumerate(sw["competitors"])}
    slo = {c: v[0] for c, v in out["sandwich_arena_rank"].items()}
    shi = {c: v[1] for c, v in out["sandwich_arena_rank"].items()}
    out["rank_sandwich_arena_rank"] = ranks(list(slo), slo, shi)
    bs = BradleyTerry(n_competitors=len(ds.competitors)).compute_ratings_and_cis(
        ds, ci_method="bootstrap", num_bootstrap=args.rounds, n_jobs=2)
    out["bootstrap_arena_rank"] = {c: [float(bs["rating_lower"][i]), float(bs["rating_upper"][i])]
                                   for i, c in enumerate(bs["competitors"])}

    sc, coef = rs.compute_style_control(df)
    # FastChat's own loss, minimised to a tight tolerance: its fit stops ~1e-3 short (maxiter 100,
    # gtol 1e-6 on the unnormalised loss).
    from scipy.optimize import minimize
    sm, sf, so, smodels = rs.preprocess_for_style(df)
    tight = minimize(rs.contextual_bt_loss_and_grad, np.zeros(len(smodels) + sf.shape[1]),
                     args=(len(smodels), sm, sf, so, math.log(10.0), 0.5, 0.25), jac=True,
                     method="L-BFGS-B", options={"maxiter": 10000, "gtol": 1e-12, "ftol": 1e-15}).x
    out["style_tight"] = {"ratings": {mm: float(tight[i] * 400 + 1000) for i, mm in enumerate(smodels)},
                          "coefficients": [float(c) for c in tight[len(smodels):]]}
    np.random.seed(0)  # compute_bootstrap_style_control draws from numpy's global stream
    sboot, _ = rs.compute_bootstrap_style_control(df, num_round=args.rounds)
    slo2, shi2 = sboot.quantile(0.025), sboot.quantile(0.975)
    out["style"] = {"ratings": {k: float(v) for k, v in sc.items()},
                    "coefficients": [float(c) for c in coef],
                    "bootstrap": {mm: [float(slo2[mm]), float(shi2[mm])] for mm in sboot.columns}}

    with open(os.path.join(OUT, "refs.json"), "w") as f:
        json.dump(out, f, indent=1)

    pat = __import__("re").compile("```([^`]*)```")
    cases = []
    for t in markdown_cases():
        c = md.count_markdown_elements(md.remove_pattern(t, pat), suffix="_a")
        cases.append({"text": t, "header": sum(c["header_count_a"].values()),
                      "list": sum(c["list_count_a"].values()),
                      "bold": sum(c["bold_count_a"].values())})
    with open(os.path.join(OUT, "markdown.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print(json.dumps({k: out[k] for k in ["elo", "bt_fastchat", "bt_arena_rank"]}, indent=1))


if __name__ == "__main__":
    main()
