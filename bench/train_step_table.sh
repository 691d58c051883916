#!/usr/bin/env bash
# One training step (forward, backward, clip, AdamW) of GPT-2 124M (B=4, T=64) and of char-baby
# (B=12, T=64): ours against the PyTorch peer (bench/pytorch_train_step.py, Debian's
# python3-torch), in the same run, 2 threads each. PyTorch runs twice: with OpenBLAS' AVX-512
# kernels and huge pages (its best), and with the environment's defaults.
#
#   bench/train_step_table.sh [build/release/bin/pretrain] [peak GFLOP/s for MFU]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/build/release/bin/pretrain}"
peak="${2:-227}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2
# Both char-baby runs come first, then both 124M runs: for some seconds after a 124M process
# exits (it held 2.4 GB), the machine runs a small model's step up to 1.5× slower.
torch() { /usr/bin/python3 "$root/bench/pytorch_train_step.py" --model "$1" --steps "$2"; }  # MODEL STEPS
# PyTorch's best: OpenBLAS' AVX-512 kernels and huge pages (prefix assignments reach the python).
torch_best() { OPENBLAS_CORETYPE=SkylakeX GLIBC_TUNABLES=glibc.malloc.hugetlb=1 torch "$@"; }
# The peer takes as many timed steps as ours: its char-baby step varies by 2× from step to step.
"$bin" bench --preset char-baby --vocab 264 -B 12 -T 64 --steps 40 --peak-gflops "$peak" > "$tmp/ours.jsonl"
torch_best char-baby 40 > "$tmp/torch_best.jsonl"
torch char-baby 40 > "$tmp/torch_default.jsonl"
"$bin" bench --preset gpt2 --vocab 50257 -B 4 -T 64 --steps 5 --peak-gflops "$peak" >> "$tmp/ours.jsonl"
torch_best gpt2-124M 5 >> "$tmp/torch_best.jsonl"
torch gpt2-124M 5 >> "$tmp/torch_default.jsonl"
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
load = lambda f: {r["model"]: r for r in map(json.loads, open(f"{d}/{f}"))}
ours, best, dflt = load("ours.jsonl"), load("torch_best.jsonl"), load("torch_default.jsonl")
print("| model | B×T | ours ms/step | PyTorch (SkylakeX + huge pages) | PyTorch (defaults) | speed-up vs best | ours tokens/s | MFU | sampling tokens/s | peak RSS MB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for ours_name, torch_name in (("gpt2", "gpt2-124M"), ("char-baby", "char-baby")):
    o, b, f = ours[ours_name], best[torch_name], dflt[torch_name]
    print(f"| {ours_name} | {o['B']}×{o['T']} | {o['ms_per_step']:.1f} | {b['ms_per_step']:.1f} | {f['ms_per_step']:.1f} | "
          f"{b['ms_per_step'] / o['ms_per_step']:.2f}× | {o['tokens_per_s']:.0f} | {100 * o['mfu']:.0f}% | "
          f"{o['sample_tokens_per_s']:.0f} | {o['peak_rss_mb']:.0f} (params+grads+moments {o['params_grads_adam_mb']:.0f}) |")
PY
