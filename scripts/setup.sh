#!/usr/bin/env bash
# Installs what the build needs from Debian packages, idempotently: when everything is present it
# does nothing (no apt-get call at all). The CUDA toolkit is not installed here; CMake uses nvcc
# when it finds one (PATH or /usr/local/cuda) and builds CPU-only otherwise.
#
#   scripts/setup.sh          # build + test dependencies
#   scripts/setup.sh --bench  # also the benchmark peers (OpenBLAS is always in; PyTorch, tiktoken, tokenizers,
#                             # hnswlib and FAISS for bench/bench_vector_index)
set -euo pipefail
bench=0
[[ "${1:-}" == "--bench" ]] && bench=1

packages=(g++ cmake make pkg-config python3 googletest libgtest-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev libutf8proc-dev libcpp-httplib-dev libopenblas-dev
          g++-aarch64-linux-gnu qemu-user)  # the arm64 kernel tests: cross-compiled, run under emulation
packages+=(chromium)  # tests/serve_web_chat.py: the web chat of `prompting serve` in a headless browser
(( bench )) && packages+=(python3-torch python3-numpy python3-pip libhnswlib-dev libfaiss-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} > 0 )); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ "$(id -u)" != 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if (( bench )); then
  for mod in tiktoken tokenizers regex; do
    python3 -c "import $mod" 2>/dev/null || python3 -m pip install -q "$mod"
  done
fi
