#!/usr/bin/env python3
"""OpenCompass perplexity scores: the reference for `erank eval --scoring opencompass-ppl`.

OpenCompass's PPL inferencer (CMMLU/C-Eval `*_ppl` configs) writes each candidate answer into the
prompt, scores every whole string with its HuggingFace wrapper's `_get_ppl` and picks the lowest:
    loss_i = cross-entropy of token i given tokens < i, for i = 1 .. n-1 (no loss for token 0)
    score  = sum_i loss_i / n,     n = the string's token count (all tokens, the first included)
That formula is reimplemented here in float64 over transformers' float32 logits (the same GGUF,
dequantised as lm-eval's HF backend loads it). erank keeps lm-eval's prompt, so the strings scored
are the contexts + continuations of the lm-eval dump tests/fixtures/eval/cmmlu_0shot.

Needs the venv from tools/setup_venv.sh. Run: .venv/bin/python tools/make_ppl_refs.py
Writes tests/fixtures/eval/opencompass_ppl.json: per task and document, each candidate's token
count and score, and the chosen index (lowest score).
"""
import json
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "tests" / "fixtures" / "eval" / "cmmlu_0shot"
OUT = ROOT / "tests" / "fixtures" / "eval" / "opencompass_ppl.json"
TASKS = ["cmmlu_anatomy", "cmmlu_world_history"]
DOCS = 4


def main():
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(ROOT / "models", gguf_file="smollm2-135m.gguf")
    model = AutoModelForCausalLM.from_pretrained(ROOT / "models", gguf_file="smollm2-135m.gguf",
                                                 dtype=torch.float32).eval()
    out = {"about": "OpenCompass _get_ppl (sum of token losses 1..n-1 over n) on lm-eval's cmmlu "
                    "prompts; made by tools/make_ppl_refs.py",
           "transformers_version": transformers.__version__, "torch_version": torch.__version__,
           "tasks": {}}
    for task in TASKS:
        rows = []
        lines = (RUN / f"samples_{task}.jsonl").read_text(encoding="utf-8").splitlines()[:DOCS]
        for line in lines:
            s = json.loads(line)
            args = [s["arguments"][f"gen_args_{i}"] for i in range(len(s["arguments"]))]
            cands = []
            for a in args:
                ids = tok(a["arg_0"] + a["arg_1"])["input_ids"]  # as OpenCompass: default special tokens
                with torch.no_grad():
                    logits = model(torch.tensor([ids])).logits[0].double()
                logp = torch.log_softmax(logits[:-1], dim=-1)
                loss = -logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
                cands.append({"n_tokens": len(ids), "score": float(loss.sum() / len(ids))})
            best = min(range(len(cands)), key=lambda k: cands[k]["score"])
            rows.append({"doc_id": s["doc_id"], "target": s["target"], "candidates": cands,
                         "chosen": best})
        out["tasks"][task] = rows
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
