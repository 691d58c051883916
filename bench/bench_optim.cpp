// AdamW and the gradient norm, in GB/s of memory traffic: both are bound by memory bandwidth (the
// README, "Build flags, measured", quotes AdamW per instruction set).
// GPT-2 124M has 124,475,904 parameters; the char-baby model ~0.8M (fits in cache: not a bandwidth figure).
#include <benchmark/benchmark.h>

#include "common/optim/adamw.h"

using namespace sog;

// AdamW reads params, grads, m, v and writes params, m, v: 7 floats = 28 bytes per parameter.
static void BM_adamw_step(benchmark::State& state) {
  const int64_t N = state.range(0);
  AdamW opt(N, {{0, N, true}}, AdamWConfig{0.9f, 0.95f, 1e-8f, 0.1f});
  Tensor p = Tensor::randn({N}, 0.02f, 1), g = Tensor::randn({N}, 1e-3f, 2);
  for (auto _ : state) {
    opt.step(p, g, 1e-4f);
    benchmark::DoNotOptimize(p.f32());
  }
  state.SetBytesProcessed(state.iterations() * N * 28);
}
BENCHMARK(BM_adamw_step)->Arg(124475904)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

// The global gradient norm reads each gradient once: 4 bytes per parameter.
static void BM_grad_norm(benchmark::State& state) {
  const int64_t N = state.range(0);
  Tensor g = Tensor::randn({N}, 1e-3f, 2);
  for (auto _ : state) benchmark::DoNotOptimize(global_grad_norm(g));
  state.SetBytesProcessed(state.iterations() * N * 4);
}
BENCHMARK(BM_grad_norm)->Arg(124475904)->Unit(benchmark::kMillisecond)->UseRealTime();
