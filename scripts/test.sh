#!/usr/bin/env bash
# Full test run, as CI does it: install, build + ctest, the same under ASan+UBSan, clang-format,
# and each libFuzzer target for a bounded time. ERANK_QUICK=1 skips the sanitizer and fuzz stages.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install.sh
jobs="$(nproc)"

echo "== format check"
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

echo "== release build + tests"
# Options set explicitly: a build/ configured by scripts/run.sh (tests off) must not be reused
# as it is, and ctest fails when it finds no test instead of passing.
ERANK_BUILD_DIR="$root/build" bash scripts/build.sh -DERANK_TESTS=ON -DERANK_BENCH=ON \
  -DERANK_SANITIZE=OFF -DERANK_FUZZ=OFF
(cd build && ctest --output-on-failure --no-tests=error -j"$jobs")

if [ "${ERANK_QUICK:-0}" != 1 ]; then
  echo "== ASan + UBSan build + tests"
  ERANK_BUILD_DIR="$root/build-asan" bash scripts/build.sh -DERANK_TESTS=ON -DERANK_SANITIZE=ON \
    -DERANK_BENCH=OFF -DERANK_FUZZ=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
  (cd build-asan && ASAN_OPTIONS=detect_leaks=0 ERANK_SANITIZED=1 \
    ctest --output-on-failure --no-tests=error -j"$jobs")

  echo "== fuzz (bounded)"
  ERANK_BUILD_DIR="$root/build-fuzz" bash scripts/build.sh -DERANK_FUZZ=ON -DERANK_TESTS=OFF \
    -DERANK_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DERANK_SANITIZE=ON \
    -DCMAKE_CXX_COMPILER=clang++-14
  for f in build-fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name="$(basename "$f")"
    corpus="fuzz/corpus/${name#fuzz_}"
    work="$(mktemp -d)"
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    echo "-- $name (${ERANK_FUZZ_SECONDS:-20}s)"
    ASAN_OPTIONS=detect_leaks=0 "$f" -max_total_time="${ERANK_FUZZ_SECONDS:-20}" -max_len=65536 \
      -print_final_stats=1 "$work" 2>&1 | tail -3
    rm -rf "$work"
  done
fi
echo "== all tests passed"
