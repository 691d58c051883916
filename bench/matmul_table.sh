#!/usr/bin/env bash
# Prints a markdown table per instruction set: our default matmul (the packed, threaded variant,
# with that instruction set's micro-kernel) against OpenBLAS's kernel for the same instruction set,
# on the GPT-2 small shapes of bench_matmul, in GFLOP/s, measured in the same process:
#   avx512  ours (matmul_avx512.cpp)  vs  OpenBLAS SkylakeX (AVX-512)
#   avx2    ours (matmul_avx2.cpp)    vs  OpenBLAS Haswell  (AVX2 + FMA)
#   generic ours (matmul_generic.cpp) vs  OpenBLAS Nehalem  (SSE, hand-written assembly)
# Only the instruction sets this CPU runs appear. Both libraries use 2 threads.
#
#   bench/matmul_table.sh build/release/bench/bench_matmul [repetitions]
#
# OpenBLAS picks its kernel when the library loads (OPENBLAS_CORETYPE), so each instruction set is
# its own process. Each figure is the best of the repetitions (the least disturbed by other work on
# the machine). The CPU is named in the table's first line.
set -euo pipefail
bench=${1:?usage: matmul_table.sh path/to/bench_matmul [repetitions]}
reps=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pairs=("avx512 SkylakeX" "avx2 Haswell" "generic Nehalem")
"$bench" --benchmark_list_tests >"$tmp/list.txt"
for pair in "${pairs[@]}"; do
  read -r isa core <<< "$pair"
  # The packed variant of this instruction set (absent from the binary's list when the CPU lacks it).
  grep -q "^matmul/4_packed_parallel\.$isa/" "$tmp/list.txt" || continue
  r=$reps
  [[ $isa == generic ]] && r=1  # ~1 s a call on the largest shapes
  OPENBLAS_CORETYPE=$core OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$bench" \
    --benchmark_filter="matmul/(4_packed_parallel\\.$isa|openblas)/(qkv|fc|proj|lm)" \
    --benchmark_min_time=0.2 --benchmark_repetitions="$r" --benchmark_format=json >"$tmp/$isa.json"
done

python3 - "$tmp" "${pairs[@]}" <<'PY'
import collections, json, os, sys

tmp, pairs = sys.argv[1], [p.split() for p in sys.argv[2:]]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
print(f"{cpu}, 2 threads; GFLOP/s, best of the repetitions; ratio = ours / OpenBLAS in the same process.\n")
for isa, core in pairs:
    path = os.path.join(tmp, isa + ".json")
    if not os.path.exists(path):
        continue
    best = collections.OrderedDict()
    for b in json.load(open(path))["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        _, impl, name, dims = b["run_name"].split("/")[:4]
        key = ("openblas" if impl == "openblas" else "ours", name + " " + dims)
        best[key] = max(best.get(key, 0.0), b["GFLOP/s"])
    shapes = [shape for (impl, shape) in best if impl == "openblas"]
    ratios = [best[("ours", s)] / best[("openblas", s)] for s in shapes]
    print(f"**{isa}** (OpenBLAS {core}): ours / OpenBLAS {min(ratios):.2f}–{max(ratios):.2f}\n")
    print(f"| shape (M_K_N, n/t = A,B stored transposed) | ours {isa} | OpenBLAS {core} | ratio |")
    print("|---|---:|---:|---:|")
    for s, r in zip(shapes, ratios):
        print(f"| {s} | {best[('ours', s)]:.0f} | {best[('openblas', s)]:.0f} | {r:.2f} |")
    print()
PY
