#!/usr/bin/env bash
# Configures and builds erank into build/ (or $ERANK_BUILD_DIR). Extra args go to cmake.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${ERANK_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
