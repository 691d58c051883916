#!/usr/bin/env bash
# Prints a markdown table: our default matmul against OpenBLAS with two of its kernels, on the
# GPT-2 small shapes of bench_matmul, in GFLOP/s.
#
#   bench/matmul_table.sh build/release/bench/bench_matmul [repetitions]
#
# OpenBLAS picks its kernel when the library loads (OPENBLAS_CORETYPE), so the benchmark runs as
# two processes: Haswell (AVX2) and SkylakeX (AVX-512). Both use 2 threads. Each figure is the
# best of the repetitions (the least disturbed by other work on the machine); the ratio compares
# ours and OpenBLAS SkylakeX measured in the same process.
set -euo pipefail
bench=${1:?usage: matmul_table.sh path/to/bench_matmul [repetitions]}
reps=${2:-8}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Only the default variant and OpenBLAS; the naive rungs are for the full benchmark run.
filter='matmul/(4_packed_parallel|openblas)/'
for core in Haswell SkylakeX; do
  OPENBLAS_CORETYPE=$core OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$bench" --benchmark_filter="$filter" \
    --benchmark_min_time=0.2 --benchmark_repetitions="$reps" --benchmark_format=json >"$tmp/$core.json"
done

python3 - "$tmp/Haswell.json" "$tmp/SkylakeX.json" <<'EOF'
import json, sys, collections

def best(path):
    """{(impl, shape): max GFLOP/s over the repetitions} of one benchmark run."""
    out = collections.OrderedDict()
    for b in json.load(open(path))["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        _, impl, name, dims = b["run_name"].split("/")[:4]
        key = (impl, name + " " + dims)
        out[key] = max(out.get(key, 0.0), b["GFLOP/s"])
    return out

haswell, skylakex = best(sys.argv[1]), best(sys.argv[2])
shapes = [shape for (impl, shape) in skylakex if impl == "openblas"]
print("| shape (M_K_N, n/t = A,B stored transposed) | ours GFLOP/s | OpenBLAS Haswell | OpenBLAS SkylakeX | ours / SkylakeX |")
print("|---|---:|---:|---:|---:|")
for shape in shapes:
    ours, hsw, skx = skylakex[("4_packed_parallel", shape)], haswell[("openblas", shape)], skylakex[("openblas", shape)]
    print(f"| {shape} | {ours:.0f} | {hsw:.0f} | {skx:.0f} | {100 * ours / skx:.0f}% |")
EOF
