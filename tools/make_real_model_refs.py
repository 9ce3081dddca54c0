#!/usr/bin/env python3
"""transformers reference activations for the real GGUF models installed by scripts/install.sh.

Needs the venv from tools/setup_venv.sh (torch, transformers 5.x, gguf, accelerate, safetensors).
Run:  .venv/bin/python tools/make_real_model_refs.py [smollm2-135m] [gemma3-270m]
Loads models/<name>.gguf with AutoModelForCausalLM.from_pretrained(models/, gguf_file=..., dtype=float32)
(transformers dequantizes every tensor to float32 with gguf-py) and writes tests/fixtures/real/:
  <name>_ref.safetensors, per text i (batch 1, no padding, eager attention):
    ids.<i>          int32 [N]        tokenizer ids with its default special tokens
    hidden.<i>       float32 [L+1, N, d]   output_hidden_states stacked
    logits_pos.<i>   int32 [3]        first, middle (N // 2) and last position
    logits_cols.<i>  int32 [K]        vocab ids kept, ascending: every 64th id plus each row's top 32;
                                      ABSENT when the rows are complete (V <= 65536, K = V)
    logits_rows.<i>  float32 [3, K]   logits[logits_pos, logits_cols]
    logits_lse.<i>   float32 [3]      logsumexp over the FULL vocab row (computed in float64)
  metadata: texts (json), transformers/torch/gguf versions, gguf file name, size and sha256.
  <name>_config.json   model.config.to_dict()
  <name>_params.txt    one line per transformers parameter: hf_name, shape, gguf tensor name,
                       gguf dims (ggml order, fastest first) and gguf type
"""
import hashlib
import json
import sys
from pathlib import Path

import gguf
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor, get_gguf_hf_weights_map

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_hf_fixtures import save_file  # noqa: E402  (sorted metadata: byte-stable re-runs)

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
OUT = ROOT / "tests" / "fixtures" / "real"
NAMES = ["smollm2-135m", "gemma3-270m"]
TEXTS = [
    "The Amazon is the largest river in the world by discharge volume.",
    "The cat sat quietly on the warm windowsill.",
]
FULL_ROW_LIMIT = 65536  # vocab ids; above this the rows are subsampled to keep files < 3 MB


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def param_table(model, gguf_path):
    reader = gguf.GGUFReader(str(gguf_path))
    arch = reader.fields["general.architecture"].contents()
    processor = TENSOR_PROCESSORS.get(arch, TensorProcessor)(config=model.config.to_dict())
    gguf_to_hf = get_gguf_hf_weights_map(model, processor)
    hf_to_gguf = {hf: g for g, hf in gguf_to_hf.items()}
    gtensors = {t.name: t for t in reader.tensors}
    lines = ["# hf_name\thf_shape\tgguf_name\tgguf_dims(ggml order)\tgguf_type"]
    seen = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        g = hf_to_gguf.get(name, "-")
        t = gtensors.get(g)
        dims = "x".join(str(int(d)) for d in t.shape) if t is not None else "-"
        typ = t.tensor_type.name if t is not None else "-"
        tied = " (tied: same tensor as an earlier parameter)" if id(p) in seen else ""
        seen.add(id(p))
        lines.append(f"{name}\t{list(p.shape)}\t{g}\t{dims}\t{typ}{tied}")
    return "\n".join(lines) + "\n"


@torch.no_grad()
def run(name):
    gguf_path = MODELS / f"{name}.gguf"
    if not gguf_path.exists():
        print(f"skip {name}: {gguf_path} missing (run scripts/install.sh)")
        return
    file = gguf_path.name
    model = AutoModelForCausalLM.from_pretrained(MODELS, gguf_file=file, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(MODELS, gguf_file=file)
    tensors = {}
    for i, text in enumerate(TEXTS):
        ids = tok(text)["input_ids"]
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        n = len(ids)
        pos = torch.tensor([0, n // 2, n - 1])
        rows = out.logits[0, pos].float()
        vocab = rows.shape[1]
        if vocab <= FULL_ROW_LIMIT:
            cols = torch.arange(vocab)
        else:
            top = rows.topk(32, dim=1).indices.flatten()
            cols = torch.unique(torch.cat([torch.arange(0, vocab, 64), top]))  # sorted
        tensors[f"ids.{i}"] = torch.tensor(ids, dtype=torch.int32)
        tensors[f"hidden.{i}"] = torch.stack([h[0].float() for h in out.hidden_states]).contiguous()
        tensors[f"logits_pos.{i}"] = pos.to(torch.int32)
        if len(cols) < vocab:
            tensors[f"logits_cols.{i}"] = cols.to(torch.int32)
        tensors[f"logits_rows.{i}"] = rows[:, cols].contiguous()
        tensors[f"logits_lse.{i}"] = torch.logsumexp(rows.double(), dim=1).float()
        print(f"{name} text {i}: {n} tokens, hidden {tuple(tensors[f'hidden.{i}'].shape)}, "
              f"logit cols {len(cols)}/{vocab}")
    meta = {"texts": json.dumps(TEXTS), "transformers_version": transformers.__version__,
            "torch_version": torch.__version__, "gguf_py_version": getattr(gguf, "__version__", "?"),
            "gguf_file": file, "gguf_size": str(gguf_path.stat().st_size), "gguf_sha256": sha256(gguf_path),
            "attn_implementation": "eager", "dtype": "float32"}
    OUT.mkdir(parents=True, exist_ok=True)
    save_file(tensors, OUT / f"{name}_ref.safetensors", meta)
    cfg = model.config.to_dict()
    cfg.pop("quantization_config", None)  # holds an enum and describes the loader, not the model
    cfg.pop("_name_or_path", None)  # absolute path of this machine
    (OUT / f"{name}_config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True, default=str) + "\n")
    (OUT / f"{name}_params.txt").write_text(param_table(model, gguf_path))
    print(f"{name}: wrote {(OUT / f'{name}_ref.safetensors').stat().st_size} bytes")


def main(argv):
    names = argv or NAMES
    for n in names:
        if n not in NAMES:
            sys.exit(f"unknown model {n}; known: {', '.join(NAMES)}")
    for n in names:
        run(n)


if __name__ == "__main__":
    main(sys.argv[1:])
