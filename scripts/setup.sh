#!/usr/bin/env bash
# Installs what the build needs from Debian packages, idempotently: when everything is present it
# does nothing (no apt-get call at all). The CUDA toolkit is not installed here; CMake uses nvcc
# when it finds one (PATH or /usr/local/cuda) and builds CPU-only otherwise.
#
#   scripts/setup.sh          # build + test dependencies (and the `openai` Python package)
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

# Python packages, into the python3 on PATH (the interpreter CMake hands ctest), each only when it
# cannot be imported. A Debian-managed python3 (PEP 668) takes them into the user's site-packages.
pip_install_missing() {
  local missing_mods=()
  for mod in "$@"; do python3 -c "import $mod" 2>/dev/null || missing_mods+=("$mod"); done
  (( ${#missing_mods[@]} > 0 )) || return 0
  echo "setup: pip installing ${missing_mods[*]} for $(python3 -c 'import sys; print(sys.executable)')"
  local pip=(python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore)
  "${pip[@]}" "${missing_mods[@]}" 2>/dev/null || "${pip[@]}" --user --break-system-packages "${missing_mods[@]}"
}
pip_install_missing openai  # tests/serve_openai.py: the server through OpenAI's own client
if (( bench )); then pip_install_missing tiktoken tokenizers regex; fi
