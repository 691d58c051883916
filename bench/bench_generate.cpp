// Batched generation: tokens/s of generate_batch against B prompts decoded together, and of
// generate() decoding the same prompts one after another (the baseline a batch must beat).
//
// Model: the `small` preset (L = 6, NH = 6, C = 192) at maxT = 256 with the pipeline's vocabulary
// (scripts/stages/01_tokenizer.sh trains 2048 mergeable ranks; the 8 special tokens follow: V = 2056,
// Vp = 2176), random weights (init_gpt2, seed 1). Prompts: B of 20–60 tokens, mixed lengths, random
// ids. Each row draws exactly kNewTokens = 64 tokens (temperature 1, no stop ids), so every
// iteration generates B·64 tokens; the time includes the prompts' prefill and the cache's setup.
// BM_generate_batch_gpt2: the same at GPT-2 124M's size (random weights, V = 50257), B = 1 and 16,
// one timed iteration each.
//
//   OMP_NUM_THREADS=2 build/cpu/bench/bench_generate
//
// Counters: tokens_per_s (new tokens per second of wall time), s_per_step (wall time per decoding
// step of the whole batch: the iteration's time over 64), gflops (the matmuls' floating-point work
// per second: 2 × the matmul weights — 12·C² per layer and the Vp×C head — per token read, prompt
// and new, over the wall time; attention, LayerNorm and sampling not counted).
//
// BM_matmul_ceiling: the rate a batch cannot beat — our own matmul, on 2 threads, on the widest
// product of the small model's layers (M = 1024 rows × K = 192 × N = 768, the MLP's first, trans_b
// as in the model) — every row of a batched decoding step runs these same kernels, on fewer rows.
// A batch of B rows decodes at most ceiling / (B = 1's gflops) times faster than one sequence. Each benchmark first runs once untimed,
// so that the fresh memory of the KV cache and the activations has faulted in.
//
// generate_batch runs a step of 8 rows or more as row groups side by side, a thread each; below
// that (B = 1, 4) each op splits its work across the threads, as generate() does.
#include <benchmark/benchmark.h>

#include <vector>

#include "common/generate/generate.h"
#include "common/generate/generate_batch.h"
#include "common/nn/gpt.h"
#include "common/ops/matmul.h"
#include "common/tensor/random.h"

using namespace sog;

namespace {

constexpr int64_t kNewTokens = 64;

GPT make_model(const char* preset, int V) {
  GPTConfig cfg = gpt_preset(preset, V);
  cfg.max_T = 256;
  GPT m(cfg);
  m.init_gpt2(1);
  return m;
}

GPT& bench_model() {
  static GPT model = make_model("small", 2056);
  return model;
}

// GPT-2 124M at maxT = 256 with GPT-2's vocabulary: weights (0.5 GB) that no cache holds, so one
// sequence waits on memory and a batch shares each weight it reads.
GPT& gpt2_model() {
  static GPT model = make_model("gpt2", 50257);
  return model;
}

// B prompts of 20..60 tokens (lengths spread evenly, then shuffled by the seed).
std::vector<std::vector<int32_t>> bench_prompts(int64_t B, int V) {
  Rng rng(42);
  std::vector<std::vector<int32_t>> prompts(B);
  for (int64_t i = 0; i < B; i++) {
    prompts[i].resize(20 + (B > 1 ? 40 * i / (B - 1) : 20) + rng.below(3));
    for (auto& id : prompts[i]) id = static_cast<int32_t>(rng.below(V));
  }
  return prompts;
}

// Runs `run` (B rows of kNewTokens) once untimed — the first call's fresh memory faults in; the
// caching allocator serves the later ones — then as the timed iterations, and sets the counters.
// 2 × the weights of the model's matmuls: the FLOPs of one token through them.
double matmul_flops_per_token(const GPTConfig& c) { return 2.0 * (12.0 * c.L * c.C * c.C + double(c.Vp) * c.C); }

template <typename Run>
void time_generation(benchmark::State& state, const GPT& model, const std::vector<std::vector<int32_t>>& prompts,
                     int64_t B, Run run) {
  run();
  for (auto _ : state) run();
  double read = double(B * kNewTokens);
  for (const auto& p : prompts) read += double(p.size());
  state.counters["gflops"] = benchmark::Counter(read * matmul_flops_per_token(model.config()) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tokens_per_s"] =
      benchmark::Counter(double(B * kNewTokens), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["s_per_step"] = benchmark::Counter(
      double(kNewTokens), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace

static void generate_batch_of(benchmark::State& state, GPT& model) {
  const int64_t B = state.range(0);
  const auto prompts = bench_prompts(B, model.config().V);
  BatchGenerateOptions options;
  options.max_new_tokens = kNewTokens;
  options.batch_size = B;
  std::vector<uint64_t> seeds(B);
  for (int64_t i = 0; i < B; i++) seeds[i] = 1000 + i;
  time_generation(state, model, prompts, B, [&] {
    std::vector<Sampler> samplers = make_samplers({1.0f, 0, 1.0f}, seeds);
    std::vector<GeneratedRow> rows = generate_batch(model, prompts, options, samplers);
    benchmark::DoNotOptimize(rows.data());
  });
}

static void BM_generate_batch(benchmark::State& state) { generate_batch_of(state, bench_model()); }
BENCHMARK(BM_generate_batch)->ArgName("B")->Arg(1)->Arg(4)->Arg(16)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_generate_batch_gpt2(benchmark::State& state) { generate_batch_of(state, gpt2_model()); }
BENCHMARK(BM_generate_batch_gpt2)->ArgName("B")->Arg(1)->Arg(16)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same B prompts through generate(), one at a time.
static void BM_generate_one_by_one(benchmark::State& state) {
  const int64_t B = state.range(0);
  GPT& model = bench_model();
  const auto prompts = bench_prompts(B, model.config().V);
  GenerateOptions options;
  options.max_new_tokens = kNewTokens;
  time_generation(state, model, prompts, B, [&] {
    for (int64_t i = 0; i < B; i++) {
      Sampler sampler({1.0f, 0, 1.0f}, 1000 + i);
      std::vector<int32_t> out = generate(model, prompts[i], options, sampler);
      benchmark::DoNotOptimize(out.data());
    }
  });
}
BENCHMARK(BM_generate_one_by_one)->ArgName("B")->Arg(1)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_matmul_ceiling(benchmark::State& state) {
  const GPTConfig& c = bench_model().config();
  const int64_t M = 1024, K = c.C, N = 4 * c.C;
  Rng rng(7);
  Tensor a = Tensor::empty({M, K}), w = Tensor::empty({N, K});
  for (int64_t i = 0; i < a.numel(); i++) a.f32()[i] = rng.uniform() - 0.5f;
  for (int64_t i = 0; i < w.numel(); i++) w.f32()[i] = rng.uniform() - 0.5f;
  benchmark::DoNotOptimize(matmul(a, w, false, true).f32());
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, w, false, true).f32());
  state.counters["gflops"] = benchmark::Counter(2.0 * M * K * N * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_matmul_ceiling)->UseRealTime()->Unit(benchmark::kMillisecond);
