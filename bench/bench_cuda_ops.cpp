// The CUDA op kernels of cuda_ops.h that are not matmuls, at GPT-2 124M training shapes
// (B = 16, T = 1024, C = 768, NH = 12, HS = 64, V = 50257 padded to Vp = 50304; N = B·T rows).
//
// Memory-bound kernels report GB/s of the fewest bytes they must move (each input read once, each
// output written once; bf16 = 2 B, fp32 = 4 B), and `of_copy`, that rate over the device's own copy
// rate, measured by the first case (cudaMemcpy device → device of 1 GiB, counting bytes read +
// written: 2 GiB per copy):
//   layernorm_forward    reads inp (N,C) bf16, writes out (N,C) bf16, mean + rstd (N) fp32:  4NC + 8N
//   layernorm_backward   reads dout, inp, dinp (N,C) bf16, mean, rstd; writes dinp:          8NC + 8N
//   gelu_forward         n = N·4C: reads inp, writes out (bf16):                              4n
//   gelu_backward        reads inp, dout, writes dinp (bf16):                                 6n
//   adamw_update         n = 124,475,904 parameters: reads p, g, m, v (fp32), writes p, m, v
//                        (fp32) and p_bf16 (bf16):                                            30n
//   squared_norm         reads g (fp32):                                                      4n
//   fused_classifier     (N = 8192, Vp = 50304): reads the logits, writes dlogits in place
//                        (bf16; the second read of the row is not counted):                    4·N·Vp
// Attention reports TFLOP/s (B = 16, T = 1024, NH = 12, HS = 64, causal):
//   forward   4·B·NH·HS·T²/2   (q·k and P·v over the T²/2 causal pairs, 2 FLOPs per multiply-add)
//   backward  2.5 × forward    (the count of a backward computing each product once; the flash
//                               dq pass recomputes two of them, which is not counted)
// The same shapes are in bench/cuda_attention_peer.py (PyTorch SDPA, cuDNN / flash) for comparison.
//
// Time: CUDA events around each call (manual time), after warm-up calls. Inputs are random (never
// zeros). fused_classifier overwrites its logits with dlogits, so after the first call it works on
// the previous call's gradients: the same amount of work on other numbers.
// Without a device (or built without CUDA) every benchmark reports an error instead of running.
#include <benchmark/benchmark.h>

#include <string>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda_check.h"

using sog::cuda::bf16;

namespace {

constexpr int kB = 16, kT = 1024, kC = 768, kNH = 12, kV = 50257, kVp = 50304;
constexpr int kN = kB * kT;
constexpr int64_t kParams = 124475904;  // GPT-2 124M with the padded vocabulary (llm.c's count)
constexpr int kClassifierRows = 8192;

// A device buffer of n values of T, random: bell-shaped values in [−2·scale, 2·scale) from a fixed
// LCG (their absolute values if non_negative; 1 Mi values drawn on the host, repeated over the
// buffer by device copies).
template <typename T>
struct RandomBuffer {
  T* ptr = nullptr;
  size_t n;
  RandomBuffer(size_t count, float scale, bool non_negative = false) : n(count) {
    cudaCheck(cudaMalloc(&ptr, std::max<size_t>(n, 1) * sizeof(T)));
    const size_t chunk = std::min<size_t>(n, size_t(1) << 20);
    std::vector<T> host(chunk);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (auto& x : host) {
      float f = 0.0f;
      for (int k = 0; k < 4; k++) {  // a sum of 4 uniforms: bell-shaped, mean 0
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        f += float(int64_t(s >> 40) - (int64_t(1) << 23)) / float(1 << 23);
      }
      f *= 0.5f * scale;
      if (non_negative) f = f < 0.0f ? -f : f;
      if constexpr (sizeof(T) == 2) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        const uint16_t h = uint16_t(u >> 16);
        std::memcpy(&x, &h, 2);
      } else {
        x = T(f);
      }
    }
    cudaCheck(cudaMemcpy(ptr, host.data(), chunk * sizeof(T), cudaMemcpyHostToDevice));
    for (size_t filled = chunk; filled < n; filled *= 2) {
      cudaCheck(cudaMemcpy(ptr + filled, ptr, std::min(filled, n - filled) * sizeof(T), cudaMemcpyDeviceToDevice));
    }
  }
  ~RandomBuffer() { cudaFree(ptr); }
  RandomBuffer(const RandomBuffer&) = delete;
  RandomBuffer& operator=(const RandomBuffer&) = delete;
};

bool skip_without_device(benchmark::State& state) {
  if (sog::cuda_available()) return false;
  state.SkipWithError((std::string("no CUDA device: ") + sog::cuda_unavailable_reason()).c_str());
  return true;
}

// One call per iteration, timed by events after 3 warm-up calls; returns seconds per call.
template <typename Fn>
double time_loop(benchmark::State& state, Fn&& fn) {
  cudaEvent_t start, stop;
  cudaCheck(cudaEventCreate(&start));
  cudaCheck(cudaEventCreate(&stop));
  for (int i = 0; i < 3; i++) fn();
  cudaCheck(cudaDeviceSynchronize());
  double total = 0.0;
  for (auto _ : state) {
    cudaCheck(cudaEventRecord(start));
    fn();
    cudaCheck(cudaEventRecord(stop));
    cudaCheck(cudaEventSynchronize(stop));
    float ms = 0.0f;
    cudaCheck(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms * 1e-3);
    total += ms * 1e-3;
  }
  cudaCheck(cudaEventDestroy(start));
  cudaCheck(cudaEventDestroy(stop));
  return total / double(std::max<int64_t>(1, state.iterations()));
}

// The device's copy rate in bytes/s (read + write), measured once: the median of 20 copies of 1 GiB.
double copy_bytes_per_s() {
  static double rate = [] {
    const size_t bytes = size_t(1) << 30;
    void *src = nullptr, *dst = nullptr;
    cudaCheck(cudaMalloc(&src, bytes));
    cudaCheck(cudaMalloc(&dst, bytes));
    cudaCheck(cudaMemset(src, 0x3C, bytes));
    cudaEvent_t start, stop;
    cudaCheck(cudaEventCreate(&start));
    cudaCheck(cudaEventCreate(&stop));
    std::vector<float> ms(20);
    for (int i = -3; i < int(ms.size()); i++) {
      cudaCheck(cudaEventRecord(start));
      cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice));
      cudaCheck(cudaEventRecord(stop));
      cudaCheck(cudaEventSynchronize(stop));
      if (i >= 0) cudaCheck(cudaEventElapsedTime(&ms[size_t(i)], start, stop));
    }
    std::sort(ms.begin(), ms.end());
    cudaCheck(cudaEventDestroy(start));
    cudaCheck(cudaEventDestroy(stop));
    cudaCheck(cudaFree(src));
    cudaCheck(cudaFree(dst));
    return 2.0 * double(bytes) / (ms[ms.size() / 2] * 1e-3);
  }();
  return rate;
}

void report_bandwidth(benchmark::State& state, double bytes_per_call, double seconds_per_call) {
  state.SetBytesProcessed(int64_t(bytes_per_call * double(state.iterations())));
  const double rate = bytes_per_call / seconds_per_call;
  state.counters["GB/s"] = rate * 1e-9;
  state.counters["of_copy"] = rate / copy_bytes_per_s();
}

// ---- the copy ceiling ----------------------------------------------------------------------------

void BM_copy_device_to_device(benchmark::State& state) {
  if (skip_without_device(state)) return;
  const size_t bytes = size_t(1) << 30;
  RandomBuffer<float> src(bytes / 4, 1.0f), dst(bytes / 4, 1.0f);
  const double s = time_loop(state, [&] {
    cudaCheck(cudaMemcpyAsync(dst.ptr, src.ptr, bytes, cudaMemcpyDeviceToDevice));
  });
  report_bandwidth(state, 2.0 * double(bytes), s);
}
BENCHMARK(BM_copy_device_to_device)->Name("cuda_ops/copy_d2d/1GiB")->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- LayerNorm -----------------------------------------------------------------------------------

void BM_layernorm_forward(benchmark::State& state) {
  if (skip_without_device(state)) return;
  RandomBuffer<bf16> inp(size_t(kN) * kC, 2.0f), out(size_t(kN) * kC, 1.0f), w(kC, 1.0f), b(kC, 1.0f);
  RandomBuffer<float> mean(kN, 1.0f), rstd(kN, 1.0f);
  const double s = time_loop(state, [&] {
    sog::cuda::layernorm_forward(out.ptr, mean.ptr, rstd.ptr, inp.ptr, w.ptr, b.ptr, kN, kC, nullptr);
  });
  report_bandwidth(state, 4.0 * kN * kC + 8.0 * kN, s);
}
BENCHMARK(BM_layernorm_forward)->Name("cuda_ops/layernorm_forward/N16384_C768")->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_layernorm_backward(benchmark::State& state) {
  if (skip_without_device(state)) return;
  RandomBuffer<bf16> inp(size_t(kN) * kC, 2.0f), dout(size_t(kN) * kC, 1.0f), dinp(size_t(kN) * kC, 1.0f),
      w(kC, 1.0f);
  RandomBuffer<float> mean(kN, 0.1f), rstd(kN, 1.0f), dw(kC, 1.0f), db(kC, 1.0f);
  RandomBuffer<float> scratch(size_t(sog::cuda::layernorm_backward_scratch_floats(kN, kC)), 0.0f);
  const double s = time_loop(state, [&] {
    sog::cuda::layernorm_backward(dinp.ptr, dw.ptr, db.ptr, scratch.ptr, dout.ptr, inp.ptr, w.ptr, mean.ptr,
                                  rstd.ptr, kN, kC, nullptr);
  });
  report_bandwidth(state, 8.0 * kN * kC + 8.0 * kN, s);
}
BENCHMARK(BM_layernorm_backward)->Name("cuda_ops/layernorm_backward/N16384_C768")->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// ---- GELU ----------------------------------------------------------------------------------------

void BM_gelu_forward(benchmark::State& state) {
  if (skip_without_device(state)) return;
  const int64_t n = int64_t(kN) * 4 * kC;
  RandomBuffer<bf16> inp(size_t(n), 3.0f), out(size_t(n), 1.0f);
  const double s = time_loop(state, [&] { sog::cuda::gelu_forward(out.ptr, inp.ptr, n, nullptr); });
  report_bandwidth(state, 4.0 * double(n), s);
}
BENCHMARK(BM_gelu_forward)->Name("cuda_ops/gelu_forward/n50331648")->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_gelu_backward(benchmark::State& state) {
  if (skip_without_device(state)) return;
  const int64_t n = int64_t(kN) * 4 * kC;
  RandomBuffer<bf16> inp(size_t(n), 3.0f), dout(size_t(n), 1.0f), dinp(size_t(n), 1.0f);
  const double s = time_loop(state, [&] { sog::cuda::gelu_backward(dinp.ptr, inp.ptr, dout.ptr, n, nullptr); });
  report_bandwidth(state, 6.0 * double(n), s);
}
BENCHMARK(BM_gelu_backward)->Name("cuda_ops/gelu_backward/n50331648")->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- AdamW and the gradient norm -----------------------------------------------------------------

void BM_adamw_update(benchmark::State& state) {
  if (skip_without_device(state)) return;
  RandomBuffer<float> p(kParams, 0.1f), g(kParams, 0.01f), m(kParams, 0.001f), v(kParams, 0.0001f, true);
  RandomBuffer<bf16> p16(kParams, 0.1f);
  int t = 1;
  const double s = time_loop(state, [&] {
    sog::cuda::adamw_update(p.ptr, p16.ptr, g.ptr, m.ptr, v.ptr, kParams, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f,
                            t++, nullptr);
  });
  report_bandwidth(state, 30.0 * double(kParams), s);
}
BENCHMARK(BM_adamw_update)->Name("cuda_ops/adamw_update/n124475904")->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_squared_norm(benchmark::State& state) {
  if (skip_without_device(state)) return;
  RandomBuffer<float> g(kParams, 0.01f), out(1, 0.0f);
  const double s = time_loop(state, [&] { sog::cuda::squared_norm(out.ptr, g.ptr, kParams, nullptr); });
  report_bandwidth(state, 4.0 * double(kParams), s);
}
BENCHMARK(BM_squared_norm)->Name("cuda_ops/squared_norm/n124475904")->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- the fused classifier ------------------------------------------------------------------------

void BM_fused_classifier(benchmark::State& state) {
  if (skip_without_device(state)) return;
  RandomBuffer<bf16> logits(size_t(kClassifierRows) * kVp, 4.0f);
  RandomBuffer<float> losses(kClassifierRows, 0.0f);
  std::vector<int32_t> host_targets(kClassifierRows);
  for (int i = 0; i < kClassifierRows; i++) host_targets[size_t(i)] = int32_t((int64_t(i) * 7919) % kV);
  int32_t* targets = nullptr;
  cudaCheck(cudaMalloc(&targets, sizeof(int32_t) * kClassifierRows));
  cudaCheck(cudaMemcpy(targets, host_targets.data(), sizeof(int32_t) * kClassifierRows, cudaMemcpyHostToDevice));
  const double s = time_loop(state, [&] {
    sog::cuda::fused_classifier(logits.ptr, losses.ptr, targets, nullptr, 1.0f / kClassifierRows, kClassifierRows, kV,
                                kVp, nullptr);
  });
  cudaCheck(cudaFree(targets));
  report_bandwidth(state, 4.0 * kClassifierRows * double(kVp), s);
}
BENCHMARK(BM_fused_classifier)->Name("cuda_ops/fused_classifier/N8192_Vp50304")->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// ---- attention -----------------------------------------------------------------------------------

constexpr int kHS = kC / kNH;
double attention_forward_flops() { return 4.0 * kB * kNH * kHS * double(kT) * kT / 2.0; }

void BM_attention(benchmark::State& state, size_t variant_index, bool backward) {
  if (skip_without_device(state)) return;
  const auto& variant = sog::cuda::attention_variants().at(variant_index);
  RandomBuffer<bf16> qkv(size_t(kN) * 3 * kC, 2.0f), out(size_t(kN) * kC, 1.0f), dout(size_t(kN) * kC, 1.0f),
      dqkv(size_t(kN) * 3 * kC, 1.0f);
  RandomBuffer<float> lse(size_t(kB) * kNH * kT, 1.0f);
  variant.forward(out.ptr, lse.ptr, qkv.ptr, kB, kT, kC, kNH, nullptr);  // the backward's out and lse
  double s = 0.0;
  if (backward) {
    RandomBuffer<float> scratch(size_t(variant.backward_scratch_floats(kB, kT, kC, kNH)), 0.0f);
    s = time_loop(state, [&] {
      variant.backward(dqkv.ptr, scratch.ptr, dout.ptr, qkv.ptr, out.ptr, lse.ptr, kB, kT, kC, kNH, nullptr);
    });
  } else {
    s = time_loop(state, [&] { variant.forward(out.ptr, lse.ptr, qkv.ptr, kB, kT, kC, kNH, nullptr); });
  }
  const double flops = attention_forward_flops() * (backward ? 2.5 : 1.0);
  state.counters["TFLOP/s"] = flops / s * 1e-12;
}

// One registration per variant and pass: cuda_ops/attention_<variant>_<forward|backward>/B16_T1024_NH12_HS64
const bool kAttentionRegistered = [] {
  const auto& variants = sog::cuda::attention_variants();
  for (size_t i = 0; i < variants.size(); i++) {
    for (bool backward : {false, true}) {
      const std::string name = std::string("cuda_ops/attention_") + variants[i].name +
                               (backward ? "_backward" : "_forward") + "/B16_T1024_NH12_HS64";
      benchmark::RegisterBenchmark(name.c_str(), BM_attention, i, backward)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace

#else  // !SOG_HAVE_CUDA

static void cuda_ops_unavailable(benchmark::State& state) {
  state.SkipWithError("no CUDA device: built without CUDA");
  for (auto _ : state) {
  }
}
BENCHMARK(cuda_ops_unavailable);

#endif
