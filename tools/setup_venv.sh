#!/usr/bin/env bash
# Creates (if missing) the Python venv used by the fixture scripts in tools/*.py and installs the
# reference libraries from PyPI. Idempotent: re-running only installs what is missing.
# Usage: bash tools/setup_venv.sh   (then run e.g. .venv/bin/python tools/make_hf_fixtures.py)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ERANK_VENV:-$ROOT/.venv}"
# antlr4 4.11 + sympy: lm-eval's minerva_math equivalence (parse_latex); math-verify: its utils import it.
# scikit-learn: RidgeCV, the reference for erank probe (tools/make_probe_refs.py).
# accelerate: transformers refuses to load GGUF files without it (tools/make_real_model_refs.py).
PKGS=(torch transformers tokenizers safetensors gguf numpy sentencepiece protobuf accelerate tiktoken "lm-eval==0.4.13" datasets pyarrow
  "antlr4-python3-runtime==4.11" "math-verify[antlr4_11_0]" sympy "scikit-learn==1.9.1")

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
# Skip pip entirely when everything already imports (keeps re-runs offline and fast).
if "$VENV/bin/python" - <<'PY' 2>/dev/null; then
import importlib
for m in ["torch", "transformers", "tokenizers", "safetensors", "gguf", "numpy", "sentencepiece",
          "google.protobuf", "accelerate", "lm_eval", "datasets", "pyarrow", "antlr4", "math_verify",
          "sympy", "sklearn"]:
    importlib.import_module(m)
PY
  echo "venv ready: $VENV"
  exit 0
fi
"$VENV/bin/python" -m pip install --upgrade pip
# CPU wheels are enough for the fixtures; the default PyPI torch wheel also works.
"$VENV/bin/python" -m pip install "${PKGS[@]}"
"$VENV/bin/python" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
echo "venv ready: $VENV"
