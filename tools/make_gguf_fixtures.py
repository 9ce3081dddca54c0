#!/usr/bin/env python3
"""Writes the GGUF reader/dequantisation fixtures in tests/fixtures/gguf/ with the `gguf` package.

  all_types.gguf            metadata of every GGUF value type (nested arrays too) and tensors of
                            every block type erank dequantises, both quantised from random data
                            (gguf.quants.quantize, where gguf-py implements it) and random valid
                            blocks (finite f16 scales, random quants) for full bit coverage.
  all_types_ref.safetensors gguf.quants.dequantize of every tensor, read back with GGUFReader.
  all_types_meta.json       the metadata written: key -> {type code, value}.
  ggml_types.json           gguf-py's type codes, block sizes and block bytes.
  align64.gguf (+ _ref)     general.alignment = 64 with odd-sized tensors (padding between them).
  align64_v2.gguf           the same bytes with the version field set to 2 (v2 and v3 share the
                            little-endian layout).
  tiny.gguf                 a few hundred bytes; also the fuzz seed (fuzz/corpus/gguf/).
  real_models.json + real_models_ref.safetensors
                            facts about and the first rows of a few tensors of the real models in
                            models/ (only when they are installed).

Run: .venv/bin/python tools/make_gguf_fixtures.py   (deterministic: seed 0)
"""
import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.constants import GGML_QUANT_SIZES
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "gguf"
CORPUS = ROOT / "fuzz" / "corpus" / "gguf"

# Byte offsets of the f16 scale fields inside one block (ggml block layouts).
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
QUANT_TYPES = list(F16_FIELDS)


def finite_f16_bits(rng, n):
    """Random half bit patterns, all finite (subnormals and -0 included)."""
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    bad = ((bits >> 10) & 0x1F) == 0x1F
    bits[bad] &= 0x83FF  # clear the exponent's top bit -> finite
    return bits


def random_blocks(rng, qtype, n_blocks):
    _, type_size = GGML_QUANT_SIZES[qtype]
    b = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint16).astype(np.uint8)
    for off in F16_FIELDS[qtype]:
        b[:, off:off + 2] = finite_f16_bits(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return b


def add_quant(w, name, rows, qtype):
    """rows: (..., row_bytes) uint8 blocks."""
    w.add_tensor(name, np.ascontiguousarray(rows), raw_dtype=qtype)


def add_metadata(w, meta):
    """Adds every GGUF value type; records what was written in `meta` (key -> type, value)."""
    def put(key, val, vtype, sub=None, record=None):
        w.add_key_value(key, val, vtype, sub_type=sub)
        meta[key] = {"type": int(vtype), "value": val if record is None else record}

    put("test.u8", 200, V.UINT8)
    put("test.i8", -100, V.INT8)
    put("test.u16", 60000, V.UINT16)
    put("test.i16", -30000, V.INT16)
    put("test.u32", 4000000000, V.UINT32)
    put("test.i32", -2000000000, V.INT32)
    put("test.u64", 12345678901234, V.UINT64)
    put("test.u64_huge", 2**63 + 5, V.UINT64)  # does not fit in int64
    put("test.i64", -(2**62) - 3, V.INT64)
    put("test.f32", 0.1, V.FLOAT32, record=float(np.float32(0.1)))
    put("test.f64", 0.1, V.FLOAT64)
    put("test.bool_true", True, V.BOOL)
    put("test.bool_false", False, V.BOOL)
    put("test.string", "h\u00e9llo w\u00f6rld \u2713", V.STRING)
    put("test.string_empty", "", V.STRING)
    scalars = {
        V.UINT8: [0, 255, 7], V.INT8: [-128, 127, 0], V.UINT16: [0, 65535], V.INT16: [-32768, 5],
        V.UINT32: [0, 4294967295], V.INT32: [-2147483648, 2147483647], V.UINT64: [0, 2**64 - 1],
        V.INT64: [-(2**63), 2**63 - 1], V.BOOL: [True, False, True],
    }
    for vt, vals in scalars.items():
        put(f"test.arr_{vt.name.lower()}", vals, V.ARRAY, sub=vt)
    f32 = [0.5, -1.25, 3.0e-5]
    put("test.arr_float32", f32, V.ARRAY, sub=V.FLOAT32,
        record=[float(np.float32(x)) for x in f32])
    put("test.arr_float64", [0.1, -2.5e300], V.ARRAY, sub=V.FLOAT64)
    put("test.arr_string", ["a", "", "\u00fcnicode"], V.ARRAY, sub=V.STRING)
    # Nested arrays: gguf-py infers inner element types (python int -> INT32, str -> STRING).
    put("test.arr_nested_int", [[1, 2, 3], [-4]], V.ARRAY)
    put("test.arr_nested_string", [["x", "yz"], ["w"]], V.ARRAY)
    put("test.arr_nested3", [[[1], [2, 3]], [[4]]], V.ARRAY)


def write_and_reference(path, writer_fn, alignment=None):
    w = gguf.GGUFWriter(str(path), arch="erank-test")
    if alignment:
        w.add_custom_alignment(alignment)
    writer_fn(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    # The reference is what gguf-py dequantises after reading the file back.
    r = gguf.GGUFReader(str(path))
    refs = {}
    for t in r.tensors:
        deq = gguf.quants.dequantize(t.data, t.tensor_type)
        refs[t.name] = np.ascontiguousarray(deq.reshape(tuple(reversed(t.shape.tolist()))),
                                            dtype=np.float32)
    save_file(refs, str(path.with_name(path.stem + "_ref.safetensors")))
    return r


def all_types(rng, meta):
    def fill(w):
        add_metadata(w, meta)
        x = rng.standard_normal((3, 64)).astype(np.float32)
        w.add_tensor("F32.q", x)
        w.add_tensor("F32.4d", rng.standard_normal((2, 1, 3, 4)).astype(np.float32))
        w.add_tensor("F16.q", x.astype(np.float16))
        f16 = finite_f16_bits(rng, 3 * 64)
        f16[:4] = [0x7C00, 0xFC00, 0x0001, 0x8000]  # +inf, -inf, smallest subnormal, -0
        w.add_tensor("F16.r", f16.view(np.float16).reshape(3, 64))
        add_quant(w, "BF16.q", gguf.quants.quantize(x, T.BF16), T.BF16)
        bf = rng.integers(0, 1 << 16, size=3 * 64, dtype=np.uint32).astype(np.uint16)
        bf[((bf >> 7) & 0xFF) == 0xFF] &= 0xBFFF  # no NaN/inf: clear an exponent bit
        add_quant(w, "BF16.r", bf.view(np.uint8).reshape(3, 128), T.BF16)
        for qt in QUANT_TYPES:
            block, _ = GGML_QUANT_SIZES[qt]
            ne0 = 64 if block == 32 else 256
            data = rng.standard_normal((2, ne0)).astype(np.float32)
            try:
                add_quant(w, f"{qt.name}.q", gguf.quants.quantize(data, qt), qt)
            except NotImplementedError:
                pass  # gguf-py cannot quantise K-quants; the random blocks cover them
            add_quant(w, f"{qt.name}.r", random_blocks(rng, qt, 2 * ne0 // block).reshape(2, -1),
                      qt)
        # A 3-D quantised tensor: ne = (32, 3, 2).
        q3 = gguf.quants.quantize(rng.standard_normal((2, 3, 32)).astype(np.float32), T.Q8_0)
        add_quant(w, "Q8_0.3d", q3, T.Q8_0)
    return fill


def align64(rng):
    def fill(w):
        w.add_uint32("test.n", 7)
        w.add_tensor("odd.f32", rng.standard_normal(5).astype(np.float32))  # 20 bytes -> pad
        add_quant(w, "odd.q8_0", gguf.quants.quantize(
            rng.standard_normal((1, 32)).astype(np.float32), T.Q8_0), T.Q8_0)  # 34 bytes
        add_quant(w, "odd.q4_k", random_blocks(rng, T.Q4_K, 1), T.Q4_K)
    return fill


def tiny(rng):
    def fill(w):
        w.add_string("general.name", "tiny")
        w.add_array("tiny.ids", [1, 2, 3])
        w.add_tensor("a", rng.standard_normal((1, 8)).astype(np.float16))
        add_quant(w, "b", gguf.quants.quantize(
            rng.standard_normal((1, 32)).astype(np.float32), T.Q4_0), T.Q4_0)
        add_quant(w, "c", random_blocks(rng, T.Q6_K, 1), T.Q6_K)
    return fill


def real_models():
    """First rows of a few tensors per real model, dequantised by gguf-py."""
    models = {"smollm2": ROOT / "models" / "smollm2-135m.gguf",
              "gemma3": ROOT / "models" / "gemma3-270m.gguf"}
    facts, refs = {}, {}
    for short, path in models.items():
        if not path.exists():
            print(f"skip {path} (not installed)")
            return
        r = gguf.GGUFReader(str(path))
        arch = r.fields["general.architecture"].contents()
        info = {"file": str(path.relative_to(ROOT)), "size": path.stat().st_size,
                "version": int(r.fields["GGUF.version"].contents()),
                "tensor_count": len(r.tensors),
                "kv_count": sum(1 for k in r.fields if not k.startswith("GGUF.")),
                "architecture": arch, "alignment": int(r.alignment),
                "block_count": int(r.fields[f"{arch}.block_count"].contents()),
                "tensors": []}
        # The first tensor of every type, plus the token embedding.
        seen, picked = set(), []
        for t in r.tensors:
            if t.tensor_type not in seen or t.name == "token_embd.weight":
                seen.add(t.tensor_type)
                picked.append(t)
        for t in picked:
            nrows = 2 if len(t.shape) > 1 else 1
            deq = gguf.quants.dequantize(t.data.reshape(-1, t.data.shape[-1])[:nrows],
                                         t.tensor_type).reshape(nrows, int(t.shape[0]))
            key = f"{short}/{t.name}"
            refs[key] = np.ascontiguousarray(deq, dtype=np.float32)
            info["tensors"].append({"name": t.name, "type": t.tensor_type.name,
                                    "ne": [int(d) for d in t.shape], "rows": nrows,
                                    "ref": key})
        facts[short] = info
    save_file(refs, str(OUT / "real_models_ref.safetensors"))
    (OUT / "real_models.json").write_text(json.dumps(facts, indent=1) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    CORPUS.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    meta = {}
    write_and_reference(OUT / "all_types.gguf", all_types(rng, meta))
    (OUT / "all_types_meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    sizes = {t.name: {"code": int(t), "block": GGML_QUANT_SIZES[t][0], "bytes": GGML_QUANT_SIZES[t][1]}
             for t in [T.F32, T.F16, T.BF16, T.Q8_1, T.Q8_K] + QUANT_TYPES}
    (OUT / "ggml_types.json").write_text(json.dumps(sizes, indent=1) + "\n")
    write_and_reference(OUT / "align64.gguf", align64(rng), alignment=64)
    b = bytearray((OUT / "align64.gguf").read_bytes())
    b[4:8] = struct.pack("<I", 2)
    (OUT / "align64_v2.gguf").write_bytes(bytes(b))
    write_and_reference(OUT / "tiny.gguf", tiny(rng))
    shutil.copy(OUT / "tiny.gguf", CORPUS / "tiny.gguf")
    shutil.copy(OUT / "align64.gguf", CORPUS / "align64.gguf")
    real_models()
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(ROOT)}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
