#!/usr/bin/env python3
"""Tiny random Hugging Face checkpoints + transformers reference activations for erank's tests.

Needs the venv from tools/setup_venv.sh (torch, transformers 5.x, safetensors, numpy).
Run:  .venv/bin/python tools/make_hf_fixtures.py [case ...]
Writes tests/fixtures/hf/<case>/{config.json,model.safetensors,ref.safetensors} and a bf16 copy
tests/fixtures/hf/<case>-bf16/ (for the cases in BF16_CASES), plus llama_sharded/ (index + shards).

ref.safetensors, per sequence i (each run ALONE: batch 1, no padding, eager attention, float32):
  ids.<i>       int32 [N]
  hidden.<i>    float32 [L+1, N, d]   all output_hidden_states stacked (hidden.<i>.<l> [N, d_l]
                                      per entry instead when the widths differ, see opt_postln_proj)
  logits.<i>    float32 [N, V]
  batch_hidden_last.<i> float32 [N_i, d_last]  last hidden state of sequence i when all sequences
                                      run in ONE right-padded batch with an attention_mask
metadata: transformers/torch versions, case name, json list of the sequence lengths, the max
|batch - single| difference, and the weight init recipe.
The deterministic content depends only on the seeds below and the library versions.
"""
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.torch import save as st_save
from transformers import (AutoModelForCausalLM, Gemma3TextConfig, GPT2Config, GPTNeoXConfig,
                          LlamaConfig, MistralConfig, OPTConfig, Qwen2Config)
from transformers.pytorch_utils import Conv1D

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "hf"
LENGTHS = [1, 5, 12, 17]
# bf16 copies exercise the loader's dtype path, which is architecture-independent; two keep the
# fixtures small (add names here for more).
BF16_CASES = {"llama_gqa_rope3", "gemma3"}
INIT_RECIPE = ("Linear/Conv1D weight ~ N(0, 1/sqrt(fan_in)); Embedding ~ N(0, 1); bias ~ N(0, 0.1); "
               "norm weight = 1 + N(0, 0.1) (gemma3: N(0, 0.1), applied as 1+w); norm bias ~ N(0, 0.1)")

COMMON = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              max_position_embeddings=128, attention_dropout=0.0)


def llama_gqa_rope3():
    return LlamaConfig(**COMMON, num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                       attention_bias=False, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                       rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                                        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 32}), True


def smollm2_tied():
    return LlamaConfig(**COMMON, num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-5,
                       tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                       rope_parameters={"rope_type": "default", "rope_theta": 100000.0}), True


def mistral():
    return MistralConfig(**COMMON, num_attention_heads=4, num_key_value_heads=1, rms_norm_eps=1e-5,
                         sliding_window=None, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0}), True


def qwen2_bias():
    # Qwen2 tokenizers add no BOS.
    return Qwen2Config(**COMMON, num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
                       tie_word_embeddings=False, bos_token_id=None, eos_token_id=2, use_sliding_window=False,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}), False


def _opt(**kw):
    return OPTConfig(vocab_size=256, hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4,
                     max_position_embeddings=128, dropout=0.0, attention_dropout=0.0, activation_function="relu",
                     enable_bias=True, pad_token_id=1, bos_token_id=2, eos_token_id=2, **kw)


def opt_preln():
    return _opt(do_layer_norm_before=True, word_embed_proj_dim=64), True


def opt_postln_proj():
    # OPT-350m layout: post-LN blocks, 32-d embeddings with project_in/project_out.
    return _opt(do_layer_norm_before=False, word_embed_proj_dim=32), True


def gpt2():
    # GPT-2's tokenizer adds no BOS; bos/eos moved inside the tiny vocab.
    return GPT2Config(vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=128, n_inner=128,
                      activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                      layer_norm_epsilon=1e-5, bos_token_id=255, eos_token_id=255), False


def _neox(parallel, pct):
    return GPTNeoXConfig(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=128, max_position_embeddings=128, hidden_act="gelu",
                         use_parallel_residual=parallel, tie_word_embeddings=False, layer_norm_eps=1e-5,
                         attention_dropout=0.0, hidden_dropout=0.0, bos_token_id=0, eos_token_id=0,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "partial_rotary_factor": pct}), False


def neox_partial():
    return _neox(True, 0.25)


def neox_serial():
    return _neox(False, 0.5)


def gemma3():
    cfg = Gemma3TextConfig(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=128, rms_norm_eps=1e-6,
        sliding_window=4, layer_types=["sliding_attention"] * 3 + ["full_attention"],
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                         "full_attention": {"rope_type": "default", "rope_theta": 1000000.0}},
        query_pre_attn_scalar=16, final_logit_softcapping=30.0, attn_logit_softcapping=None,
        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True, pad_token_id=0, bos_token_id=2,
        eos_token_id=1, attention_dropout=0.0)
    return cfg, True


CASES = {f.__name__: f for f in [llama_gqa_rope3, smollm2_tied, mistral, qwen2_bias, opt_preln, opt_postln_proj,
                                 gpt2, neox_partial, neox_serial, gemma3]}


def perturb(model, gemma_norms):
    """Overwrite every parameter so each code path (biases, norm gains, offsets) shows in the output."""
    seen = set()  # a tied lm_head keeps the embedding's N(0, 1) init (larger logits: softcap shows)
    with torch.no_grad():
        for mod_name, mod in model.named_modules():
            for p_name, p in mod.named_parameters(recurse=False):
                if id(p) in seen:
                    continue
                seen.add(id(p))
                if isinstance(mod, nn_Embedding):
                    p.normal_(0.0, 1.0)
                elif p_name == "bias":
                    p.normal_(0.0, 0.1)
                elif isinstance(mod, torch.nn.Linear):
                    p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
                elif isinstance(mod, Conv1D):  # GPT-2 stores [in, out]
                    p.normal_(0.0, 1.0 / math.sqrt(p.shape[0]))
                elif p.dim() == 1:  # norm gain
                    p.normal_(0.0, 0.1)
                    if not gemma_norms:
                        p.add_(1.0)
                else:
                    raise RuntimeError(f"unhandled parameter {mod_name}.{p_name} {tuple(p.shape)}")


nn_Embedding = torch.nn.Embedding


def make_ids(cfg, add_bos):
    rs = np.random.RandomState(0)
    seqs = []
    for n in LENGTHS:
        ids = rs.randint(0, cfg.vocab_size, size=n).astype(np.int64)
        if add_bos and cfg.bos_token_id is not None:
            ids[0] = cfg.bos_token_id
        seqs.append(ids)
    return seqs


@torch.no_grad()
def reference(model, seqs):
    tensors = {}
    singles = []
    for i, ids in enumerate(seqs):
        out = model(input_ids=torch.tensor(ids)[None], output_hidden_states=True)
        hs = [h[0].float() for h in out.hidden_states]
        tensors[f"ids.{i}"] = torch.tensor(ids, dtype=torch.int32)
        if len({h.shape[-1] for h in hs}) == 1:
            tensors[f"hidden.{i}"] = torch.stack(hs).contiguous()
        else:
            for l, h in enumerate(hs):
                tensors[f"hidden.{i}.{l}"] = h.contiguous()
        tensors[f"logits.{i}"] = out.logits[0].float().contiguous()
        singles.append(hs[-1])
    # One right-padded batch: transformers itself should agree with the single runs.
    n_max = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), n_max, dtype=torch.long)
    mask = torch.zeros(len(seqs), n_max, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    diff = 0.0
    for i, s in enumerate(seqs):
        last = out.hidden_states[-1][i, :len(s)].float().contiguous()
        tensors[f"batch_hidden_last.{i}"] = last
        diff = max(diff, (last - singles[i]).abs().max().item())
    return tensors, diff


def save_ref(model, seqs, folder, case):
    tensors, diff = reference(model, seqs)
    meta = {"transformers_version": transformers.__version__, "torch_version": torch.__version__,
            "case": case, "lengths": json.dumps([len(s) for s in seqs]),
            "batch_vs_single_max_abs_diff": repr(diff), "init": INIT_RECIPE,
            "attn_implementation": "eager"}
    save_file(tensors, str(folder / "ref.safetensors"), metadata=meta)
    return diff


def save_file(tensors, path, metadata):
    """safetensors.save_file with the metadata keys sorted: the Rust writer emits them in hash order,
    which would make every re-run a binary diff in git."""
    blob = st_save(tensors, metadata=metadata)
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + n:])


def clean(folder):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def build(case):
    cfg, add_bos = CASES[case]()
    cfg._attn_implementation = "eager"
    torch.manual_seed(sum(map(ord, case)))
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    model.eval()
    perturb(model, gemma_norms=cfg.model_type.startswith("gemma3"))
    if cfg.tie_word_embeddings:
        assert model.lm_head.weight is model.get_input_embeddings().weight
    return model, make_ids(cfg, add_bos)


def write_case(case):
    model, seqs = build(case)
    folder = OUT / case
    clean(folder)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "generation_config.json").unlink(missing_ok=True)
    # Reload from disk so the reference reflects exactly what was saved.
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    diff = save_ref(model, seqs, folder, case)
    print(f"{case}: batch-vs-single max|diff| = {diff:.3g}")

    if case in BF16_CASES:
        bf = OUT / f"{case}-bf16"
        clean(bf)
        m16 = model.to(torch.bfloat16)
        m16.config.dtype = torch.bfloat16
        m16.save_pretrained(bf, safe_serialization=True)
        (bf / "generation_config.json").unlink(missing_ok=True)
        # bf16 -> f32 upcast is exact, so this is the f32 forward of the rounded weights.
        m32 = AutoModelForCausalLM.from_pretrained(bf, dtype=torch.float32, attn_implementation="eager").eval()
        diff = save_ref(m32, seqs, bf, case + "-bf16")
        print(f"{case}-bf16: batch-vs-single max|diff| = {diff:.3g}")

    if case == "llama_gqa_rope3":
        sh = OUT / "llama_sharded"
        clean(sh)
        model = model.float()
        model.config.dtype = torch.float32
        model.save_pretrained(sh, safe_serialization=True, max_shard_size="200KB")
        (sh / "generation_config.json").unlink(missing_ok=True)
        m = AutoModelForCausalLM.from_pretrained(sh, dtype=torch.float32, attn_implementation="eager").eval()
        diff = save_ref(m, seqs, sh, "llama_sharded")
        shards = sorted(p.name for p in sh.glob("model-*.safetensors"))
        print(f"llama_sharded: {len(shards)} shards, batch-vs-single max|diff| = {diff:.3g}")


def main(argv):
    cases = argv or list(CASES)
    for c in cases:
        if c not in CASES:
            sys.exit(f"unknown case {c}; known: {', '.join(CASES)}")
    torch.set_grad_enabled(False)
    for c in cases:
        write_case(c)


if __name__ == "__main__":
    main(sys.argv[1:])
