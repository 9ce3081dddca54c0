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
# mlx (its Linux CPU build) + mlx-lm: the OpenELM reference, which transformers lacks
# (tools/make_openelm_fixture.py).
PKGS=(torch transformers tokenizers safetensors gguf numpy sentencepiece protobuf accelerate tiktoken "lm-eval==0.4.13" datasets pyarrow
  "antlr4-python3-runtime==4.11" "math-verify[antlr4_11_0]" sympy "scikit-learn==1.9.1"
  "jax==0.8.1" "jaxlib==0.8.1" optax jaxtyping pandas scipy pytz tqdm
  "mlx[cpu]==0.32.4" "mlx-lm==0.32.2")
# The arena's references (tools/make_arena_refs.py): fschat's online Elo and lmarena's arena-rank,
# both without their dependencies (fschat's serving stack is not used; arena-rank pins
# numpy==2.3.3, which would move the numpy the other references run on). Their imports are above.
NODEPS_PKGS=("fschat==0.2.36" "arena-rank==0.1.1")

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
# Skip pip entirely when everything already imports (keeps re-runs offline and fast).
if "$VENV/bin/python" - <<'PY' 2>/dev/null; then
import importlib
for m in ["torch", "transformers", "tokenizers", "safetensors", "gguf", "numpy", "sentencepiece",
          "google.protobuf", "accelerate", "lm_eval", "datasets", "pyarrow", "antlr4", "math_verify",
          "sympy", "sklearn", "jax", "optax", "jaxtyping", "pandas", "scipy", "fastchat",
          "arena_rank", "mlx.core", "mlx_lm"]:
    importlib.import_module(m)
importlib.import_module("skimage"); importlib.import_module("PIL")
PY
  echo "venv ready: $VENV"
  exit 0
fi
"$VENV/bin/python" -m pip install --upgrade pip
# CPU wheels are enough for the fixtures; the default PyPI torch wheel also works.
"$VENV/bin/python" -m pip install "${PKGS[@]}"
# erank mm's fixtures (tools/make_llava_fixtures.py): the PIL image processors, sample photographs.
"$VENV/bin/python" -m pip install "pillow==13.0.0" "scikit-image==0.26.0"
"$VENV/bin/python" -m pip install --no-deps "${NODEPS_PKGS[@]}"
"$VENV/bin/python" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
echo "venv ready: $VENV"
