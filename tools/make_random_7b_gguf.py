#!/usr/bin/env python3
"""A Llama-2-7B-shaped model with random weights as a quantised GGUF file, for issue 18's memory
and speed checks on a 24 GB machine (a 7B model in float32 takes 27 GB; as Q4_0 it takes 3.9 GB).

Shape: Llama-2-7B's (hidden 4096, 32 layers, 32 heads, FFN 11008, RMSNorm eps 1e-5, rope base
10000, context 4096) with SmolLM2's tokenizer copied from models/smollm2-135m.gguf (vocabulary
49,152), so the file tokenises real text: 6.9B parameters. Weights ~ N(0, 0.02), norms 1;
2-D matrices quantised by gguf-py (`gguf.quants.quantize`: Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0;
gguf-py has no K-quant quantiser), norms F32. One tensor is generated, quantised and kept at a
time, so the script needs about the file's size in memory.

Usage: .venv/bin/python tools/make_random_7b_gguf.py [--type Q4_0] [--layers 32] [--out PATH]
Default output: build/bench-models/llama7b-random-<type>.gguf (ignored by git).
"""
import argparse
import os
import time

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE_TYPES = {"Q4_0": gguf.LlamaFileType.MOSTLY_Q4_0, "Q4_1": gguf.LlamaFileType.MOSTLY_Q4_1,
              "Q5_0": gguf.LlamaFileType.MOSTLY_Q5_0, "Q5_1": gguf.LlamaFileType.MOSTLY_Q5_1,
              "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}


def copy_tokenizer(w, src):
    r = gguf.GGUFReader(src)
    for key, field in r.fields.items():
        if not key.startswith("tokenizer."):
            continue
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            sub = field.types[1]
            if sub == gguf.GGUFValueType.STRING:
                vals = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                vals = [field.parts[i].tolist()[0] for i in field.data]
            w.add_array(key, vals)
        elif kind == gguf.GGUFValueType.STRING:
            w.add_string(key, bytes(field.parts[field.data[0]]).decode("utf-8"))
        elif kind == gguf.GGUFValueType.BOOL:
            w.add_bool(key, bool(field.parts[field.data[0]][0]))
        else:
            w.add_uint32(key, int(field.parts[field.data[0]][0]))
    return len(r.fields["tokenizer.ggml.tokens"].data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--type", default="Q4_0", choices=sorted(FILE_TYPES))
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    args = ap.parse_args()
    qtype = T[args.type]
    out = args.out or os.path.join(ROOT, "build", "bench-models",
                                   f"llama7b-random-{args.type.lower()}.gguf")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    d, ff, heads, n_layers = 4096, 11008, 32, args.layers
    w = gguf.GGUFWriter(out, arch="llama")
    w.add_name(f"random llama-2-7b shape ({args.type})")
    vocab = copy_tokenizer(w, os.path.join(ROOT, "models", "smollm2-135m.gguf"))
    w.add_context_length(4096)
    w.add_embedding_length(d)
    w.add_block_count(n_layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(heads)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(d // heads)
    w.add_vocab_size(vocab)
    w.add_file_type(FILE_TYPES[args.type])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    n_params = 0

    def matrix(name, rows, cols):
        nonlocal n_params
        x = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)
        q = gguf.quants.quantize(x, qtype)
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
        n_params += rows * cols

    def norm(name):
        nonlocal n_params
        w.add_tensor(name, np.ones(d, dtype=np.float32))
        n_params += d

    matrix("token_embd.weight", vocab, d)
    for i in range(n_layers):
        norm(f"blk.{i}.attn_norm.weight")
        for n in ("attn_q", "attn_k", "attn_v", "attn_output"):
            matrix(f"blk.{i}.{n}.weight", d, d)
        norm(f"blk.{i}.ffn_norm.weight")
        matrix(f"blk.{i}.ffn_gate.weight", ff, d)
        matrix(f"blk.{i}.ffn_up.weight", ff, d)
        matrix(f"blk.{i}.ffn_down.weight", d, ff)
        print(f"layer {i + 1}/{n_layers} ({time.time() - t0:.0f} s)", flush=True)
    norm("output_norm.weight")
    matrix("output.weight", vocab, d)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{out}: {n_params / 1e9:.2f}B parameters, {os.path.getsize(out) / 2**30:.2f} GiB, "
          f"{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
