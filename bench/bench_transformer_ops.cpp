// LayerNorm, causal attention and the KV-cached attention step at GPT-2 shapes.
//   layernorm:  GB/s of memory traffic (the (N,C) arrays only; mean, rstd, weight, bias are O(N + C))
//   attention:  GFLOP/s, counting the causal half of the score matrix, T²/2 (t, t2) pairs per head:
//               forward  = 2·HS (q·k) + 2·HS (att·v) per pair  → 4·B·NH·T²·HS/2 = 2·B·T²·C
//               backward = 8·HS per pair (datt, dv, dq, dk)     → 4·B·T²·C
//               (the softmax's exp and divisions are not counted)
//   cached:     tokens/s of one attention layer for one new token against 256 cached positions
//               at the 124M shape (C = 768, NH = 12, HS = 64); a 124M forward runs 12 such layers.
#include <benchmark/benchmark.h>

#include "common/ops/attention.h"
#include "common/ops/layernorm.h"
#include "common/tensor/tensor.h"

using namespace sog;

// Shapes (rows N = B·T, channels C).
static void layernorm_shapes(benchmark::internal::Benchmark* b) {
  for (int64_t rows : {4 * 64, 12 * 64})
    for (int64_t C : {768, 128}) b->Args({rows, C});
  b->ArgNames({"rows", "C"})->UseRealTime();
}

// Forward: reads x (N,C), writes out (N,C) → 8 bytes per element.
static void BM_layernorm_forward(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1);
  Tensor x = Tensor::randn({N, C}, 1.0f, 1), w = Tensor::randn({C}, 1.0f, 2), b = Tensor::randn({C}, 1.0f, 3);
  Tensor out = Tensor::empty({N, C}), mean = Tensor::empty({N}), rstd = Tensor::empty({N});
  for (auto _ : state) {
    layernorm_forward(out.f32(), mean.f32(), rstd.f32(), x.f32(), w.f32(), b.f32(), N, C, 1e-5f);
    benchmark::DoNotOptimize(out.f32());
  }
  state.SetBytesProcessed(state.iterations() * N * C * 8);
}
BENCHMARK(BM_layernorm_forward)->Apply(layernorm_shapes);

// Backward: reads dout, x, dinp and writes dinp (N,C) → 16 bytes per element.
static void BM_layernorm_backward(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1);
  Tensor x = Tensor::randn({N, C}, 1.0f, 1), w = Tensor::randn({C}, 1.0f, 2), b = Tensor::randn({C}, 1.0f, 3);
  Tensor out = Tensor::empty({N, C}), mean = Tensor::empty({N}), rstd = Tensor::empty({N});
  layernorm_forward(out.f32(), mean.f32(), rstd.f32(), x.f32(), w.f32(), b.f32(), N, C, 1e-5f);
  Tensor dout = Tensor::randn({N, C}, 1.0f, 4), dx = Tensor::zeros({N, C}), dw = Tensor::zeros({C}),
         db = Tensor::zeros({C});
  for (auto _ : state) {
    layernorm_backward(dx.f32(), dw.f32(), db.f32(), dout.f32(), x.f32(), w.f32(), mean.f32(), rstd.f32(), N, C);
    benchmark::DoNotOptimize(dx.f32());
  }
  state.SetBytesProcessed(state.iterations() * N * C * 16);
}
BENCHMARK(BM_layernorm_backward)->Apply(layernorm_shapes);

// Shapes (B, T, C, NH): GPT-2 124M (C = 768, NH = 12) and a small config (C = 128, NH = 4).
static void attention_shapes(benchmark::internal::Benchmark* b) {
  b->Args({4, 64, 768, 12})->Args({12, 64, 128, 4})->ArgNames({"B", "T", "C", "NH"})->UseRealTime();
}

static double attention_forward_flops(int64_t B, int64_t T, int64_t C) {
  return 2.0 * double(B) * double(T) * double(T) * double(C);  // 4·B·NH·T²·HS/2
}

static void BM_attention_forward(benchmark::State& state) {
  const int64_t B = state.range(0), T = state.range(1), C = state.range(2), NH = state.range(3);
  Tensor qkv = Tensor::randn({B, T, 3 * C}, 1.0f, 5), out = Tensor::empty({B, T, C});
  Tensor att = Tensor::empty({B, NH, T, T});
  for (auto _ : state) {
    attention_forward(out.f32(), att.f32(), qkv.f32(), B, T, C, NH);
    benchmark::DoNotOptimize(out.f32());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(attention_forward_flops(B, T, C) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_attention_forward)->Apply(attention_shapes);

static void BM_attention_backward(benchmark::State& state) {
  const int64_t B = state.range(0), T = state.range(1), C = state.range(2), NH = state.range(3);
  Tensor qkv = Tensor::randn({B, T, 3 * C}, 1.0f, 5), out = Tensor::empty({B, T, C});
  Tensor att = Tensor::empty({B, NH, T, T}), dpreatt = Tensor::empty({B, NH, T, T});
  attention_forward(out.f32(), att.f32(), qkv.f32(), B, T, C, NH);
  Tensor dout = Tensor::randn({B, T, C}, 1.0f, 6), dqkv = Tensor::zeros({B, T, 3 * C});
  for (auto _ : state) {
    attention_backward(dqkv.f32(), dpreatt.f32(), dout.f32(), qkv.f32(), att.f32(), B, T, C, NH);
    benchmark::DoNotOptimize(dqkv.f32());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * attention_forward_flops(B, T, C) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_attention_backward)->Apply(attention_shapes);

// One new token (B = 1) against `cached` positions already in the cache, 124M shape.
static void BM_attention_forward_cached(benchmark::State& state) {
  const int64_t cached = state.range(0), C = 768, NH = 12, max_T = 1024;
  KVCache cache = KVCache::make(1, NH, max_T, C / NH);
  {
    Tensor prefix = Tensor::randn({1, cached, 3 * C}, 1.0f, 7);  // fill the cache once
    attention_forward_cached(prefix, NH, cache);
  }
  Tensor qkv = Tensor::randn({1, 1, 3 * C}, 1.0f, 8);
  for (auto _ : state) {
    cache.length = cached;  // rewind: every iteration appends at position `cached`
    Tensor out = attention_forward_cached(qkv, NH, cache);
    benchmark::DoNotOptimize(out.f32());
  }
  state.counters["tokens/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_attention_forward_cached)->Arg(256)->ArgName("cached")->UseRealTime();
