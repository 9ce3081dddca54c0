#!/usr/bin/env bash
# Full test run, as CI does it: install, clang-format, build + ctest, the same under ASan+UBSan
# (clang), and each libFuzzer target for a bounded time. ERANK_QUICK=1 skips the last two.
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
  # One clang tree serves both: the tests under ASan+UBSan, and the libFuzzer targets (only the
  # parser layers carry the fuzzer's coverage instrumentation, see CMakeLists.txt). Line tables
  # only: reports keep file:line, and a translation unit compiles in 0.6-0.8x the time of -g.
  # Precompiled headers here only: GCC 12 with them sees false -Warray-bounds in std::string code.
  echo "== ASan + UBSan build (clang) + tests"
  ERANK_BUILD_DIR="$root/build-asan" bash scripts/build.sh -DERANK_TESTS=ON -DERANK_SANITIZE=ON \
    -DERANK_BENCH=OFF -DERANK_FUZZ=ON -DERANK_PCH=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" -DCMAKE_CXX_COMPILER=clang++-14
  (cd build-asan && ASAN_OPTIONS=detect_leaks=0 ERANK_SANITIZED=1 \
    ctest --output-on-failure --no-tests=error -j"$jobs")

  echo "== fuzz (bounded)"
  for f in build-asan/fuzz_*; do
    [ -x "$f" ] || continue
    name="$(basename "$f")"
    corpus="fuzz/corpus/${name#fuzz_}"
    work="$(mktemp -d)"
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    echo "-- $name (${ERANK_FUZZ_SECONDS:-12}s)"
    # A finding prints its report and the input (written to fuzz-artifacts/) and fails the run.
    mkdir -p fuzz-artifacts
    if ! ASAN_OPTIONS=detect_leaks=0 "$f" -max_total_time="${ERANK_FUZZ_SECONDS:-12}" \
      -max_len=65536 -timeout=30 -print_final_stats=1 -artifact_prefix=fuzz-artifacts/ "$work" >"$work.log" 2>&1; then
      grep -v '^#[0-9]' "$work.log" | tail -80
      echo "fuzz: $name failed; the input is in fuzz-artifacts/"
      exit 1
    fi
    tail -3 "$work.log"
    rm -rf "$work" "$work.log"
  done
fi
echo "== all tests passed"
