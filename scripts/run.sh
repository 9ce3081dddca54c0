#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, and runs `erank diff`
# (SmolLM2-135M against its untrained twin on real Wikipedia passages). Args go to `erank diff`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/install.sh"
bash "$root/scripts/build.sh" -DERANK_TESTS=OFF -DERANK_BENCH=OFF
exec "$root/build/erank" diff "$@"
