// LoRA against full fine-tuning, and the bf16-weight GEMM against the f32 one.
//
// train_step/<mode>: one training step of the `small` preset (L=6 NH=6 C=192 maxT=256) on 16 rows
// of 128 tokens (the 2,048 tokens of a chapter 02 step, V=2048): forward, backward, AdamW on the trainable
// parameters, zero_grad. Modes:
//   full          every base parameter trains (chapter 02's step)
//   lora          rank 8 on qkv + attproj, the base frozen (no base gradients, no dW products)
//   lora_bf16     the same with the frozen base's matrices kept in bf16 (freeze_base_bf16)
// Counters: trainable_params; trainable_MB = the trainable state, 16 bytes per trainable parameter
// (f32 value + gradient + AdamW's two moments); base_weights_MB and base_grads_MB = what the base
// holds besides (frozen: values only).
//
// matmul_bf16b/<shape>: matmul_forward (f32 B) against matmul_forward_bf16b (bf16 B, widened while
// packing) on the Linear shapes of the two presets, in GFLOP/s (2·M·K·N per call): the forward
// y = x·Wᵀ (nt) and the input gradient dx = dy·W (nn), the two products a frozen weight takes part in.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/nn/gpt.h"
#include "common/nn/lora.h"
#include "common/ops/matmul_kernels.h"
#include "common/optim/adamw.h"
#include "common/tensor/random.h"

using namespace sog;

// ---- the training step ------------------------------------------------------------------------

static Tensor random_ids(int64_t B, int64_t T, int V, uint64_t seed) {
  Rng r(seed);
  std::vector<int32_t> ids(B * T);
  for (auto& id : ids) id = static_cast<int32_t>(r.below(V));
  return Tensor::from_ids({B, T}, ids);
}

enum class Mode { full, lora, lora_bf16 };

static void BM_train_step(benchmark::State& state, Mode mode) {
  const int V = 2048;
  const int64_t B = 16, T = 128;
  GPTConfig cfg = gpt_preset("small", V);
  GPT model(cfg);
  model.init_gpt2(1);
  LoRAConfig lc;  // rank 8, alpha 16, qkv + attproj
  LoRA lora(cfg, lc);
  lora.init(2);
  if (mode != Mode::full) {
    if (mode == Mode::lora_bf16) model.freeze_base_bf16();
    else model.set_base_trainable(false);
    model.attach_lora(&lora);
  }
  Tensor& params = mode == Mode::full ? model.params() : lora.params();
  Tensor& grads = mode == Mode::full ? model.grads() : lora.grads();
  const int64_t trainable = params.numel();
  AdamW opt(trainable, mode == Mode::full ? model.optimizer_segments() : lora.optimizer_segments(), AdamWConfig{});
  Tensor x = random_ids(B, T, V, 3), y = random_ids(B, T, V, 4);
  for (auto _ : state) {
    Tensor loss = model.loss(x, y);
    loss.backward();
    opt.step(params, grads, 1e-4f);
    grads.zero();
    benchmark::DoNotOptimize(loss.item());
  }
  state.counters["trainable_params"] = double(trainable);
  state.counters["trainable_MB"] = double(trainable) * 16 / 1e6;
  state.counters["base_weights_MB"] = double(model.parameter_bytes()) / 1e6;
  state.counters["base_grads_MB"] = double(model.gradient_bytes()) / 1e6;
  state.counters["tokens_per_s"] = benchmark::Counter(double(B * T), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK_CAPTURE(BM_train_step, full, Mode::full)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_train_step, lora, Mode::lora)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_train_step, lora_bf16, Mode::lora_bf16)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- the bf16-weight GEMM ---------------------------------------------------------------------

struct LinearShape {
  const char* name;
  int64_t M, K, N;
  bool trans_b;
};

// M = B·T rows: 2048 for the small run above, 4096 for GPT-2 small (B·T = 4·1024).
static const std::vector<LinearShape> kShapes = {
    {"small_qkv_fwd", 2048, 192, 576, true},   {"small_fc_dx", 2048, 768, 192, false},
    {"gpt2_qkv_fwd", 4096, 768, 2304, true},   {"gpt2_fcproj_fwd", 4096, 3072, 768, true},
    {"gpt2_fc_dx", 4096, 3072, 768, false},
};

static void BM_matmul(benchmark::State& state, LinearShape s, bool bf16) {
  Tensor A = Tensor::randn({s.M * s.K}, 1.0f, 1), Bf = Tensor::randn({s.K * s.N}, 1.0f, 2);
  Tensor Bh = Bf.to(DType::bf16), C = Tensor::zeros({s.M * s.N});
  for (auto _ : state) {
    if (bf16)
      matmul_forward_bf16b(C.f32(), A.f32(), Bh.bf16(), nullptr, s.M, s.K, s.N, false, s.trans_b, false);
    else
      matmul_forward(C.f32(), A.f32(), Bf.f32(), nullptr, s.M, s.K, s.N, false, s.trans_b, false);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(s.M) * double(s.K) * double(s.N) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_MB"] = double(s.K * s.N) * (bf16 ? 2 : 4) / 1e6;
}

static int register_matmuls() {
  for (const auto& s : kShapes) {
    for (bool bf16 : {false, true}) {
      const std::string name = std::string("matmul_bf16b/") + s.name + "/M" + std::to_string(s.M) + "_K" +
                               std::to_string(s.K) + "_N" + std::to_string(s.N) + (s.trans_b ? "_nt" : "_nn") +
                               (bf16 ? "/bf16" : "/f32");
      benchmark::RegisterBenchmark(name.c_str(), BM_matmul, s, bf16)->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  }
  return 0;
}
static const int kRegistered = register_matmuls();
