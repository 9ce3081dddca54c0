#!/usr/bin/env python3
"""Reference logits-processor outputs and stop-string cuts for tests/generate.
Run: /work/main/.venv/bin/python tools/make_sampling_refs.py

Writes tests/fixtures/generate/sampling_refs.json:
  chains   transformers' processor class names, in order, for a set of params (order test)
  vectors  fixed float32 logit rows (base64 little-endian f32) and a context (ids, with repeats)
  cases    a vector x params run through transformers' own chain (GenerationMixin._get_logits_processor
           on a tiny Llama, so the order and the greedy/sampling split are transformers'), stored as
           kept (base64 bitmask, bit i of byte i/8: token i is not -inf after the chain) and probs
           (base64 f32: softmax in float64 of transformers' processed logits, kept tokens only, in id order)
  stops    random strings cut by lm-eval's `until` rule (for term in until: s = s.split(term)[0]),
           whole and streamed piece by piece (generation stops at the first piece after which any
           term occurs; the rule is then applied to the text so far, as lm-eval's stopping criteria
           followed by its post-processing do)
borderline_flips: tokens whose kept/removed state flips when the cut is computed from a float64
softmax (erank) instead of torch's f32 one (a float sum and fast exp, ~1e-6 relative low on big rows).
It is non-zero only where a tied group straddles the top-p threshold within that rounding; the test
allows exactly those flips there and demands identical masks everywhere else.
"""
import base64
import json
import os
import random
import sys

import numpy as np
import torch
import transformers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, LogitsProcessorList

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "generate",
                   "sampling_refs.json")
torch.set_num_threads(1)


def b64_f32(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def b64_bits(mask):
    return base64.b64encode(np.packbits(mask.astype(np.uint8), bitorder="little").tobytes()).decode()


def tiny_model():
    cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2)
    return LlamaForCausalLM(cfg)


MODEL = tiny_model()


def hf_chain(params, ctx_len):
    """transformers' own chain for these params. erank's off values (top_k 0, min_p 0) map to
    "not set" (None), as generate() sees them when the user does not pass them."""
    kw = dict(do_sample=params.get("do_sample", True), temperature=params.get("temperature", 1.0),
              top_p=params.get("top_p", 1.0), repetition_penalty=params.get("repetition_penalty", 1.0))
    kw["top_k"] = params.get("top_k", 0) or None
    kw["min_p"] = params.get("min_p", 0.0) or None
    gc = GenerationConfig(**kw)
    return MODEL._get_logits_processor(generation_config=gc, input_ids_seq_length=ctx_len,
                                       logits_processor=LogitsProcessorList(), device="cpu",
                                       model_kwargs={})


def make_vectors():
    rng = np.random.default_rng(20240601)
    vs = []

    def add(name, x, ctx):
        vs.append({"name": name, "x": np.asarray(x, dtype=np.float32), "context": [int(i) for i in ctx]})

    add("v10_ties", [1, 1, 2, 2, 2, 0, -1, -1, 3, 3], [0, 2, 2, 6, 8, 8, 8, 13])  # 13 >= V: clamped away
    add("v32_normal", rng.standard_normal(32), rng.integers(0, 32, 20))
    add("v100_ties", rng.integers(0, 5, 100), rng.integers(0, 100, 40))  # V > 16: torch's introsort order
    add("v1000_negative", rng.standard_normal(1000) - 6.0, rng.integers(0, 1000, 300))
    x = rng.standard_normal(1000) * 2
    x[rng.random(1000) < 0.2] = -np.inf
    add("v1000_neginf", x, rng.integers(0, 1000, 200))
    x = rng.standard_normal(257)
    x[17] = 25.0
    add("v257_peaked", x, [17, 17, 3, 17, 200, 3])
    add("v500_flat", np.zeros(500), [1, 2, 3, 3, 499])
    add("v500_nearflat", rng.standard_normal(500) * 1e-3, rng.integers(0, 500, 100))
    x = rng.standard_normal(2048) * 3 + 2
    x[:64] = -x[:64]  # both signs under the repetition penalty
    add("v2048_wide", x, np.concatenate([np.arange(64), rng.integers(0, 2048, 100)]))
    # LM-like rows: a heavy head over a big vocab, one continuous and one quantised (many ties).
    x = rng.standard_normal(49152) * 2.0
    x[rng.integers(0, 49152, 12)] += rng.uniform(8, 14, 12)
    add("v49152_lm", x, rng.integers(0, 49152, 600))
    x = np.round((rng.standard_normal(49152) * 2.0) * 2) / 2
    x[rng.integers(0, 49152, 8)] += 9.0
    x[rng.integers(0, 49152, 500)] = -np.inf
    add("v49152_quantised", x, rng.integers(0, 49152, 600))
    return vs


SMALL_PARAMS = [
    {"do_sample": False, "repetition_penalty": 1.3},
    {"do_sample": False, "temperature": 0.7, "top_k": 5, "top_p": 0.9, "min_p": 0.1},
    {"temperature": 0.7}, {"temperature": 1.3},
    {"top_k": 1}, {"top_k": 5}, {"top_k": 50},
    {"top_p": 0.5}, {"top_p": 0.9}, {"top_p": 0.95},
    {"min_p": 0.05}, {"min_p": 0.1},
    {"repetition_penalty": 1.1}, {"repetition_penalty": 1.3},
    {"temperature": 0.7, "top_k": 50, "top_p": 0.9},
    {"temperature": 1.3, "top_p": 0.95, "min_p": 0.05, "repetition_penalty": 1.1},
    {"repetition_penalty": 1.3, "temperature": 0.7, "top_k": 5, "top_p": 0.5, "min_p": 0.1},
    {"top_k": 50, "top_p": 0.95},
    {"temperature": 0.7, "min_p": 0.1},
    {"temperature": 1.3, "top_k": 5, "top_p": 0.95},
]
# Big rows: the cut-heavy params plus two full-support ones, to keep the file small.
BIG_PARAMS = [
    {"do_sample": False, "repetition_penalty": 1.3}, {"temperature": 1.3}, {"top_k": 50},
    {"top_p": 0.5}, {"top_p": 0.9}, {"min_p": 0.05}, {"min_p": 0.1},
    {"temperature": 0.7, "top_k": 50, "top_p": 0.9},
    {"temperature": 1.3, "top_p": 0.95, "min_p": 0.05, "repetition_penalty": 1.1},
    {"repetition_penalty": 1.3, "temperature": 0.7, "top_k": 5, "top_p": 0.5, "min_p": 0.1},
]


def emulate_mask(x, ctx, params):
    """erank's algorithm in numpy (float64 softmax rounded to f32, cumsum in double stored as f32):
    flags the cases where only the softmax precision decides the cut."""
    s = x.copy()
    V = s.shape[0]
    pen = params.get("repetition_penalty", 1.0)
    if pen != 1.0:
        ids = np.unique([i for i in ctx if i < V])
        v = s[ids]
        s[ids] = np.where(v < 0, v * np.float32(pen), v / np.float32(pen))
    if not params.get("do_sample", True):
        return s > -np.inf

    def sm(v):
        e = np.exp((v - v.max()).astype(np.float64))
        return (e / e.sum()).astype(np.float32)

    t = params.get("temperature", 1.0)
    if t != 1.0:
        s = s / np.float32(t)
    k = params.get("top_k", 0)
    if k:
        kth = np.sort(s)[::-1][min(k, V) - 1]
        s = np.where(s < kth, -np.inf, s).astype(np.float32)
    p = params.get("top_p", 1.0)
    if p < 1.0:
        sv, si = torch.sort(torch.from_numpy(s), descending=False)
        cum = np.cumsum(sm(sv.numpy()).astype(np.float64)).astype(np.float32)
        rem = cum <= np.float32(1 - p)
        rem[-1] = False
        r = np.zeros(V, bool)
        r[si.numpy()] = rem
        s = np.where(r, -np.inf, s).astype(np.float32)
    m = params.get("min_p", 0.0)
    if m:
        pr = sm(s)
        s = np.where(pr < np.float32(m) * pr.max(), -np.inf, s).astype(np.float32)
    return s > -np.inf


def run_cases(vectors):
    cases, borderline = [], []
    for vi, v in enumerate(vectors):
        plist = BIG_PARAMS if v["x"].shape[0] > 10000 else SMALL_PARAMS
        ids = torch.tensor([v["context"]], dtype=torch.long)
        for params in plist:
            chain = hf_chain(params, len(v["context"]))
            out = chain(ids, torch.from_numpy(v["x"].copy())[None, :])[0]
            kept = (out > -np.inf).numpy()
            probs = torch.softmax(out.double(), -1).numpy()[kept]
            flips = int((emulate_mask(v["x"], v["context"], params) != kept).sum())
            if flips:
                borderline.append((v["name"], params, flips))
            cases.append({"vector": vi, "params": params, "names": [type(p).__name__ for p in chain],
                          "kept": b64_bits(kept), "n_kept": int(kept.sum()), "probs": b64_f32(probs),
                          "borderline_flips": flips})
    return cases, borderline


def chain_orders():
    grid = [{"do_sample": d, "temperature": t, "top_k": k, "top_p": p, "min_p": m, "repetition_penalty": r}
            for d in (False, True) for t in (1.0, 0.7) for k in (0, 50) for p in (1.0, 0.9)
            for m in (0.0, 0.1) for r in (1.0, 1.2)]
    return [{"params": g, "names": [type(p).__name__ for p in hf_chain(g, 4)]} for g in grid]


def lm_eval_cut(s, until):
    for term in until:  # lm-eval generate_until post-processing, verbatim
        if len(term) > 0:
            s = s.split(term)[0]
    return s


def stop_cases():
    rnd = random.Random(7)
    alphabet = ["a", "b", "c", "\n", " ", ".", "é", "→", "😀"]
    cases = []
    for _ in range(400):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30)))
        until = ["".join(rnd.choice(alphabet[:6] + ["é"]) for _ in range(rnd.randint(1, 3)))
                 for _ in range(rnd.randint(1, 3))]
        cuts = sorted(rnd.sample(range(1, len(text)), min(len(text) - 1, rnd.randint(0, 8)))) if len(text) > 1 else []
        pieces = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])] if text else []
        streamed, sofar = None, ""
        for piece in pieces:
            sofar += piece
            if any(t in sofar for t in until):
                streamed = lm_eval_cut(sofar, until)
                break
        cases.append({"text": text, "until": until, "pieces": pieces, "whole": lm_eval_cut(text, until),
                      "streamed": streamed})
    return cases


def main():
    vectors = make_vectors()
    cases, borderline = run_cases(vectors)
    for b in borderline:
        print("borderline (cut decided by softmax precision):", b, file=sys.stderr)
    doc = {
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "chains": chain_orders(),
        "vectors": [{"name": v["name"], "vocab": int(v["x"].shape[0]), "logits": b64_f32(v["x"]),
                     "context": v["context"]} for v in vectors],
        "cases": cases,
        "n_borderline": len(borderline),
        "stops": stop_cases(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(cases)} cases, {len(doc['stops'])} stop cases, {len(borderline)} borderline, "
          f"{os.path.getsize(OUT) / 1e6:.2f} MB -> {OUT}")


if __name__ == "__main__":
    main()
