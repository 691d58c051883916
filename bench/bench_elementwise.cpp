// Elementwise kernels, reported in GB/s of memory traffic (this machine: ≈ 52 GB/s on 2 threads).
#include <benchmark/benchmark.h>

#include "common/ops/gelu.h"
#include "common/tensor/tensor.h"

using namespace sog;

// GELU forward: reads N floats, writes N floats → 8 bytes per element.
static void BM_gelu_forward(benchmark::State& state) {
  const int64_t N = state.range(0);
  Tensor x = Tensor::randn({N}, 1.0f, 1), y = Tensor::empty({N});
  for (auto _ : state) {
    gelu_forward(y.f32(), x.f32(), N);
    benchmark::DoNotOptimize(y.f32());
  }
  state.SetBytesProcessed(state.iterations() * N * 8);
}
BENCHMARK(BM_gelu_forward)->Arg(4 * 64 * 3072)->Arg(12 * 64 * 512)->UseRealTime();

// GELU backward: reads inp, dout, dinp and writes dinp → 16 bytes per element.
static void BM_gelu_backward(benchmark::State& state) {
  const int64_t N = state.range(0);
  Tensor x = Tensor::randn({N}, 1.0f, 1), d = Tensor::randn({N}, 1.0f, 2), g = Tensor::zeros({N});
  for (auto _ : state) {
    gelu_backward(g.f32(), x.f32(), d.f32(), N);
    benchmark::DoNotOptimize(g.f32());
  }
  state.SetBytesProcessed(state.iterations() * N * 16);
}
BENCHMARK(BM_gelu_backward)->Arg(4 * 64 * 3072)->Arg(12 * 64 * 512)->UseRealTime();
