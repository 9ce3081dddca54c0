#!/usr/bin/env bash
# Builds llama.cpp's llama-bench, llama-batched-bench and llama-perplexity (CPU only) into build/llama.cpp/bin/,
# for bench/generate_bench.py's comparison. Nothing of llama.cpp enters the repository: the source
# is the llama.cpp vendored in the llama-cpp-python sdist on PyPI (vendor/llama.cpp), downloaded
# to build/dl/ and unpacked to build/llama.cpp-src/.
#   bench/build_llama_cpp.sh            # skips everything when both binaries exist
# Env: LLAMA_CPP_PYTHON_VERSION (default 0.3.36), JOBS (default 2).
# Configuration: Release, this CPU's instruction sets (without AMX, see below), OpenMP, static, no HTTPS/curl, no GPU
# backend, only the two targets built (~10-15 minutes on 2 cores).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ver="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
jobs="${JOBS:-2}"
dl="$root/build/dl"
src="$root/build/llama.cpp-src"
out="$root/build/llama.cpp"
bench="$out/bin/llama-bench"
batched="$out/bin/llama-batched-bench"
perplexity="$out/bin/llama-perplexity"

if [ -x "$bench" ] && [ -x "$batched" ] && [ -x "$perplexity" ] &&
    ! grep -qs "GGML_NATIVE:BOOL=ON" "$out/CMakeCache.txt"; then
    echo "llama.cpp: $bench, $batched and $perplexity exist (delete build/llama.cpp to rebuild)"
    exit 0
fi

sdist="$dl/llama_cpp_python-$ver.tar.gz"
if [ ! -f "$sdist" ]; then
    mkdir -p "$dl"
    python3 -m pip download --no-deps --no-binary :all: "llama-cpp-python==$ver" -d "$dl"
fi

if [ ! -f "$src/CMakeLists.txt" ] || [ "$(cat "$src/.sdist-version" 2>/dev/null)" != "$ver" ]; then
    rm -rf "$src"
    mkdir -p "$src"
    tar xzf "$sdist" -C "$src" --strip-components=3 "llama_cpp_python-$ver/vendor/llama.cpp"
    echo "$ver" > "$src/.sdist-version"
fi

# This CPU's instruction sets but AMX: ggml's AMX kernel crashes here (SIGSEGV in
# ggml_backend_amx_mul_mat on the first product), and with AMX built in, llama.cpp runs only with
# --repack 0, which turns off its AVX-512 repacked kernels too. Other CPUs: GGML_NATIVE.
isa=(-DGGML_NATIVE=ON)
if grep -qw avx512f /proc/cpuinfo; then
    isa=(-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON
         -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
    for f in avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 \
        avx_vnni:AVX_VNNI; do
        grep -qw "${f%%:*}" /proc/cpuinfo && isa+=("-DGGML_${f##*:}=ON")
    done
fi
gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
if [ ! -f "$out/CMakeCache.txt" ] || grep -q "GGML_NATIVE:BOOL=ON" "$out/CMakeCache.txt"; then
    cmake -S "$src" -B "$out" "${gen[@]}" \
        -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=OFF \
        -DGGML_NATIVE=OFF "${isa[@]}" \
        -DGGML_OPENMP=ON \
        -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF \
        -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
        -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON
fi
nice -n 10 cmake --build "$out" --config Release -j "$jobs" --target llama-bench llama-batched-bench llama-perplexity
test -x "$bench" && test -x "$batched" && test -x "$perplexity"
echo "llama.cpp: built $bench, $batched and $perplexity"
