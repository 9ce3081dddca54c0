#!/usr/bin/env python3
"""transformers' greedy generation on the real GGUF models, the reference for `erank generate`.

Needs the venv from tools/setup_venv.sh and the models from scripts/install.sh.
Run:  .venv/bin/python tools/make_generate_refs.py [smollm2-135m] [gemma3-270m] [--check-all]
Writes tests/fixtures/generate/:
  prompts.json                  the prompt set shared by both models (one prompt per line)
  greedy_<model>.json           per model: metadata on top, then one case per line

Models are loaded as tools/make_real_model_refs.py does: AutoModelForCausalLM.from_pretrained(models/,
gguf_file=..., dtype=float32, attn_implementation="eager") (transformers dequantises every tensor to
float32 with gguf-py) and AutoTokenizer.from_pretrained(models/, gguf_file=...).

Tokenisation: a plain prompt is tokenizer(text) (add_special_tokens=True: Gemma adds <bos>, SmolLM2
adds nothing); a chat prompt is rendered with tokenizer.apply_chat_template(messages, tokenize=False,
add_generation_prompt=True) and tokenised with add_special_tokens=False (Gemma's rendered text starts
with the literal "<bos>"). The Gemma GGUF (base gemma-3-270m) carries no tokenizer.chat_template, so
the Gemma 3 instruction template (as in google/gemma-3-*-it tokenizer_config.json) is set here; the
template used is recorded in the output.

Generation: one prompt at a time, batch 1, no padding, model.generate(input_ids, attention_mask=ones,
generation_config=GREEDY) with do_sample=False, num_beams=1, max_new_tokens=48 and every logits
processor neutral; the script checks that the processed scores equal the raw logits at every step.

EOS set (erank implements the same rule): tokenizer.ggml.eos_token_id, plus tokenizer.ggml.eot_token_id
when present, plus the id of each of <|im_end|>, <|eot_id|>, <end_of_turn>, <|end|>, <|endoftext|> that
the GGUF vocabulary has with token_type CONTROL (3); sorted ascending, duplicates removed.

Per case: name, kind, text (rendered text for chat), messages (chat only), add_special_tokens,
prompt_ids, output_ids (new tokens, the EOS included when one ended it), finish ("eos"|"length"),
margin (per step: top1 - top2 of the raw float32 logits) and top1 (per step: the top-1 logit), as
floats rounded to 9 significant digits.

Self-check (printed, not written): for the SELF_CHECK prompts (every prompt with --check-all) a full
forward over prompt+output (no cache) gives the same argmax at every step as the cached generation.

Deterministic: torch runs with 2 threads; re-running rewrites byte-identical files on this machine.
"""
import hashlib
import importlib.metadata
import json
import sys
import time
from pathlib import Path

import gguf
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
OUT = ROOT / "tests" / "fixtures" / "generate"
NAMES = ["smollm2-135m", "gemma3-270m"]
MAX_NEW_TOKENS = 48
TIE_MARGIN = 1e-3
EOS_CANDIDATES = ["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>"]
THREADS = 2
SELF_CHECK = ["en_story", "chat_multi_turn"]  # full-forward check; --check-all: every prompt

# Gemma 3 instruction template (google/gemma-3-*-it tokenizer_config.json), used when the GGUF has
# no tokenizer.chat_template. Base gemma-3-270m never saw it in training; that is fine for parity.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)

PROMPTS = [
    # English
    {"name": "en_factual", "kind": "english", "text": "The capital of France is"},
    {"name": "en_story", "kind": "english", "text": "Once upon a time, in a small village by the sea, there lived"},
    {"name": "en_instruction", "kind": "english", "text": "Explain in simple terms why the sky is blue."},
    {"name": "en_list", "kind": "english", "text": "Here is a list of five common fruits:\n1."},
    {"name": "en_math", "kind": "english",
     "text": "Question: Tom has 3 apples. He buys 5 more and gives 2 to his sister. "
             "How many apples does Tom have now?\nAnswer:"},
    {"name": "en_short", "kind": "english", "text": "Good morning"},
    {"name": "en_trailing_space", "kind": "english", "text": "The quick brown fox jumps over the "},
    {"name": "en_dialogue", "kind": "english", "text": "\"Where are you going?\" she asked.\n\""},
    # Chinese
    {"name": "zh_factual", "kind": "chinese", "text": "中国的首都是"},
    {"name": "zh_story", "kind": "chinese", "text": "从前有座山，山里有座庙，庙里有个老和尚"},
    {"name": "zh_instruction", "kind": "chinese", "text": "请用简单的话解释什么是人工智能。"},
    {"name": "zh_poem", "kind": "chinese", "text": "床前明月光，"},
    # Code
    {"name": "code_python", "kind": "code",
     "text": "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"},
    {"name": "code_c", "kind": "code", "text": "#include <stdio.h>\n\nint max_of(int a, int b) {\n"},
    {"name": "code_json", "kind": "code", "text": "{\"name\": \"Alice\", \"age\": 30, \"skills\": ["},
    {"name": "code_sql", "kind": "code",
     "text": "SELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nJOIN orders o ON"},
    {"name": "code_shell", "kind": "code", "text": "$ find . -name '*.py' | xargs grep -n"},
    # Chat (message lists)
    {"name": "chat_system_user", "kind": "chat", "messages": [
        {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
        {"role": "user", "content": "What is the boiling point of water at sea level?"}]},
    {"name": "chat_multi_turn", "kind": "chat", "messages": [
        {"role": "user", "content": "Hi! Can you help me plan a trip?"},
        {"role": "assistant", "content": "Of course! Where would you like to go?"},
        {"role": "user", "content": "I want to visit Japan for a week in spring."}]},
    {"name": "chat_chinese", "kind": "chat", "messages": [
        {"role": "user", "content": "你好！请介绍一下你自己。"}]},
    {"name": "chat_code", "kind": "chat", "messages": [
        {"role": "user", "content": "Write a Python function that reverses a string."}]},
    {"name": "chat_one_word", "kind": "chat", "messages": [
        {"role": "user", "content": "Hello"}]},
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
    """The EOS rule (see the module docstring), read from the GGUF with gguf-py."""
    r = gguf.GGUFReader(str(gguf_path))
    f = r.fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    found = []  # (id, why)
    found.append((int(f["tokenizer.ggml.eos_token_id"].contents()), "tokenizer.ggml.eos_token_id"))
    if "tokenizer.ggml.eot_token_id" in f:
        found.append((int(f["tokenizer.ggml.eot_token_id"].contents()), "tokenizer.ggml.eot_token_id"))
    index = {t: i for i, t in enumerate(tokens)}
    for s in EOS_CANDIDATES:
        i = index.get(s)
        if i is not None and int(types[i]) == int(gguf.TokenType.CONTROL):
            found.append((i, s))
    ids = sorted({i for i, _ in found})
    sources = {str(i): sorted({why for j, why in found if j == i}) for i in ids}
    chat_template = f["tokenizer.chat_template"].contents() if "tokenizer.chat_template" in f else None
    return ids, sources, chat_template


def greedy_config(eos, pad, bos):
    return GenerationConfig(
        do_sample=False, num_beams=1, max_new_tokens=MAX_NEW_TOKENS, min_new_tokens=0,
        temperature=1.0, top_k=None, top_p=1.0, min_p=None, typical_p=1.0, epsilon_cutoff=0.0,
        eta_cutoff=0.0, repetition_penalty=1.0, no_repeat_ngram_size=0, length_penalty=1.0,
        bad_words_ids=None, suppress_tokens=None, begin_suppress_tokens=None, forced_bos_token_id=None,
        forced_eos_token_id=None, renormalize_logits=False, remove_invalid_values=False,
        exponential_decay_length_penalty=None, eos_token_id=list(eos), pad_token_id=pad,
        bos_token_id=bos, use_cache=True, output_logits=True, output_scores=True,
        return_dict_in_generate=True)


def write_lines(path, head, key, items):
    """Valid JSON: the head keys, then `key` as a list with one compact item per line."""
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False, separators=(',', ':'))},")
    lines.append(f"{json.dumps(key)}: [")
    for i, it in enumerate(items):
        sep = "," if i + 1 < len(items) else ""
        lines.append(json.dumps(it, ensure_ascii=False, separators=(",", ":")) + sep)
    lines.append("]")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def encode(tok, p):
    if p["kind"] == "chat":
        text = tok.apply_chat_template(p["messages"], tokenize=False, add_generation_prompt=True)
        special = False
    else:
        text = p["text"]
        special = True
    return text, special, tok(text, add_special_tokens=special)["input_ids"]


@torch.no_grad()
def run(name, check_all=False):
    t0 = time.time()
    gguf_path = MODELS / f"{name}.gguf"
    if not gguf_path.exists():
        print(f"skip {name}: {gguf_path} missing (run scripts/install.sh)")
        return None
    file = gguf_path.name
    model = AutoModelForCausalLM.from_pretrained(MODELS, gguf_file=file, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(MODELS, gguf_file=file)
    eos, eos_sources, gguf_template = eos_set(gguf_path)
    if gguf_template is not None:
        assert tok.chat_template == gguf_template, "transformers' chat template differs from the GGUF's"
        template_source = "gguf tokenizer.chat_template"
    else:
        tok.chat_template = GEMMA3_CHAT_TEMPLATE
        template_source = "none in the GGUF; Gemma 3 instruction template (google/gemma-3-*-it) set by this script"
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos[0]
    gc = greedy_config(eos, pad, tok.bos_token_id)
    effective, _ = model._prepare_generation_config(gc)
    print(f"{name}: tokenizer {type(tok).__name__}, bos {tok.bos_token!r}={tok.bos_token_id}, "
          f"eos set {eos} {eos_sources}, pad {pad}, chat template: {template_source}")
    print(f"{name}: effective generation config:\n{effective}")
    # The control tokens of the chat format must be single special tokens of the tokenizer.
    for s in EOS_CANDIDATES + ["<|im_start|>", "<start_of_turn>", "<bos>"]:
        i = tok.convert_tokens_to_ids(s)
        if i is not None and i != tok.unk_token_id and tok.convert_ids_to_tokens(i) == s:
            assert tok(s, add_special_tokens=False)["input_ids"] == [i], s

    cases = []
    for p in PROMPTS:
        text, special, ids = encode(tok, p)
        inp = torch.tensor([ids])
        out = model.generate(inp, attention_mask=torch.ones_like(inp), generation_config=gc)
        new = out.sequences[0, len(ids):].tolist()
        logits = torch.stack([x[0] for x in out.logits]).float()  # [steps, V]
        scores = torch.stack([x[0] for x in out.scores]).float()
        assert torch.equal(logits, scores), f"{name}/{p['name']}: a logits processor changed the scores"
        assert logits.shape[0] == len(new)
        assert logits.argmax(dim=1).tolist() == new, f"{name}/{p['name']}: output is not the argmax"
        top2 = logits.topk(2, dim=1).values
        margin = (top2[:, 0] - top2[:, 1]).tolist()
        finish = "eos" if new and new[-1] in eos else "length"
        assert finish == "eos" or len(new) == MAX_NEW_TOKENS
        assert all(t not in eos for t in new[:-1])
        check = ""
        if check_all or p["name"] in SELF_CHECK:
            # Self-check: the full forward (no cache) over prompt+output picks the same tokens.
            full = model(input_ids=torch.tensor([ids + new]), use_cache=False).logits[0, len(ids) - 1:-1].float()
            same = full.argmax(dim=1).tolist() == new
            diff = (full - logits).abs().max().item()
            check = f"  full-forward argmax same: {same} (max |logit diff| {diff:.2e})"
            if not same:
                bad = [i for i, (a, b) in enumerate(zip(full.argmax(dim=1).tolist(), new)) if a != b]
                check += f"; differs at steps {bad}, margins there {[margin[i] for i in bad]}"
        case = {"name": p["name"], "kind": p["kind"], "text": text}
        if p["kind"] == "chat":
            case["messages"] = p["messages"]
        case.update({"add_special_tokens": special, "prompt_ids": ids, "output_ids": new, "finish": finish,
                     "margin": [g9(m) for m in margin], "top1": [g9(v) for v in top2[:, 0].tolist()]})
        cases.append(case)
        print(f"  {p['name']:18s} prompt {len(ids):3d} new {len(new):2d} {finish:6s} min margin "
              f"{min(margin):.3g}  {tok.decode(new)!r:.60}{check}", flush=True)

    n_small = sum(m < TIE_MARGIN for c in cases for m in c["margin"])
    smallest = min(m for c in cases for m in c["margin"])
    eff = {k: v for k, v in effective.to_dict().items() if k != "transformers_version"}
    head = {
        "model": name, "gguf_file": file, "gguf_size": gguf_path.stat().st_size, "gguf_sha256": sha256(gguf_path),
        "transformers_version": transformers.__version__, "torch_version": torch.__version__,
        "gguf_py_version": importlib.metadata.version("gguf"), "torch_threads": THREADS,
        "dtype": "float32", "attn_implementation": "eager",
        "load": "AutoModelForCausalLM.from_pretrained(models/, gguf_file=..., dtype=float32); "
                "AutoTokenizer.from_pretrained(models/, gguf_file=...)",
        "tokenizer_class": type(tok).__name__,
        "tokenization": "plain: tokenizer(text) (add_special_tokens=True); chat: apply_chat_template(messages, "
                        "tokenize=False, add_generation_prompt=True) then tokenizer(text, add_special_tokens=False)",
        "chat_template_source": template_source, "chat_template": tok.chat_template,
        "max_new_tokens": MAX_NEW_TOKENS,
        "eos_rule": "tokenizer.ggml.eos_token_id + tokenizer.ggml.eot_token_id (if present) + ids of "
                    + ", ".join(EOS_CANDIDATES) + " where the GGUF token_type is CONTROL (3); sorted, unique",
        "eos_token_ids": eos, "eos_sources": eos_sources, "pad_token_id": pad,
        "generation_config": eff,
        "margin": "per step, top1 - top2 of the raw float32 logits (output_logits); top1: the top-1 logit; "
                  "9 significant digits",
        "tie_margin": TIE_MARGIN, "steps": sum(len(c["margin"]) for c in cases),
        "steps_margin_below_tie": n_small, "smallest_margin": smallest,
        "finish_eos": sum(c["finish"] == "eos" for c in cases),
        "finish_length": sum(c["finish"] == "length" for c in cases),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"greedy_{name}.json"
    write_lines(path, head, "cases", cases)
    dt = time.time() - t0
    print(f"{name}: wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes): {len(cases)} prompts, "
          f"eos {head['finish_eos']} / length {head['finish_length']}, {n_small} steps with margin < "
          f"{TIE_MARGIN:g} (smallest {smallest:.3g}), {dt:.0f} s")
    return head


def main(argv):
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    check_all = "--check-all" in argv
    names = [a for a in argv if a != "--check-all"] or NAMES
    for n in names:
        if n not in NAMES:
            sys.exit(f"unknown model {n}; known: {', '.join(NAMES)}")
    OUT.mkdir(parents=True, exist_ok=True)
    write_lines(OUT / "prompts.json",
                {"about": "prompt set of tests/fixtures/generate/greedy_*.json (tools/make_generate_refs.py); "
                          "kind chat: messages rendered with the model's chat template",
                 "max_new_tokens": MAX_NEW_TOKENS},
                "prompts", PROMPTS)
    t0 = time.time()
    for n in names:
        run(n, check_all)
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
