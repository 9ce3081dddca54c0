#!/usr/bin/env python3
"""The reference Diff-eRank pipeline: the original code's approach (seeds/002), with transformers.

Batch 1, float32, AutoModel (no LM head), both models resident, and per text a full d x d
torch.svd of the covariance (normalize -> cal_cov -> cal_erank, verbatim). The untrained model is
made as the original makes it, AutoModel.from_config (timed); its weights are then replaced by
erank's twin saved by `erank twin` (not timed, reported as swap_s), so both tools run the very
same weights and their results can be compared. Both models run in eval mode.

  reference_pipeline.py --model M --twin DIR --texts FILE.jsonl [--max-tokens N] [--out F.json]
M is an HF folder or a .gguf file (transformers dequantises it to f32).
Prints one JSON object: per-text eRanks, Diff-eRank (a) and (b), timings split into forward and
eRank, and the process's peak RSS.
"""
import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer


sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from original_diff_erank import compute  # noqa: E402  the original functions, verbatim


def load(spec):
    p = Path(spec)
    kw = dict(dtype=torch.float32, attn_implementation="eager")
    if p.suffix == ".gguf":
        p = p.resolve()
        tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
        return tok, AutoModel.from_pretrained(str(p.parent), gguf_file=p.name, **kw).eval()
    return AutoTokenizer.from_pretrained(spec), AutoModel.from_pretrained(spec, **kw).eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--twin", required=True)
    ap.add_argument("--texts", required=True)
    ap.add_argument("--field", default="text")
    ap.add_argument("--max-tokens", type=int, default=2048)
    ap.add_argument("--out")
    a = ap.parse_args()
    t0 = time.perf_counter()
    tok, model = load(a.model)
    twin = AutoModel.from_config(model.config, dtype=torch.float32,
                                 attn_implementation="eager").eval()
    texts = [json.loads(l)[a.field] for l in open(a.texts, encoding="utf-8") if l.strip()]
    load_s = time.perf_counter() - t0
    ts = time.perf_counter()
    sd = load_file(str(Path(a.twin) / "model.safetensors"))
    prefix = twin.base_model_prefix + "."
    sd = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}
    missing, unexpected = twin.load_state_dict(sd, strict=False)
    missing = [k for k in missing if "rotary" not in k and "inv_freq" not in k]
    if missing:
        sys.exit(f"twin swap: missing {missing[:5]}")
    del sd
    swap_s = time.perf_counter() - ts
    fwd_s = erank_s = 0.0
    rows = []
    t1 = time.perf_counter()
    with torch.no_grad():
        for t in texts:
            ids = tok(t, return_tensors="pt", truncation=True, max_length=a.max_tokens).input_ids
            row = {"n_tokens": int(ids.shape[1])}
            for key, m in (("erank_trained", model), ("erank_untrained", twin)):
                s = time.perf_counter()
                R = m(ids)[0][0, :, :]
                e = time.perf_counter()
                row[key] = compute(R)
                fwd_s += e - s
                erank_s += time.perf_counter() - e
            rows.append(row)
    run_s = time.perf_counter() - t1
    h0 = [math.log(r["erank_untrained"]) for r in rows]
    h1 = [math.log(r["erank_trained"]) for r in rows]
    res = {
        "n_texts": len(rows),
        "n_tokens": sum(r["n_tokens"] for r in rows),
        "diff_a": math.exp(sum(h0) / len(h0)) - math.exp(sum(h1) / len(h1)),
        "diff_b": sum(r["erank_untrained"] - r["erank_trained"] for r in rows) / len(rows),
        "load_s": load_s,
        "swap_s": swap_s,
        "run_s": run_s,
        "forward_s": fwd_s,
        "erank_s": erank_s,
        "threads": torch.get_num_threads(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "per_text": rows,
    }
    s = json.dumps(res)
    if a.out:
        Path(a.out).write_text(s + "\n")
    print(s)


if __name__ == "__main__":
    sys.exit(main())
