#!/usr/bin/env bash
# erank next to llama.cpp (llama-bench, llama-perplexity) on the same GGUF files and threads:
# prefill 64/256/512/1024, loss and decode tokens/s and peak RSS, ratios printed (issue 18).
#   bench/llama_side_by_side.sh [--models smollm2-135m gemma3-270m build/bench-models/X.gguf]
#                               [--threads 2] [--reps 3] [--out results.json]
# Builds erank (scripts/build.sh) and llama.cpp (bench/build_llama_cpp.sh, under build/) first.
# The 7B-shaped model: .venv/bin/python tools/make_random_7b_gguf.py, then pass its path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$root/build/erank" ] || bash "$root/scripts/build.sh"
bash "$root/bench/build_llama_cpp.sh"
exec python3 "$root/bench/llama_side_by_side.py" "$@"
