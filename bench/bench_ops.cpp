// Elementwise, softmax and cross-entropy kernels, reported in GB/s of memory traffic (this machine:
// ≈ 52 GB/s on 2 threads, 1 MiB of L2 per core). The big sizes exceed the caches, so their GB/s
// are DRAM figures; 768 × 384 (1.2 MB) is the small-vocabulary case and mostly sits in the L2.
// Bytes count each float a kernel must read or write once (a second pass over a row that is still
// in the L2 is not counted): the figure is how close the kernel gets to the memory bandwidth.
// Outputs are written once before timing, so that first-touch page faults are not measured.
#include <benchmark/benchmark.h>

#include <cmath>
#include <limits>

#include "common/cpu/kernels.h"
#include "common/ops/cross_entropy.h"
#include "common/ops/elementwise.h"
#include "common/ops/softmax.h"
#include "common/tensor/tensor.h"

using namespace sog;

// ---- add with a bias-like broadcast: (R, C) + (C) --------------------------------------------------
// Forward reads a and writes out: 8 bytes per element (the bias row stays in the L1).
static void BM_add_bias_forward(benchmark::State& state) {
  const int64_t R = state.range(0), C = state.range(1);
  Tensor a = Tensor::randn({R, C}, 1.0f, 1), b = Tensor::randn({C}, 1.0f, 2), out = Tensor::empty({R, C});
  Broadcast bc = plan_broadcast(a.shape(), b.shape(), "add");
  if (state.range(2)) bc.path = Broadcast::Path::general;  // the strided fallback, for comparison
  add_forward(out.f32(), a.f32(), b.f32(), bc);  // warm-up: first touch of the output's pages
  for (auto _ : state) {
    add_forward(out.f32(), a.f32(), b.f32(), bc);
    benchmark::DoNotOptimize(out.f32());
  }
  state.SetLabel(state.range(2) ? "general path" : "b_suffix path");
  state.SetBytesProcessed(state.iterations() * R * C * 8);
}
BENCHMARK(BM_add_bias_forward)->Args({8192, 768, 0})->Args({8192, 768, 1})->Args({256, 768, 0})->UseRealTime();

// Backward: da += dout and db += Σ_rows dout in one pass (reads dout and da, writes da): 12 bytes
// per element.
static void BM_add_bias_backward(benchmark::State& state) {
  const int64_t R = state.range(0), C = state.range(1);
  Tensor dout = Tensor::randn({R, C}, 1.0f, 1), da = Tensor::zeros({R, C}), db = Tensor::zeros({C});
  Broadcast bc = plan_broadcast(Shape{R, C}, Shape{C}, "add");
  if (state.range(2)) bc.path = Broadcast::Path::general;
  for (auto _ : state) {
    add_backward(da.f32(), db.f32(), dout.f32(), bc);
    benchmark::DoNotOptimize(db.f32());
  }
  state.SetLabel(state.range(2) ? "general path" : "b_suffix path");
  state.SetBytesProcessed(state.iterations() * R * C * 12);
}
BENCHMARK(BM_add_bias_backward)->Args({8192, 768, 0})->Args({8192, 768, 1})->Args({256, 768, 0})->UseRealTime();

// ---- softmax along rows of C ---------------------------------------------------------------------
// The baseline: the same two-pass kernel with the C library's expf, which does not vectorise.
static void softmax_forward_libm(float* out, const float* inp, int64_t N, int64_t C) {
#pragma omp parallel for
  for (int64_t r = 0; r < N; r++) {
    const float* x = inp + r * C;
    float* y = out + r * C;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < C; i++) m = x[i] > m ? x[i] : m;
    float sum = 0.0f;
    for (int64_t i = 0; i < C; i++) {
      y[i] = std::exp(x[i] - m);
      sum += y[i];
    }
    for (int64_t i = 0; i < C; i++) y[i] /= sum;
  }
}

// The row kernels under softmax and cross_entropy: max, then Σ exp(x − max), per row of the
// (256, 50304) block: reads 4 bytes per element. One run per instruction set this CPU runs
// (softmax_simd.cpp: AVX-512 and AVX2 intrinsics, portable `omp simd` loops for the others).
static void BM_row_logsumexp(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1);
  Tensor x = Tensor::randn({N, C}, 2.0f, 1), lse = Tensor::empty({N});
  const Isa isa = static_cast<Isa>(state.range(2));
  if (!cpu_supports(isa)) {
    state.SkipWithError("this CPU cannot run this instruction set");
    return;
  }
  const CpuKernels& k = cpu_kernels(isa);
  for (auto _ : state) {
#pragma omp parallel for
    for (int64_t r = 0; r < N; r++) {
      const float* row = x.f32() + r * C;
      float m = k.row_max(row, C);
      float s = k.row_sum_exp(nullptr, row, C, m);
      lse.f32()[r] = m + std::log(s);
    }
    benchmark::DoNotOptimize(lse.f32());
  }
  state.SetLabel(isa_name(isa));
  state.SetBytesProcessed(state.iterations() * N * C * 4);
}
BENCHMARK(BM_row_logsumexp)
    ->Args({256, 50304, int(Isa::avx512)})
    ->Args({256, 50304, int(Isa::avx2)})
    ->Args({256, 50304, int(Isa::generic)})
    ->UseRealTime();

// Forward reads x and writes out: 8 bytes per element.
static void BM_softmax_forward(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1);
  Tensor x = Tensor::randn({N, C}, 2.0f, 1), y = Tensor::empty({N, C});
  softmax_forward(y.f32(), x.f32(), N, C);  // warm-up: first touch of the output's pages
  for (auto _ : state) {
    if (state.range(2)) softmax_forward_libm(y.f32(), x.f32(), N, C);
    else softmax_forward(y.f32(), x.f32(), N, C);
    benchmark::DoNotOptimize(y.f32());
  }
  state.SetLabel(state.range(2) ? "std::exp baseline" : "exp_poly (library)");
  state.SetBytesProcessed(state.iterations() * N * C * 8);
}
BENCHMARK(BM_softmax_forward)
    ->Args({256, 50304, 0})->Args({256, 50304, 1})->Args({768, 384, 0})->Args({768, 384, 1})->UseRealTime();

// Backward reads y, dout and dx, writes dx: 16 bytes per element.
static void BM_softmax_backward(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1);
  Tensor y = Tensor::randn({N, C}, 1.0f, 1), d = Tensor::randn({N, C}, 1.0f, 2), g = Tensor::zeros({N, C});
  for (auto _ : state) {
    softmax_backward(g.f32(), y.f32(), d.f32(), N, C);
    benchmark::DoNotOptimize(g.f32());
  }
  state.SetBytesProcessed(state.iterations() * N * C * 16);
}
BENCHMARK(BM_softmax_backward)->Args({256, 50304})->Args({768, 384})->UseRealTime();

// ---- cross-entropy, fused with the softmax ---------------------------------------------------------
// Forward reads the logits: 4 bytes per element (plus N targets; the per-row loss and lse are noise).
static void BM_cross_entropy_forward(benchmark::State& state) {
  const int64_t N = state.range(0), Vp = state.range(1), V = state.range(2);
  Tensor logits = Tensor::randn({N, Vp}, 2.0f, 1), losses = Tensor::empty({N}), lse = Tensor::empty({N});
  Tensor targets = Tensor::empty({N}, DType::i32);
  for (int64_t i = 0; i < N; i++) targets.i32()[i] = static_cast<int32_t>((i * 7919) % V);
  for (auto _ : state) {
    cross_entropy_forward(losses.f32(), lse.f32(), logits.f32(), targets.i32(), N, V, Vp, -1);
    benchmark::DoNotOptimize(losses.f32());
  }
  state.SetBytesProcessed(state.iterations() * N * V * 4);
}
BENCHMARK(BM_cross_entropy_forward)->Args({256, 50304, 50257})->Args({768, 384, 384})->UseRealTime();

// Backward reads the logits and dlogits, writes dlogits: 12 bytes per element.
static void BM_cross_entropy_backward(benchmark::State& state) {
  const int64_t N = state.range(0), Vp = state.range(1), V = state.range(2);
  Tensor logits = Tensor::randn({N, Vp}, 2.0f, 1), losses = Tensor::empty({N}), lse = Tensor::empty({N});
  Tensor dlogits = Tensor::zeros({N, Vp}), targets = Tensor::empty({N}, DType::i32);
  for (int64_t i = 0; i < N; i++) targets.i32()[i] = static_cast<int32_t>((i * 7919) % V);
  cross_entropy_forward(losses.f32(), lse.f32(), logits.f32(), targets.i32(), N, V, Vp, -1);
  for (auto _ : state) {
    cross_entropy_backward(dlogits.f32(), logits.f32(), lse.f32(), targets.i32(), nullptr, 1.0f / N, N, V, Vp, -1);
    benchmark::DoNotOptimize(dlogits.f32());
  }
  state.SetBytesProcessed(state.iterations() * N * V * 12);
}
BENCHMARK(BM_cross_entropy_backward)->Args({256, 50304, 50257})->Args({768, 384, 384})->UseRealTime();
