#!/usr/bin/env python3
"""Converts tiny Llama HF fixtures (tests/fixtures/hf/<case>/) to GGUF the way llama.cpp's
convert_hf_to_gguf.py (LlamaModel) does, into tests/fixtures/gguf_model/:

  <case>.f32.gguf             every tensor F32 (--outtype f32)
  <case>.q8_0.gguf            2-D weights Q8_0, norms and rope_freqs F32 (--outtype q8_0)
  <case>.q8_0.ref.safetensors transformers activations of the HF model whose weights are replaced
                              by the dequantised Q8_0 values (un-permuted), same keys as the HF
                              fixture's ref.safetensors: ids.<i> int32 [N], hidden.<i> f32
                              [L+1, N, d], logits.<i> f32 [N, V]. The F32 file reproduces the HF
                              fixture's own ref.safetensors (its weights are exact copies).

What llama.cpp does and we copy:
  * names: token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate,
    ffn_up, ffn_down}, output_norm, output (absent when the embeddings are tied), all ".weight";
  * Q and K rows permuted for ggml's interleaved RoPE: LlamaModel.permute
      w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols)
    with n_head = num_attention_heads for Q and num_key_value_heads for K;
  * llama3 RoPE: a rope_freqs.weight F32 [head_dim/2] tensor of per-frequency divisors.
    Deviation: llama.cpp reads original_max_position_embeddings from the top level of config.json
    (default 8192) although transformers keeps it inside rope_parameters; we read it from
    rope_parameters first, so that the GGUF model equals the HF model;
  * hparams: llama.{context_length, embedding_length, block_count, feed_forward_length,
    attention.head_count, attention.head_count_kv, attention.layer_norm_rms_epsilon,
    attention.key_length, attention.value_length, rope.freq_base, rope.dimension_count,
    vocab_size}, general.{architecture, name, file_type, quantization_version},
    tokenizer.ggml.{bos,eos}_token_id (no vocabulary: the fixtures have no tokenizer).
  * erank.source_sha256: sha256 of the source model.safetensors (ours, to detect stale fixtures).

Run: .venv/bin/python tools/make_gguf_model_fixture.py [case ...]   (default llama_gqa_rope3 and
smollm2_tied, which tools/make_hf_fixtures.py writes).
"""
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as T
from safetensors.numpy import load_file, save
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent
HF = ROOT / "tests" / "fixtures" / "hf"
OUT = ROOT / "tests" / "fixtures" / "gguf_model"
CASES = ["llama_gqa_rope3", "smollm2_tied"]

HF_TO_GGUF = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
LAYER = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(hf):
    if hf in HF_TO_GGUF:
        return HF_TO_GGUF[hf]
    parts = hf.split(".")  # model.layers.<i>.<module...>.weight
    assert parts[:2] == ["model", "layers"] and parts[-1] == "weight", hf
    return f"blk.{parts[2]}.{LAYER['.'.join(parts[3:-1])]}.weight"


def permute(w, n_head):
    """llama.cpp LlamaModel.permute (n_head already chosen: heads for Q, kv heads for K)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def rope_params(h):
    return h.get("rope_parameters") or h.get("rope_scaling") or {}


def llama3_rope_freqs(h):
    """llama.cpp LlamaModel.generate_extra_tensors, same torch float32 arithmetic."""
    rp = rope_params(h)
    base = rp.get("rope_theta", h.get("rope_theta", 10000.0))
    dim = h.get("head_dim") or h["hidden_size"] // h["num_attention_heads"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor = rp.get("factor", 8.0)
    low_freq_factor = rp.get("low_freq_factor", 1.0)
    high_freq_factor = rp.get("high_freq_factor", 4.0)
    old_context_len = rp.get("original_max_position_embeddings",
                             h.get("original_max_position_embeddings", 8192))
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_freq_wavelen:
            factors.append(1)
        elif wavelen > low_freq_wavelen:
            factors.append(factor)
        else:
            smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(factors, dtype=torch.float32).numpy()


def write_gguf(case, h, weights, qtype, path, sha):
    w = gguf.GGUFWriter(str(path), arch="llama")
    head_dim = h.get("head_dim") or h["hidden_size"] // h["num_attention_heads"]
    rp = rope_params(h)
    w.add_name(case)
    w.add_context_length(h["max_position_embeddings"])
    w.add_embedding_length(h["hidden_size"])
    w.add_block_count(h["num_hidden_layers"])
    w.add_feed_forward_length(h["intermediate_size"])
    w.add_head_count(h["num_attention_heads"])
    w.add_head_count_kv(h["num_key_value_heads"])
    w.add_rope_freq_base(rp.get("rope_theta", h.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(h["rms_norm_eps"])
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if qtype == T.F32 else gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_vocab_size(h["vocab_size"])
    w.add_rope_dimension_count(head_dim)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_bos_token_id(h["bos_token_id"])
    w.add_eos_token_id(h["eos_token_id"])
    w.add_string("erank.source_sha256", sha)

    n_head, n_kv = h["num_attention_heads"], h["num_key_value_heads"]
    for hf_name, t in weights.items():
        t = t.astype(np.float32)
        if hf_name.endswith("q_proj.weight"):
            t = permute(t, n_head)
        elif hf_name.endswith("k_proj.weight"):
            t = permute(t, n_kv)
        name = gguf_name(hf_name)
        if qtype == T.F32 or t.ndim == 1:
            w.add_tensor(name, np.ascontiguousarray(t))
        else:
            w.add_tensor(name, gguf.quants.quantize(t, qtype), raw_dtype=qtype)
    if rp.get("rope_type", "").lower() == "llama3":
        w.add_tensor("rope_freqs.weight", llama3_rope_freqs(h))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@torch.no_grad()
def quantised_reference(case, h, path, out):
    """Runs the HF model with the GGUF file's dequantised, un-permuted weights."""
    r = gguf.GGUFReader(str(path))
    deq = {t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in r.tensors}
    model = AutoModelForCausalLM.from_pretrained(HF / case, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    n_head, n_kv = h["num_attention_heads"], h["num_key_value_heads"]
    sd = model.state_dict()
    for hf_name in list(sd):
        if hf_name == "lm_head.weight" and h.get("tie_word_embeddings"):
            continue  # tied to the embedding, set below
        t = deq[gguf_name(hf_name)]
        if hf_name.endswith("q_proj.weight"):
            t = unpermute(t, n_head)
        elif hf_name.endswith("k_proj.weight"):
            t = unpermute(t, n_kv)
        assert t.shape == tuple(sd[hf_name].shape), hf_name
        sd[hf_name].copy_(torch.from_numpy(np.array(t, dtype=np.float32)))
    ids = {k: v for k, v in load_file(str(HF / case / "ref.safetensors")).items() if k.startswith("ids.")}
    refs = {}
    for k, v in sorted(ids.items()):
        i = k.split(".")[1]
        o = model(input_ids=torch.from_numpy(v.astype(np.int64))[None], output_hidden_states=True)
        refs[k] = v
        refs[f"hidden.{i}"] = torch.stack([x[0] for x in o.hidden_states]).float().contiguous().numpy()
        refs[f"logits.{i}"] = o.logits[0].float().contiguous().numpy()
    meta = {"case": case, "weights": path.name, "torch_version": torch.__version__,
            "transformers_version": __import__("transformers").__version__}
    save_sorted(refs, out, meta)


def save_sorted(tensors, path, metadata):
    """safetensors with the metadata keys sorted (the writer emits them in hash order, which
    would make every re-run a binary diff)."""
    blob = save(tensors, metadata=metadata)
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + n:])


def convert(case):
    src = HF / case
    h = json.loads((src / "config.json").read_text())
    assert h["architectures"] == ["LlamaForCausalLM"], h["architectures"]
    blob = (src / "model.safetensors").read_bytes()
    sha = hashlib.sha256(blob).hexdigest()
    weights = load_file(str(src / "model.safetensors"))
    if h.get("tie_word_embeddings"):
        weights.pop("lm_head.weight", None)  # llama.cpp writes no output tensor when tied
    # llama.cpp's tensor order: the HF checkpoint's order (safetensors sorts by name).
    for qtype, tag in [(T.F32, "f32"), (T.Q8_0, "q8_0")]:
        path = OUT / f"{case}.{tag}.gguf"
        write_gguf(case, h, weights, qtype, path, sha)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
    # The F32 file must give back the HF weights bit for bit once un-permuted.
    r = gguf.GGUFReader(str(OUT / f"{case}.f32.gguf"))
    got = {t.name: np.asarray(t.data) for t in r.tensors}
    for hf_name, t in weights.items():
        g = got[gguf_name(hf_name)].reshape(t.shape)
        if hf_name.endswith("q_proj.weight"):
            g = unpermute(g, h["num_attention_heads"])
        elif hf_name.endswith("k_proj.weight"):
            g = unpermute(g, h["num_key_value_heads"])
        assert np.array_equal(g.view(np.uint32), t.astype(np.float32).view(np.uint32)), hf_name
    ref = OUT / f"{case}.q8_0.ref.safetensors"
    quantised_reference(case, h, OUT / f"{case}.q8_0.gguf", ref)
    print(f"{ref.relative_to(ROOT)}: {ref.stat().st_size} bytes")


def main(argv):
    OUT.mkdir(parents=True, exist_ok=True)
    for case in argv or CASES:
        convert(case)


if __name__ == "__main__":
    main(sys.argv[1:])
