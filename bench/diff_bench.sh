#!/usr/bin/env bash
# erank diff vs the reference Python pipeline (the original code's approach with transformers),
# side by side on this machine in one run; prints the table of the README's performance section.
#   bench/diff_bench.sh [diff_bench.py options, e.g. --opt-texts 10 --skip-scaling]
# Needs ~12 GB of disk for the OPT-1.3B-shaped models (written once under build/bench-models)
# and ~20 minutes (each tool runs twice, alternated; --repeat 1 halves that). Keep the machine
# otherwise idle: both tools are timed on all cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/install.sh"
bash "$root/scripts/build.sh"
[ -x "$root/.venv/bin/python" ] || bash "$root/tools/setup_venv.sh"
exec "$root/.venv/bin/python" "$root/bench/diff_bench.py" "$@"
