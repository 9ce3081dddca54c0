#!/usr/bin/env python3
"""References for erank's untrained twin (`erank twin`), made with transformers.

Needs the venv (tools/setup_venv.sh) and a built erank (scripts/build.sh).
Run:  .venv/bin/python tools/make_twin_refs.py
For each config in tests/fixtures/hf/<case>/ (f32 cases only):
  1. HF's own init scheme: AutoModelForCausalLM.from_config(config) (seeded with torch), and for
     every parameter its mean, std, numel, and whether it is all zeros / all ones, plus which
     rows are exactly zero (padding_idx). -> tests/fixtures/twin/hf_init_stats.json
  2. erank's twin: `erank twin --model <case> --seed 1234 --save tmp`, loaded by transformers
     (from_pretrained, float32, eager), hidden states and logits of fixed ids dumped to
     tests/fixtures/twin/<case>.safetensors (ids.i, hidden.i [L+1, N, d] or hidden.i.l, logits.i).
The C++ test draws the same twin from the same seed and must match these states (1e-4), and its
per-tensor statistics must match HF's scheme within sampling error.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent
HF = ROOT / "tests" / "fixtures" / "hf"
OUT = ROOT / "tests" / "fixtures" / "twin"
ERANK = ROOT / "build" / "erank"
SEED = 1234
LENGTHS = [3, 9]


def cases():
    return sorted(p.name for p in HF.iterdir()
                  if (p / "config.json").exists() and not p.name.endswith("-bf16")
                  and p.name not in ("llama_sharded", "openelm"))  # openelm: no transformers class


def hf_stats(case):
    cfg = AutoConfig.from_pretrained(HF / case)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    stats = {}
    seen = set()
    for name, p in model.named_parameters(remove_duplicate=True):
        if id(p) in seen:
            continue
        seen.add(id(p))
        t = p.detach().double()
        zero_rows = []
        if t.dim() == 2:
            zero_rows = torch.nonzero((t == 0).all(dim=1)).flatten().tolist()
        stats[name] = dict(mean=t.mean().item(), std=t.std().item() if t.numel() > 1 else 0.0,
                           numel=t.numel(), all_zero=bool((t == 0).all()),
                           all_one=bool((t == 1).all()), zero_rows=zero_rows[:8],
                           shape=list(t.shape))
    return stats


def twin_ref(case):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(ERANK), "twin", "--model", str(HF / case), "--seed", str(SEED),
                        "--save", tmp], check=True)
        model = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32,
                                                     attn_implementation="eager").eval()
    rs = np.random.RandomState(1)
    tensors = {}
    with torch.no_grad():
        for i, n in enumerate(LENGTHS):
            ids = rs.randint(0, model.config.vocab_size, size=n)
            out = model(input_ids=torch.tensor(ids)[None], output_hidden_states=True)
            hs = [h[0].float() for h in out.hidden_states]
            tensors[f"ids.{i}"] = torch.tensor(ids, dtype=torch.int32)
            if len({h.shape[-1] for h in hs}) == 1:
                tensors[f"hidden.{i}"] = torch.stack(hs).contiguous()
            else:
                for l, h in enumerate(hs):
                    tensors[f"hidden.{i}.{l}"] = h.contiguous()
            tensors[f"logits.{i}"] = out.logits[0].float().contiguous()
    save_file(tensors, str(OUT / f"{case}.safetensors"),
              metadata={"seed": str(SEED), "transformers_version": transformers.__version__})


def main(argv):
    OUT.mkdir(parents=True, exist_ok=True)
    todo = argv or cases()
    all_stats = {}
    stats_path = OUT / "hf_init_stats.json"
    if stats_path.exists():
        all_stats = json.loads(stats_path.read_text())
    for case in todo:
        all_stats[case] = hf_stats(case)
        twin_ref(case)
        print("twin refs:", case)
    stats_path.write_text(json.dumps(all_stats, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
