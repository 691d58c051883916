// One training step of a GPT (forward, backward, clip, AdamW) and the sampler, timed on random
// tokens: the figure bench/pytorch_train_step.py measures for PyTorch, with the same shapes, so that
// bench/train_step_table.sh sets the two side by side. Prints one JSON line:
//
//   {"peer": "stateofgpt", "model": "gpt2", "B": 4, "T": 64, "ms_per_step": …, "tokens_per_s": …,
//    "mfu": …, "sample_tokens_per_s": …, "peak_rss_mb": …, …}
//
//   bench/train_step --preset gpt2 --vocab 50257 -B 4 -T 64 --steps 5 [--peak-gflops 440]
//   bench/train_step --device cuda …   the same step on the GPU (common/nn/gpt_cuda.h)
//   bench/train_step --isas            the CPU kernels this machine runs ({"active", "runnable", "cpu"})
//
// ms_per_step is the fastest of the timed steps (the first, which warms the caches and the
// allocator or loads the kernels, is not timed); MFU is against --peak-gflops: the CPU's fp32 peak,
// or on the GPU the bf16 dense peak (790 TFLOP/s, an H200's, unless given).
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/cpu/isa.h"
#include "common/generate/generate.h"
#include "common/generate/generate_cuda.h"
#include "common/io/metrics.h"
#include "common/nn/gpt.h"
#include "common/nn/gpt_cuda.h"
#include "common/optim/adamw.h"

using namespace sog;
using json = nlohmann::json;

struct BenchConfig {
  std::string preset = "gpt2";
  int V = 50257, steps = 5;
  int64_t B = 4, T = 64;
  double peak_gflops = 440.0;
};

// FLOPs of one training step per token: 6 per weight of the matmuls (forward 2, backward 4), with
// the tied LM head counted as a Vp×C matmul, plus the causal attention: 6·L·T·C (q·k and att·v,
// forward and backward, over the T/2 earlier positions on average).
static double train_flops_per_token(const GPTConfig& c, int64_t T) {
  const double matmul_params = 12.0 * c.L * c.C * c.C + static_cast<double>(c.Vp) * c.C;
  return 6.0 * matmul_params + 6.0 * c.L * static_cast<double>(T) * c.C;
}

static double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Random inputs and targets (B,T), the same for every step.
static std::pair<Tensor, Tensor> random_batch(int V, int64_t B, int64_t T) {
  Rng rng(2);
  std::vector<int32_t> xs(B * T), ys(B * T);
  for (auto* v : {&xs, &ys})
    for (auto& id : *v) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(V)));
  return {Tensor::from_ids({B, T}, xs), Tensor::from_ids({B, T}, ys)};
}

// `steps` + 1 calls of one_step; the times of all but the first, fastest first.
template <class Step>
static std::vector<double> time_steps(int steps, Step one_step) {
  std::vector<double> times;
  for (int i = 0; i < steps + 1; i++) {
    auto t0 = std::chrono::steady_clock::now();
    one_step();
    if (i > 0) times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  return times;
}

// Sampling: one sequence, prefill 1 token then 1 token at a time (KV cache), in tokens/s.
template <class Model>  // GPT or GPTCuda: generate() has an overload for each
static double sample_tokens_per_s(Model& model, const GPTConfig& mc) {
  Sampler sampler({1.0f, 0, 1.0f}, 3);
  GenerateOptions gen;
  gen.max_new_tokens = std::min<int64_t>(mc.max_T - 1, 128);
  auto t0 = std::chrono::steady_clock::now();
  auto out = generate(model, {0}, gen, sampler);
  return static_cast<double>(out.size()) / seconds_since(t0);
}

// The fields both devices report, from the sorted step times.
static json step_record(const BenchConfig& b, const GPT& model, const std::vector<double>& times) {
  const double best = times.front(), median = times[times.size() / 2];
  const double tokens_per_s = static_cast<double>(b.B * b.T) / best;
  const double flops_per_s = train_flops_per_token(model.config(), b.T) * tokens_per_s;
  return {{"peer", "stateofgpt"}, {"model", b.preset}, {"B", b.B}, {"T", b.T}, {"parameters", model.num_params()},
          {"ms_per_step", best * 1e3}, {"median_ms_per_step", median * 1e3}, {"tokens_per_s", tokens_per_s},
          {"mfu", flops_per_s / (b.peak_gflops * 1e9)}, {"peak_gflops_assumed", b.peak_gflops},
          {"tflops", flops_per_s / 1e12}};
}

static json bench_cpu(const BenchConfig& b) {
  GPT model(gpt_preset(b.preset, b.V));
  model.init_gpt2(1);
  AdamW opt(model.num_params(), model.optimizer_segments(), {0.9f, 0.95f, 1e-8f, 0.1f});
  auto [x, y] = random_batch(b.V, b.B, b.T);
  std::vector<double> times = time_steps(b.steps, [&] {
    Tensor loss = model.loss(x, y);
    loss.backward();
    clip_grad_norm(model.grads(), 1.0f);
    opt.step(model.params(), model.grads(), 1e-4f);
    model.zero_grad();
  });
  json r = step_record(b, model, times);
  r.update({{"threads", omp_get_max_threads()}, {"cpu_isa", isa_name(active_isa())}, {"cpu", cpu_model_name()},
            {"sample_tokens_per_s", sample_tokens_per_s(model, model.config())}, {"peak_rss_mb", peak_rss_mb()},
            {"params_grads_adam_mb", 4 * static_cast<double>(model.num_params()) * 4 / 1e6}});
  return r;
}

// One whole step on the device — forward, backward, the norm read back, AdamW — timed on the host
// after the device has finished it.
static json bench_cuda(const BenchConfig& b) {
  GPT model(gpt_preset(b.preset, b.V));
  model.init_gpt2(1);
  GPTCuda gpu(model, b.B, b.T);
  const AdamWConfig adamw{0.9f, 0.95f, 1e-8f, 0.1f};
  auto [x, y] = random_batch(b.V, b.B, b.T);
  std::vector<float> losses;
  std::vector<double> times = time_steps(b.steps, [&] {
    gpu.zero_grad();
    gpu.forward(x, y);
    gpu.backward();
    losses.push_back(gpu.adamw_step(1e-4f, adamw, 1.0f).loss);
    gpu.synchronize();  // the update too: each time is a whole step
  });
  json r = step_record(b, model, times);
  r.update({{"device", "cuda"}, {"gpu", gpu.device_name()},
            {"first_loss", losses.front()}, {"last_loss", losses.back()},  // ≈ ln V, then falling (one batch)
            {"sample_tokens_per_s", sample_tokens_per_s(gpu, model.config())},
            {"device_memory_mb", static_cast<double>(gpu.device_bytes()) / 1e6}});
  return r;
}

int main(int argc, char** argv) {
  CLI::App app{"time GPT training steps and sampling on random data (one JSON line)"};
  BenchConfig b;
  std::string device = "cpu";
  bool isas = false;
  app.add_option("--preset", b.preset)->capture_default_str();
  app.add_option("--vocab", b.V, "V (GPT-2: 50257; bytes: 264)")->capture_default_str();
  app.add_option("--batch-size,-B", b.B)->capture_default_str();
  app.add_option("--seq-len,-T", b.T)->capture_default_str();
  app.add_option("--steps", b.steps, "timed steps (after one warm-up step)")->capture_default_str()->check(
      CLI::PositiveNumber);
  CLI::Option* peak = app.add_option("--peak-gflops", b.peak_gflops,
                                     "the machine's peak for MFU: fp32 on the CPU; bf16 on the GPU "
                                     "(default there 790000, an H200)")->capture_default_str();
  app.add_option("--device", device, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_flag("--isas", isas, "print the CPU kernels this machine runs and the one it picks (JSON), and exit");
  CLI11_PARSE(app, argc, argv);
  try {
    if (isas) {
      std::printf("%s\n", cpu_isas_json().dump().c_str());
      return 0;
    }
    json r;
    if (device == "cuda") {
      require_cuda_device("--device cuda");
      if (peak->count() == 0) b.peak_gflops = 790000.0;  // H200 bf16 dense
      r = bench_cuda(b);
    } else {
      r = bench_cpu(b);
    }
    std::printf("%s\n", r.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_step: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
