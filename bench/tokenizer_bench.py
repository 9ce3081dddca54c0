#!/usr/bin/env python3
"""Hugging Face `tokenizers` throughput on a corpus, single-threaded (RAYON_NUM_THREADS=1,
TOKENIZERS_PARALLELISM=false, one encode call per line, as erank's bench does).

  tokenizer_bench.py --folder DIR --corpus FILE [--repeat N]
Prints one JSON line like bench_tokenizer.
"""
import argparse
import json
import os
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(a.folder, "tokenizer.json"))
    load_s = time.perf_counter() - t0
    with open(a.corpus, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines = [l.decode("utf-8", errors="replace") for l in raw]
    nbytes = sum(len(l) for l in raw)
    best, ntok = 1e30, 0
    for _ in range(a.repeat):
        t = time.perf_counter()
        n = 0
        for l in lines:
            n += len(tok.encode(l).ids)
        best = min(best, time.perf_counter() - t)
        ntok = n
    print(json.dumps(dict(impl="tokenizers", load_s=round(load_s, 3), bytes=nbytes, lines=len(lines), tokens=ntok,
                          seconds=round(best, 4), mb_per_s=round(nbytes / best / 1e6, 3),
                          tokens_per_s=round(ntok / best))))


if __name__ == "__main__":
    main()
