#!/usr/bin/env bash
# Installs what the build needs from Debian packages, idempotently: when everything is present it
# does nothing (no apt-get call at all). The CUDA toolkit is not installed here; CMake uses nvcc
# when it finds one (PATH or /usr/local/cuda) and builds CPU-only otherwise.
#
#   scripts/setup.sh          # what the build and the pipeline need
#   scripts/setup.sh --test   # also what the tests need: the arm64 cross toolchain and qemu, Chromium
#                             # (the web chat), the `openai` client, PyTorch + transformers (the
#                             # Hugging Face round trip)
#   scripts/setup.sh --bench  # the above and the benchmark peers (OpenBLAS is always in; PyTorch,
#                             # tiktoken, tokenizers, hnswlib and FAISS for bench/bench_vector_index)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
test=0
bench=0
case "${1:-}" in
  "") ;;
  --test) test=1 ;;
  --bench) test=1; bench=1 ;;
  *) echo "setup: unknown argument '$1' (usage: scripts/setup.sh [--test | --bench])" >&2; exit 2 ;;
esac

packages=(g++ cmake make pkg-config python3 googletest libgtest-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev libutf8proc-dev libcpp-httplib-dev libopenblas-dev)
(( test )) && packages+=(g++-aarch64-linux-gnu qemu-user  # the arm64 kernel tests: cross-compiled, run under emulation
                         chromium                         # tests/serve_web_chat.py: the web chat in a headless browser
                         python3-torch python3-numpy python3-pip python3-yaml python3-requests
                         python3-typing-extensions)       # tests/hf_roundtrip.py: transformers on Debian's PyTorch
(( bench )) && packages+=(libhnswlib-dev libfaiss-dev)

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
(( test )) || exit 0

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

# The Hugging Face round trip (tests/hf_roundtrip.py) runs the transformers library on Debian's
# Python and PyTorch (python3-torch 1.13, above). transformers 4.40 still runs on that PyTorch;
# it and the pure-Python packages it needs (plus the tokenizers, safetensors and regex wheels
# built for this Python) go into build/pydeps alone (--no-deps), which the test puts first on
# sys.path, so that nothing of Debian's Python is replaced. Skipped when that exact set is there;
# without the network the test reports itself skipped and says why.
pydeps="$root/build/pydeps"
hf_packages=(transformers==4.40.2 tokenizers==0.19.1 safetensors==0.4.3 huggingface_hub==0.23.4 tqdm==4.66.4
             filelock==3.15.4 packaging==24.1 regex==2024.5.15 fsspec==2024.6.1)
if [[ "$(cat "$pydeps/.installed" 2>/dev/null)" != "${hf_packages[*]}" ]]; then
  echo "setup: installing ${hf_packages[*]} into build/pydeps"
  rm -rf "$pydeps"
  if log="$(PIP_ROOT_USER_ACTION=ignore /usr/bin/python3 -m pip install -q --disable-pip-version-check --no-deps \
              --target "$pydeps" "${hf_packages[@]}" 2>&1)"; then
    echo "${hf_packages[*]}" > "$pydeps/.installed"
  else
    printf '%s\n' "$log" | tail -5 >&2
    echo "setup: warning: could not install transformers into build/pydeps; tests/hf_roundtrip.py will be skipped" >&2
  fi
fi
