#!/usr/bin/env bash
# Prefill and decode tokens/s of `erank generate` next to llama.cpp (llama-bench at batch 1,
# llama-batched-bench at batch 16) on the same GGUF files and thread count; prints a table per
# model and writes every run to build/bench-results/generate_bench.json.
#   bench/generate_bench.sh [generate_bench.py options, e.g. --threads 2 --repeat 3 --skip-erank]
# Builds erank (scripts/build.sh) and llama.cpp (bench/build_llama_cpp.sh: llama-cpp-python's
# vendored source from PyPI, built under build/llama.cpp, ~15 minutes on 2 cores the first time).
# Python: stdlib only. Keep the machine otherwise idle.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/install.sh"
bash "$root/scripts/build.sh"
bash "$root/bench/build_llama_cpp.sh"
exec python3 "$root/bench/generate_bench.py" "$@"
