#!/usr/bin/env bash
# Weights in their file's type (default) next to ERANK_WEIGHTS=f32 (expanded at load, as before
# issue 18): decode tokens/s and peak RSS of `erank generate`, and peak RSS of `erank loss`, on
# the real GGUF models. The two variants run alternately in one run (the machine may be loaded).
#   bench/decode_speed.sh [threads (default 2)] [repeats (default 3)] [new tokens (default 64)]
# Needs build/erank (scripts/build.sh) and the models (scripts/install.sh). Python: stdlib only.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
threads="${1:-2}" repeats="${2:-3}" n="${3:-64}"
erank="$root/build/erank"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'threads %s, %s new tokens, best of %s\n' "$threads" "$n" "$repeats"
printf '%-14s %-7s %12s %14s %14s %18s %s\n' model weights "decode tok/s" "generate RSS" \
  "loss RSS" "loss (boolq x16)" "greedy ids"
for model in smollm2-135m gemma3-270m; do
  gguf="$root/models/$model.gguf"
  [[ -f "$gguf" ]] || { echo "$gguf missing (scripts/install.sh)"; continue; }
  for rep in $(seq "$repeats"); do
    for w in f32 stored; do
      ERANK_WEIGHTS=$w /usr/bin/time -f '%M' -o "$tmp/$w.gen.rss" "$erank" generate -m "$gguf" \
        -p "The capital of France is" -n "$n" --ignore-eos -t "$threads" -q \
        --stats "$tmp/$w.$rep.json" -o "$tmp/$w.out.jsonl"
      cp "$tmp/$w.gen.rss" "$tmp/$w.$rep.gen.rss"
      cp "$tmp/$w.out.jsonl" "$tmp/$w.$rep.out.jsonl"
    done
  done
  for w in f32 stored; do
    ERANK_WEIGHTS=$w /usr/bin/time -f '%M' -o "$tmp/$w.loss.rss" "$erank" loss -m "$gguf" \
      -t "$threads" --dataset boolq --limit 16 -q --out "$tmp/$w.loss.json" > /dev/null
  done
  python3 - "$tmp" "$model" "$repeats" <<'PY'
import json, sys, pathlib
tmp, model, reps = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
outs = {}
for w in ("f32", "stored"):
    best = max(json.loads((tmp / f"{w}.{r}.json").read_text())["decode_tokens"] /
               json.loads((tmp / f"{w}.{r}.json").read_text())["decode_s"] for r in range(1, reps + 1))
    gen_rss = max(int((tmp / f"{w}.{r}.gen.rss").read_text().split()[-1]) for r in range(1, reps + 1))
    loss_rss = int((tmp / f"{w}.loss.rss").read_text().split()[-1])
    loss = json.loads((tmp / f"{w}.loss.json").read_text())["loss"]["trained"]["per_token"]
    outs[w] = (tmp / f"{w}.1.out.jsonl").read_text()
    same = "" if w == "f32" else "same as f32" if outs["stored"] == outs["f32"] else "DIFFERENT"
    print(f"{model:<14} {w:<7} {best:12.1f} {gen_rss / 1024:10.0f} MiB {loss_rss / 1024:10.0f} MiB"
          f" {loss:18.12f} {same}")
PY
done
