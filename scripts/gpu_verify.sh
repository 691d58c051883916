#!/usr/bin/env bash
# The one script for a machine with an NVIDIA GPU (written for an H200, sm_90a): builds the project
# with CUDA, runs every CUDA test and benchmark, a short GPT-2 124M training run and the PyTorch
# attention peer, and prints a markdown table of the results.
#
#   scripts/gpu_verify.sh OUTDIR
#
# A bare GPU machine may lack the build dependencies: run scripts/gpu_prepare.sh first where they
# are installed and bring build/gpu_deps along with the source tree; bring data/tinyshakespeare.txt
# and data/gpt2/ too for the training run (it shards them with bin/tokenizer first).
#
# Every step has a time limit and the script goes on past a failed step, recording it; the whole
# run stays inside SOG_GPU_BUDGET_S seconds (default 470): a step gets what is left, and a step
# with under 20 s left is skipped and recorded as such. Without a GPU it still configures and
# builds, and the table says what did not run and why.
#
# What it leaves in OUTDIR (few files, so it can travel back from a remote machine whole):
#   results.md   the table (also printed at the end)
#   steps.tsv    step, status (ok / failed rc=N / timeout / skipped: why), seconds
#   verify.log   every step's command and the tail of its output
#   raw.tar.gz   everything: nvidia-smi, build log, gtest XML + logs, benchmark JSON, training logs
# (SOG_KEEP_RAW=1 also keeps the unpacked OUTDIR/raw/.)
#
# Environment (all optional):
#   SOG_GPU_BUILD      build folder (default build/gpu; wiped first unless SOG_GPU_KEEP_BUILD=1)
#   SOG_GPU_DEPS       prefix written by scripts/gpu_prepare.sh, used when it exists (default
#                      build/gpu_deps): GoogleTest, Google Benchmark, nlohmann-json, CLI11, utf8proc
#   SOG_GPU_ARCH       CUDA architectures (default 90a)
#   SOG_GPU_JOBS       build jobs (default: nproc)
#   SOG_GPU_BUDGET_S   total seconds (default 470)
#   SOG_GPU_BUILD_LIMIT_S  seconds for the build step (default 330)
#   SOG_TRAIN_ARGS     extra arguments of `pretrain train --device cuda` (default below)
#   SOG_BENCH_ARGS     arguments of `bench/train_step --device cuda` (default below)
set -u
if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
OUTDIR="$(cd "$1" && pwd)"
RAW="$OUTDIR/raw"
rm -rf "$RAW" "$OUTDIR/raw.tar.gz"
mkdir -p "$RAW"
BUILD="${SOG_GPU_BUILD:-$ROOT/build/gpu}"
DEPS="${SOG_GPU_DEPS:-$ROOT/build/gpu_deps}"
ARCH="${SOG_GPU_ARCH:-90a}"
JOBS="${SOG_GPU_JOBS:-$(nproc)}"
BUDGET="${SOG_GPU_BUDGET_S:-470}"
STEPS="$RAW/steps.tsv"
LOG="$OUTDIR/verify.log"
T0=$(date +%s)
: >"$LOG"
printf 'step\tstatus\tseconds\n' >"$STEPS"

say() { echo "[gpu_verify +$(($(date +%s) - T0))s] $*" | tee -a "$LOG"; }
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$STEPS"; }
left() { echo $((BUDGET - ($(date +%s) - T0))); }

# run_step NAME LIMIT_S CMD...: runs CMD with output to raw/NAME.log, at most LIMIT_S seconds (less
# if the budget has less left), and records the outcome. Returns CMD's status (124 on timeout).
run_step() {
  local name="$1" limit="$2"
  shift 2
  local remaining
  remaining=$(left)
  if [ "$remaining" -lt 20 ]; then
    say "$name: skipped (budget spent)"
    record "$name" "skipped: budget of ${BUDGET}s spent" 0
    return 125
  fi
  [ "$limit" -gt "$remaining" ] && limit=$remaining
  say "$name: $* (limit ${limit}s)"
  local t=$(date +%s) rc
  timeout --kill-after=10 "$limit" "$@" >"$RAW/$name.log" 2>&1
  rc=$?
  local dt=$(($(date +%s) - t)) status
  case $rc in
    0) status="ok" ;;
    124 | 137) status="timeout after ${limit}s" ;;
    *) status="failed rc=$rc" ;;
  esac
  record "$name" "$status" "$dt"
  tail -n 15 "$RAW/$name.log" | sed 's/^/    /' >>"$LOG"
  say "$name: $status (${dt}s)"
  return $rc
}
skip() {  # skip NAME WHY
  say "$1: skipped ($2)"
  record "$1" "skipped: $2" 0
}

# ---- 0. the machine -----------------------------------------------------------------------------
{
  echo "date: $(date -u)"
  echo "host: $(uname -a)"
  echo "cpus: $(nproc)"
  (command -v nvcc >/dev/null && nvcc --version | tail -n 2) || echo "nvcc: not on PATH"
  (command -v cmake >/dev/null && cmake --version | head -n 1) || echo "cmake: not on PATH"
  (command -v g++ >/dev/null && g++ --version | head -n 1) || echo "g++: not on PATH"
  (command -v python3 >/dev/null && python3 --version) || echo "python3: not on PATH"
} >"$RAW/machine.txt" 2>&1
cat "$RAW/machine.txt" >>"$LOG"
HAVE_GPU=0
if command -v nvidia-smi >/dev/null; then
  run_step nvidia-smi 30 nvidia-smi && HAVE_GPU=1
  timeout 20 nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu,memory.used \
    --format=csv >>"$RAW/nvidia-smi.log" 2>&1
else
  skip nvidia-smi "no nvidia-smi on this machine"
fi

# ---- 1. configure and build -----------------------------------------------------------------------
# Find nvcc where CUDA usually lives when it is not on the PATH.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
CMAKE_ARGS=(-S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CUDA_ARCHITECTURES=$ARCH")
if [ -d "$DEPS/usr" ]; then
  ARCH_DIR="$(ls -d "$DEPS"/usr/lib/*-linux-gnu 2>/dev/null | head -n 1)"
  CMAKE_ARGS+=("-DCMAKE_PREFIX_PATH=$DEPS/usr")
  export LD_LIBRARY_PATH="$ARCH_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$ARCH_DIR/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  command -v pkg-config >/dev/null || CMAKE_ARGS+=("-DPKG_CONFIG_EXECUTABLE=$DEPS/usr/bin/pkgconf")
  say "using the dependency prefix $DEPS"
fi
# OpenBLAS is the CPU benchmarks' baseline only; none of them is built here. Without it, any
# shared library satisfies the link line the bench folder gives every benchmark.
if ! ldconfig -p 2>/dev/null | grep -q libopenblas; then
  mkdir -p "$BUILD.noblas"
  LIBM="$(ldconfig -p | awk '/libm\.so\.6 .*x86-64/ {print $NF; exit}')"
  CMAKE_ARGS+=("-DOPENBLAS_LIB=${LIBM:-/lib/x86_64-linux-gnu/libm.so.6}" "-DOPENBLAS_INCLUDE=$BUILD.noblas")
  say "no OpenBLAS here: the CPU benchmarks are not built"
fi
# Ninja when there is one (faster), else Makefiles; either way a failing target does not stop the others.
if command -v ninja >/dev/null; then
  CMAKE_ARGS+=(-G Ninja)
  KEEP_GOING=(-k 0)
else
  CMAKE_ARGS+=(-G "Unix Makefiles")
  KEEP_GOING=(-k)
fi
[ "${SOG_GPU_KEEP_BUILD:-0}" = 1 ] || rm -rf "$BUILD"
BUILT=0
if run_step configure 150 cmake "${CMAKE_ARGS[@]}"; then
  # The targets: every CUDA test and benchmark, the pretraining and tokenizer programs, the
  # training-step benchmark.
  TARGETS=()
  for f in "$ROOT"/tests/test_cuda_*.cpp "$ROOT"/bench/bench_cuda_*.cpp; do
    [ -e "$f" ] && TARGETS+=("$(basename "$f" .cpp)")
  done
  TARGETS+=(pretrain tokenizer train_step)
  run_step build "${SOG_GPU_BUILD_LIMIT_S:-330}" cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" -- "${KEEP_GOING[@]}"
  BUILT=1
  for t in "${TARGETS[@]}"; do
    found=$(find "$BUILD" -maxdepth 2 -type f -name "$t" -perm -u+x | head -n 1)
    [ -n "$found" ] || record "build:$t" "failed: not built (see build.log)" 0
  done
else
  skip build "configure failed"
fi

# The matrix instructions the matmul kernels compiled to (HGMMA: wgmma; HMMA: mma.sync; UTMALDG: TMA).
if [ "$BUILT" = 1 ] && command -v cuobjdump >/dev/null; then
  run_step sass 30 bash -c 'for obj in "$1"/CMakeFiles/common.dir/common/ops/matmul*.cu.o; do
      [ -e "$obj" ] || continue
      echo "$(basename "$obj"):" $(cuobjdump --dump-sass "$obj" | grep -oE "HGMMA|HMMA|UTMALDG|LDSM|LDGSTS" | sort | uniq -c)
    done' _ "$BUILD"
fi

# ---- 2. tests -------------------------------------------------------------------------------------
if [ "$BUILT" = 1 ]; then
  for exe in "$BUILD"/tests/test_cuda_*; do
    [ -x "$exe" ] || continue
    name=$(basename "$exe")
    run_step "$name" 120 "$exe" "--gtest_output=xml:$RAW/$name.xml"
  done
fi

# ---- 3. benchmarks ----------------------------------------------------------------------------------
if [ "$BUILT" = 1 ]; then
  for exe in "$BUILD"/bench/bench_cuda_*; do
    [ -x "$exe" ] || continue
    name=$(basename "$exe")
    if [ "$HAVE_GPU" = 1 ]; then
      run_step "$name" 150 "$exe" --benchmark_format=json "--benchmark_out=$RAW/$name.json" \
        --benchmark_out_format=json
    else
      # Without a device every case reports "no CUDA device"; run the listing only.
      run_step "$name-list-only-no-gpu" 30 "$exe" --benchmark_list_tests=true
    fi
  done
fi

# ---- 4. GPT-2 124M on the GPU (bin/pretrain --device cuda, bench/train_step --device cuda) -------
PRETRAIN="$BUILD/bin/pretrain"
TRAIN_STEP="$BUILD/bench/train_step"
TOKENIZER="$BUILD/bin/tokenizer"
DATA=""
for d in "$ROOT/data" "$ROOT/../shared/data"; do
  if [ -f "$d/tinyshakespeare.txt" ] && [ -f "$d/gpt2/encoder.json" ]; then DATA="$d" && break; fi
done
TRAIN_ARGS="${SOG_TRAIN_ARGS:---preset gpt2 -B 16 -T 1024 --steps 40 --lr 6e-4 --min-lr 6e-5 --warmup 10 --eval-every 20 --eval-batches 4 --sample-every 0 --checkpoint-every 0 --seed 1}"
BENCH_ARGS="${SOG_BENCH_ARGS:---preset gpt2 --vocab 50257 -B 16 -T 1024 --steps 10}"
if [ ! -x "$PRETRAIN" ]; then
  skip pretrain_train "bin/pretrain was not built"
elif ! "$PRETRAIN" train --help 2>&1 | grep -q -- "--device"; then
  skip pretrain_train "bin/pretrain has no --device option yet"
elif [ "$HAVE_GPU" != 1 ]; then
  skip pretrain_train "no GPU"
elif [ -z "$DATA" ]; then
  skip pretrain_train "no data/tinyshakespeare.txt + data/gpt2 (carry them)"
elif run_step shard 60 "$TOKENIZER" shard --tokenizer "$DATA/gpt2" --input "$DATA/tinyshakespeare.txt" \
  --val-fraction 0.1 --out "$RAW/shards"; then
  # shellcheck disable=SC2086  # TRAIN_ARGS is a list of arguments
  run_step pretrain_train 180 "$PRETRAIN" train --device cuda --data "$RAW/shards" --tokenizer "$DATA/gpt2" \
    --out "$RAW/run" $TRAIN_ARGS
  rm -rf "$RAW/shards"
  find "$RAW/run" -name '*.bin' -delete 2>/dev/null  # checkpoints: 0.5 GB each, not worth the trip
fi
# The training step alone (bench/train_step.cpp; its logs keep the name pretrain_bench).
if [ ! -x "$TRAIN_STEP" ]; then
  skip pretrain_bench "bench/train_step was not built"
elif [ "$HAVE_GPU" != 1 ]; then
  skip pretrain_bench "no GPU"
else
  # shellcheck disable=SC2086
  run_step pretrain_bench 120 "$TRAIN_STEP" --device cuda $BENCH_ARGS
  # The same with the Linear layers' matmuls on the wgmma rung (the default is mma.sync until wgmma
  # has passed its tests on this hardware), when its tests passed above.
  if grep -q 'failures="0"' "$RAW/test_cuda_matmul.xml" 2>/dev/null; then
    # shellcheck disable=SC2086
    run_step pretrain_bench_wgmma 120 env SOG_MATMUL_BF16=wgmma "$TRAIN_STEP" --device cuda $BENCH_ARGS
  else
    skip pretrain_bench_wgmma "test_cuda_matmul did not pass"
  fi
fi

# ---- 5. the PyTorch attention peer -------------------------------------------------------------------
if [ "$HAVE_GPU" != 1 ]; then
  skip attention_peer "no GPU"
elif ! python3 -c "import torch" >/dev/null 2>&1; then
  skip attention_peer "no PyTorch in python3"
else
  run_step attention_peer 120 python3 "$ROOT/bench/cuda_attention_peer.py" --out "$RAW/attention_peer.json"
fi

# ---- 6. the table --------------------------------------------------------------------------------------
say "total $(($(date +%s) - T0))s"
cp "$STEPS" "$OUTDIR/steps.tsv"
if python3 "$ROOT/scripts/gpu_results.py" "$RAW" >"$OUTDIR/results.md" 2>"$RAW/gpu_results.err"; then
  :
else
  {
    echo "# GPU verification: results"
    echo
    echo "scripts/gpu_results.py failed:"
    echo '```'
    cat "$RAW/gpu_results.err"
    echo '```'
    echo
    echo '```'
    cat "$STEPS"
    echo '```'
  } >"$OUTDIR/results.md"
fi
tar -czf "$OUTDIR/raw.tar.gz" -C "$OUTDIR" raw
[ "${SOG_KEEP_RAW:-0}" = 1 ] || rm -rf "$RAW"
cat "$OUTDIR/results.md"
