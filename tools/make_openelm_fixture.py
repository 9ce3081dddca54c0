#!/usr/bin/env python3
"""Tiny random OpenELM checkpoint + mlx-lm reference activations for erank's tests.

transformers has no OpenELM (Apple ships it as remote code) and the hub is unreachable, so the
reference is mlx-lm's implementation (mlx_lm/models/openelm.py) on mlx's CPU backend, float32.
Needs the venv from tools/setup_venv.sh (mlx[cpu], mlx-lm, safetensors, numpy).
Run:  .venv/bin/python tools/make_openelm_fixture.py
Writes tests/fixtures/hf/openelm/{config.json, model.safetensors, tokenizer.json, ref.safetensors}.

The model: 4 layers with layer-wise scaling (query heads 2/4/6/6, KV heads 1/2/3/3, FFN widths
32/80/112/160; layer 2's heads take make_divisible's "not 10% below" step), model_dim 64, head_dim 16, q/k norms, tied embeddings, vocab 1000 with the
Llama-style tokenizer of tests/fixtures/llava/model (its <image> token dropped). config.json holds
the fields Apple's configuration_openelm.py reads, with the per-layer lists expanded the way its
__post_init__ expands them (as the released checkpoints' config.json files do).

ref.safetensors (same layout as tools/make_hf_fixtures.py; each sequence run alone, float32):
  ids.<i>       int32 [N]
  hidden.<i>    float32 [L+1, N, d]   HF hidden_states: [0] embeddings, [l] output of layer l,
                                      [L] after the final norm
  logits.<i>    float32 [N, V]
metadata: mlx / mlx-lm versions, case, sequence lengths, the weight init recipe, and the max
|logits| difference between the layer-by-layer loop used to dump hidden states and mlx-lm's own
Model.__call__ (must be 0: the loop is the model's own forward).

twin_ref.safetensors (when build/erank exists): erank's untrained twin, `erank twin --seed 1234
--save`, loaded by mlx-lm (strict: every tensor name and shape must fit its model), and the same
ids.<i> / hidden.<i> / logits.<i> for one sequence. The C++ test draws the same twin and must match.
"""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import mlx.core as mx
import numpy as np
from safetensors.numpy import save as st_save

import mlx_lm
from mlx_lm.models.base import create_attention_mask
from mlx_lm.utils import load_model

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "hf" / "openelm"
TOKENIZER = ROOT / "tests" / "fixtures" / "llava" / "model" / "tokenizer.json"
ERANK = ROOT / "build" / "erank"
TWIN_SEED = 1234
LENGTHS = [1, 5, 15]  # the logits dominate the size: 3 sequences keep the fixture < 1 MB
SEED = 17
INIT_RECIPE = ("Linear weight ~ N(0, 1/sqrt(fan_in)); Embedding ~ N(0, 1); "
               "norm weight (attn/ffn/q/k/final) = 1 + N(0, 0.1)")


def make_divisible(v, divisor, min_value=None):
    """configuration_openelm.py's rounding of a width to a multiple of divisor."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def expand(mult, n):
    """OpenELMConfig.__post_init__: [lo, hi] -> linspace over the layers, rounded to 2 decimals."""
    return [round(v, 2) for v in np.linspace(mult[0], mult[1], num=n, dtype=float)]


def config():
    c = dict(model_type="openelm", architectures=["OpenELMForCausalLM"], vocab_size=1000,
             max_context_length=128, num_transformer_layers=4, model_dim=64, head_dim=16,
             qkv_multipliers=[0.5, 1.5], num_gqa_groups=2, ffn_multipliers=[0.5, 2.5],
             ffn_with_glu=True, ffn_dim_divisor=16, activation_fn_name="swish",
             normalization_layer_name="rms_norm", normalize_qk_projections=True,
             share_input_output_layers=True, rope_freq_constant=10000, rope_max_length=256,
             initializer_range=0.02, bos_token_id=1, eos_token_id=2, use_cache=True,
             torch_dtype="float32")
    n, d, hd, g = c["num_transformer_layers"], c["model_dim"], c["head_dim"], c["num_gqa_groups"]
    q_dims = [int(make_divisible(d * m, divisor=hd * g)) for m in expand(c["qkv_multipliers"], n)]
    c["num_query_heads"] = [q // hd for q in q_dims]
    c["num_kv_heads"] = [h // g for h in c["num_query_heads"]]
    c["ffn_multipliers"] = [float(m) for m in expand(c["ffn_multipliers"], n)]
    return c


def weights(c):
    """Random weights under HF names (OpenELMForCausalLM: base model prefix 'transformer.')."""
    rs = np.random.RandomState(SEED)
    d, hd = c["model_dim"], c["head_dim"]
    w = {}

    def lin(name, out_f, in_f):
        w[name] = rs.normal(0.0, 1.0 / np.sqrt(in_f), size=(out_f, in_f)).astype(np.float32)

    def norm(name, n):
        w[name] = (1.0 + rs.normal(0.0, 0.1, size=n)).astype(np.float32)

    w["transformer.token_embeddings.weight"] = rs.normal(
        0.0, 1.0, size=(c["vocab_size"], d)).astype(np.float32)
    for i in range(c["num_transformer_layers"]):
        p = f"transformer.layers.{i}."
        hq, hkv = c["num_query_heads"][i], c["num_kv_heads"][i]
        ffn = int(make_divisible(c["ffn_multipliers"][i] * d, divisor=c["ffn_dim_divisor"]))
        norm(p + "attn_norm.weight", d)
        lin(p + "attn.qkv_proj.weight", (hq + 2 * hkv) * hd, d)
        norm(p + "attn.q_norm.weight", hd)
        norm(p + "attn.k_norm.weight", hd)
        lin(p + "attn.out_proj.weight", d, hq * hd)
        norm(p + "ffn_norm.weight", d)
        lin(p + "ffn.proj_1.weight", 2 * ffn, d)
        lin(p + "ffn.proj_2.weight", d, ffn)
    norm("transformer.norm.weight", d)
    return w


def save_file(tensors, path, metadata):
    """safetensors with the metadata keys sorted, so a re-run is byte-identical."""
    blob = st_save(tensors, metadata=metadata)
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + n:])


def tokenizer_json(vocab_size):
    tok = json.loads(TOKENIZER.read_text())
    tok["added_tokens"] = [t for t in tok["added_tokens"] if t["id"] < vocab_size]
    assert len(tok["model"]["vocab"]) == vocab_size
    return json.dumps(tok, ensure_ascii=False, indent=2) + "\n"


def reference(model, c, seqs):
    """Every hidden state, layer by layer through mlx-lm's own modules, and the logits."""
    tensors, worst = {}, 0.0
    tr = model.transformer
    for i, ids in enumerate(seqs):
        x = mx.array(ids[None].astype(np.int32))
        h = tr.token_embeddings(x)
        hs = [h]
        mask = create_attention_mask(h, None)
        for layer in tr.layers:
            h = layer(h, mask, cache=None)
            hs.append(h)
        hs[-1] = tr.norm(h)
        logits = tr.token_embeddings.as_linear(hs[-1])
        own = model(x)  # the model's own forward must give the same logits
        worst = max(worst, float(mx.abs(own - logits).max()))
        tensors[f"ids.{i}"] = ids.astype(np.int32)
        tensors[f"hidden.{i}"] = np.stack([np.array(t[0], dtype=np.float32) for t in hs])
        tensors[f"logits.{i}"] = np.array(logits[0], dtype=np.float32)
    return tensors, worst


def main():
    mx.set_default_device(mx.cpu)
    c = config()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    (OUT / "config.json").write_text(json.dumps(c, indent=2, sort_keys=True) + "\n")
    save_file(weights(c), OUT / "model.safetensors", {"format": "pt"})
    (OUT / "tokenizer.json").write_text(tokenizer_json(c["vocab_size"]))
    # mlx-lm loads the folder as written (config.json, HF tensor names), strictly.
    model, _ = load_model(OUT, strict=True)
    mx.eval(model.parameters())
    rs = np.random.RandomState(0)
    seqs = []
    for n in LENGTHS:
        ids = rs.randint(0, c["vocab_size"], size=n)
        ids[0] = c["bos_token_id"]
        seqs.append(ids)
    tensors, worst = reference(model, c, seqs)
    meta = {"mlx_version": mx.__version__, "mlx_lm_version": mlx_lm.__version__, "case": "openelm",
            "lengths": json.dumps(LENGTHS), "init": INIT_RECIPE,
            "loop_vs_model_max_abs_logit_diff": repr(worst)}
    save_file(tensors, OUT / "ref.safetensors", meta)
    if ERANK.exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([str(ERANK), "twin", "--model", str(OUT), "--seed", str(TWIN_SEED),
                            "--save", tmp], check=True)
            twin, _ = load_model(Path(tmp), strict=True)
            mx.eval(twin.parameters())
            ids = np.random.RandomState(1).randint(0, c["vocab_size"], size=9)
            twin_tensors, _ = reference(twin, c, [ids])
        save_file(twin_tensors, OUT / "twin_ref.safetensors",
                  {"mlx_version": mx.__version__, "mlx_lm_version": mlx_lm.__version__,
                   "seed": str(TWIN_SEED)})
    else:
        print(f"{ERANK} not built: twin_ref.safetensors not written")
    print(f"openelm: heads {c['num_query_heads']} kv {c['num_kv_heads']} "
          f"ffn multipliers {c['ffn_multipliers']}; loop vs model max|diff| = {worst:.3g}")


if __name__ == "__main__":
    main()
