#!/usr/bin/env bash
# One training step (forward, backward, clip, AdamW) of GPT-2 124M (B=4, T=64) and of char-baby
# (B=12, T=64): ours (bench/train_step.cpp) against the PyTorch peer (bench/pytorch_train_step.py, Debian's
# python3-torch), in the same run, 2 threads each, once per x86 instruction set this CPU runs:
#   avx512  ours with SOG_CPU=avx512  vs  PyTorch with OpenBLAS' SkylakeX kernels (its best here)
#   avx2    ours with SOG_CPU=avx2    vs  PyTorch with ATEN_CPU_CAPABILITY=avx2 and OpenBLAS' Haswell
#           kernels: both peers as they run on a CPU whose widest vectors are AVX2
# PyTorch gets huge pages in both (its best: glibc.malloc.hugetlb=1).
#
#   bench/train_step_table.sh [build/release/bench/train_step] [peak GFLOP/s for MFU]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/build/release/bench/train_step}"
peak="${2:-227}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2
runnable="$("$bin" --isas)"
isas=()
for isa in avx512 avx2; do
  [[ "$runnable" == *"\"$isa\""* ]] && isas+=("$isa")
done
# PyTorch as it runs with the given instruction set's kernels (prefix assignments reach the python).
torch() {  # ISA MODEL STEPS
  local isa="$1"; shift
  if [[ "$isa" == avx512 ]]; then
    OPENBLAS_CORETYPE=SkylakeX GLIBC_TUNABLES=glibc.malloc.hugetlb=1 \
      /usr/bin/python3 "$root/bench/pytorch_train_step.py" --model "$1" --steps "$2"
  else
    ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell GLIBC_TUNABLES=glibc.malloc.hugetlb=1 \
      /usr/bin/python3 "$root/bench/pytorch_train_step.py" --model "$1" --steps "$2"
  fi
}
# Every char-baby run comes first, then the 124M ones, and ours before the peer's: for some seconds
# after a large process exits (a 124M run holds 2.4 GB; PyTorch's huge pages are returned), the
# machine runs a small model's step up to 1.5× slower, hence also the pause after each peer run.
# The peer takes as many timed steps as ours: its char-baby step varies by 2× from step to step.
for model in char-baby gpt2; do
  if [[ $model == char-baby ]]; then args=(--preset char-baby --vocab 264 -B 12 -T 64 --steps 40) peer=(char-baby 40)
  else args=(--preset gpt2 --vocab 50257 -B 4 -T 64 --steps 5) peer=(gpt2-124M 5); fi
  for isa in "${isas[@]}"; do
    SOG_CPU=$isa "$bin" "${args[@]}" --peak-gflops "$peak" >> "$tmp/ours.jsonl"
  done
  for isa in "${isas[@]}"; do
    torch "$isa" "${peer[@]}" | sed "s/^{/{\"isa\": \"$isa\", /" >> "$tmp/torch.jsonl"
    sleep 5
  done
done
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
ours = {(r["model"], r["cpu_isa"]): r for r in map(json.loads, open(f"{d}/ours.jsonl"))}
torch = {(r["model"], r["isa"]): r for r in map(json.loads, open(f"{d}/torch.jsonl"))}
cpu = next(iter(ours.values()))["cpu"]
print(f"{cpu}, 2 threads; ms per step: the fastest of the timed steps.\n")
print("| model | kernels | B×T | ours ms/step | PyTorch ms/step (same instruction set) | speed-up | ours tokens/s | MFU | sampling tokens/s | peak RSS MB |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
for ours_name, torch_name in (("gpt2", "gpt2-124M"), ("char-baby", "char-baby")):
    for isa in ("avx512", "avx2"):
        if (ours_name, isa) not in ours:
            continue
        o, t = ours[(ours_name, isa)], torch[(torch_name, isa)]
        peer = "OpenBLAS SkylakeX" if isa == "avx512" else "ATen AVX2, OpenBLAS Haswell"
        print(f"| {ours_name} | {isa} | {o['B']}×{o['T']} | {o['ms_per_step']:.1f} | {t['ms_per_step']:.1f} ({peer}) | "
              f"**{t['ms_per_step'] / o['ms_per_step']:.2f}×** | {o['tokens_per_s']:.0f} | {100 * o['mfu']:.0f}% | "
              f"{o['sample_tokens_per_s']:.0f} | {o['peak_rss_mb']:.0f} (params+grads+moments {o['params_grads_adam_mb']:.0f}) |")
PY
