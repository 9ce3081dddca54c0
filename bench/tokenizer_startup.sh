#!/usr/bin/env bash
# Start-up cost of `erank tokenize` (GGUF parse + tokenizer build + one tiny encode) per GGUF file:
# CPU seconds (user + sys) and wall seconds of each run, then the median of each.
#   bench/tokenizer_startup.sh [RUNS] [GGUF...]     (env ERANK: the binary, default build/erank)
# Defaults: 5 runs of models/gemma3-270m.gguf (262k-token SentencePiece vocabulary, merges
# generated from it) and models/smollm2-135m.gguf (49k tokens, merges stored in the file).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
erank="${ERANK:-$root/build/erank}"
runs="${1:-5}"
shift || true
files=("$@")
[ ${#files[@]} -eq 0 ] && files=("$root/models/gemma3-270m.gguf" "$root/models/smollm2-135m.gguf")
[ -x "$erank" ] || { echo "no erank binary at $erank (build it or set ERANK)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 2; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf "%-28s %6s %9s %9s\n" model run cpu_s wall_s
for f in "${files[@]}"; do
  if [ ! -f "$f" ]; then
    echo "skip: $f absent" >&2
    continue
  fi
  name="$(basename "$f")"
  cpus=() walls=()
  for ((r = 1; r <= runs; r++)); do
    t="$( { /usr/bin/time -f "%U %S %e" "$erank" tokenize -m "$f" -t "hi" >/dev/null; } 2>&1 | tail -1)"
    read -r u s w <<<"$t"
    cpu="$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')"
    cpus+=("$cpu") walls+=("$w")
    printf "%-28s %6d %9s %9s\n" "$name" "$r" "$cpu" "$w"
  done
  printf "%-28s %6s %9s %9s\n" "$name" median "$(printf '%s\n' "${cpus[@]}" | median)" \
    "$(printf '%s\n' "${walls[@]}" | median)"
done
