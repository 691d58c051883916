// CUDA matmul: the bf16 and fp32 ladders of common/ops/matmul.cu against cuBLAS (cublasGemmEx in
// bf16 with fp32 accumulation, cublasSgemm in fp32) and cuBLASLt (bf16, its heuristic's first
// algorithm, 32 MiB of workspace), on the Linear layers of GPT-2 124M at B·T = 16·1024 rows:
//
//   layer     C → OC        forward (nt)            dinp (nn)              dweight (tn, += fp32)
//   qkv       768 → 2304    M=16384 K=768  N=2304   M=16384 K=2304 N=768   M=2304 K=16384 N=768
//   attproj   768 → 768     …
//   fc        768 → 3072
//   fcproj    3072 → 768
//   lmhead    768 → 50304
//
// forward: out (N,OC) = inp · Wᵀ (bf16 out); dinp = dout · W (bf16 out); dweight += doutᵀ · inp (fp32
// out, accumulating), exactly the calls matmul_forward / matmul_backward make.
//
// Time: CUDA events around each call (manual time), after warm-up calls. Counters:
//   TFLOP/s    = 2·M·K·N / seconds per call / 1e12
//   vs_cublas  = cuBLAS time / this time on the same problem (cublasGemmEx for bf16, cublasSgemm
//                for fp32): 1.0 is cuBLAS's speed, 0.5 half of it
// Operands are random (never zeros: zeros run faster than real data), drawn once on the host and
// tiled over the device buffers. The weights fit in the 60 MB L2, as they do in training.
//
// The cuBLAS cases need a build that found cuBLAS (SOG_HAVE_CUBLAS, bench/CMakeLists.txt); without
// it our variants run alone and report no vs_cublas.
// Names: cuda_matmul/<variant|cublas|cublaslt|cublas_sgemm>/<layer>_<pass>/M<M>_K<K>_N<N>_<nn|nt|tn>.
// Without a device (or built without CUDA) every benchmark reports an error instead of running.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <cuda_runtime.h>
#if SOG_HAVE_CUBLAS
#include <cublasLt.h>
#include <cublas_v2.h>
#endif

#include <algorithm>
#include <stdexcept>

#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda_check.h"

using sog::cuda::bf16;

namespace {

struct Problem {
  std::string layer, pass;
  int M, K, N;
  bool trans_a, trans_b;
  bool f32_accumulate;  // the weight gradient: fp32 output, C += …
  double flops() const { return 2.0 * M * double(K) * N; }
  std::string label() const {
    return layer + "_" + pass + "/M" + std::to_string(M) + "_K" + std::to_string(K) + "_N" + std::to_string(N) + "_" +
           (trans_a ? "t" : "n") + (trans_b ? "t" : "n");
  }
};

constexpr int kRows = 16 * 1024;  // B·T

std::vector<Problem> gpt2_problems() {
  const std::vector<std::tuple<const char*, int, int>> layers = {
      {"qkv", 768, 2304}, {"attproj", 768, 768}, {"fc", 768, 3072}, {"fcproj", 3072, 768}, {"lmhead", 768, 50304}};
  std::vector<Problem> problems;
  for (const auto& [name, C, OC] : layers) {
    problems.push_back({name, "fwd", kRows, C, OC, false, true, false});
    problems.push_back({name, "dinp", kRows, OC, C, false, false, false});
    problems.push_back({name, "dweight", OC, kRows, C, true, false, true});
  }
  return problems;
}

#if SOG_HAVE_CUBLAS
#define CUBLAS_CHECK(call)                                                                            \
  do {                                                                                               \
    cublasStatus_t st_ = (call);                                                                     \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                                \
      throw std::runtime_error(std::string("cuBLAS error ") + std::to_string(int(st_)) + " in " #call); \
  } while (0)
#endif

// Device buffer filled with random values: 1 Mi values from a fixed LCG, uniform in [−1, 1),
// repeated over the buffer.
template <typename T>
struct RandomBuffer {
  T* ptr = nullptr;
  size_t n;
  explicit RandomBuffer(size_t count) : n(count) {
    cudaCheck(cudaMalloc(&ptr, n * sizeof(T)));
    const size_t chunk = std::min<size_t>(n, size_t(1) << 20);
    // bf16 as its bit pattern (the top half of the fp32 value), fp32 as itself
    std::vector<std::conditional_t<sizeof(T) == 2, uint16_t, float>> host(chunk);
    static_assert(sizeof(host[0]) == sizeof(T));
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (auto& x : host) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      const float f = float(int64_t(s >> 40) - (int64_t(1) << 23)) / float(1 << 23);
      if constexpr (sizeof(T) == 2) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        x = uint16_t(u >> 16);
      } else {
        x = f;
      }
    }
    cudaCheck(cudaMemcpy(ptr, host.data(), chunk * sizeof(T), cudaMemcpyHostToDevice));
    for (size_t filled = chunk; filled < n; filled *= 2) {  // double the filled prefix on the device
      cudaCheck(cudaMemcpy(ptr + filled, ptr, std::min(filled, n - filled) * sizeof(T), cudaMemcpyDeviceToDevice));
    }
  }
  ~RandomBuffer() { cudaFree(ptr); }
  RandomBuffer(const RandomBuffer&) = delete;
  RandomBuffer& operator=(const RandomBuffer&) = delete;
};

#if SOG_HAVE_CUBLAS
struct Handles {
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
  static constexpr size_t kWorkspace = size_t(32) << 20;
  Handles() {
    CUBLAS_CHECK(cublasCreate(&blas));
    CUBLAS_CHECK(cublasLtCreate(&lt));
    cudaCheck(cudaMalloc(&workspace, kWorkspace));
    CUBLAS_CHECK(cublasSetWorkspace(blas, workspace, kWorkspace));
  }
};
Handles& handles() {
  static Handles* h = new Handles();
  return *h;
}

// Row-major C (M,N) = op(A)·op(B) is column-major Cᵀ (N,M) = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B first.
void cublas_bf16(const Problem& p, const bf16* A, const bf16* B, void* C) {
  const float alpha = 1.0f, beta = p.f32_accumulate ? 1.0f : 0.0f;
  CUBLAS_CHECK(cublasGemmEx(handles().blas, p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                            p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, p.N, p.M, p.K, &alpha, B, CUDA_R_16BF,
                            p.trans_b ? p.K : p.N, A, CUDA_R_16BF, p.trans_a ? p.M : p.K, &beta, C,
                            p.f32_accumulate ? CUDA_R_32F : CUDA_R_16BF, p.N, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT));
}

void cublas_f32(const Problem& p, const float* A, const float* B, float* C) {
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_CHECK(cublasSgemm(handles().blas, p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                           p.N, p.M, p.K, &alpha, B, p.trans_b ? p.K : p.N, A, p.trans_a ? p.M : p.K, &beta, C, p.N));
}

// cuBLASLt: one descriptor set and algorithm per problem, built on first use.
struct LtPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};
LtPlan lt_plan(const Problem& p) {
  LtPlan plan;
  const cublasOperation_t op_first = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;   // applied to B
  const cublasOperation_t op_second = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;  // applied to A
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_first, sizeof(op_first)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_second, sizeof(op_second)));
  // Column-major layouts (rows, cols, ld) of the stored buffers.
  if (p.trans_b) {
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.a, CUDA_R_16BF, p.K, p.N, p.K));
  } else {
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.a, CUDA_R_16BF, p.N, p.K, p.N));
  }
  if (p.trans_a) {
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.b, CUDA_R_16BF, p.M, p.K, p.M));
  } else {
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.b, CUDA_R_16BF, p.K, p.M, p.K));
  }
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.c, p.f32_accumulate ? CUDA_R_32F : CUDA_R_16BF, p.N, p.M, p.N));
  cublasLtMatmulPreference_t pref;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  size_t ws = Handles::kWorkspace;
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handles().lt, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, 1,
                                              &result, &found));
  cublasLtMatmulPreferenceDestroy(pref);
  if (found == 0) throw std::runtime_error("cuBLASLt found no algorithm for " + p.label());
  plan.algo = result.algo;
  return plan;
}

void cublaslt_bf16(const Problem& p, const LtPlan& plan, const bf16* A, const bf16* B, void* C) {
  const float alpha = 1.0f, beta = p.f32_accumulate ? 1.0f : 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(handles().lt, plan.desc, &alpha, B, plan.a, A, plan.b, &beta, C, plan.c, C, plan.c,
                              &plan.algo, handles().workspace, Handles::kWorkspace, nullptr));
}
#endif  // SOG_HAVE_CUBLAS

// Median seconds per call of fn over `reps` timed calls, after 3 warm-ups.
template <typename Fn>
double median_seconds(Fn&& fn, int reps) {
  cudaEvent_t start, stop;
  cudaCheck(cudaEventCreate(&start));
  cudaCheck(cudaEventCreate(&stop));
  for (int i = 0; i < 3; i++) fn();
  std::vector<double> t;
  for (int i = 0; i < reps; i++) {
    cudaCheck(cudaEventRecord(start));
    fn();
    cudaCheck(cudaEventRecord(stop));
    cudaCheck(cudaEventSynchronize(stop));
    float ms = 0;
    cudaCheck(cudaEventElapsedTime(&ms, start, stop));
    t.push_back(ms * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Operands of one problem in bf16 (and fp32 for the fp32 ladder).
struct Operands {
  RandomBuffer<bf16> A, B;
  RandomBuffer<bf16> C16;
  RandomBuffer<float> C32;
  explicit Operands(const Problem& p)
      : A(size_t(p.M) * p.K), B(size_t(p.K) * p.N), C16(p.f32_accumulate ? 1 : size_t(p.M) * p.N),
        C32(p.f32_accumulate ? size_t(p.M) * p.N : 1) {}
};
struct OperandsF32 {
  RandomBuffer<float> A, B, C;
  explicit OperandsF32(const Problem& p) : A(size_t(p.M) * p.K), B(size_t(p.K) * p.N), C(size_t(p.M) * p.N) {}
};

// cuBLAS's time on a problem, measured once per process (the denominator of vs_cublas).
// 0 when this build has no cuBLAS (then no ratio is reported).
double cublas_seconds(const Problem& p, bool f32) {
#if !SOG_HAVE_CUBLAS
  (void)p, (void)f32;
  return 0.0;
#else
  static std::map<std::string, double> cache;
  const std::string key = p.label() + (f32 ? "/f32" : "/bf16");
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  double s;
  if (f32) {
    OperandsF32 op(p);
    s = median_seconds([&] { cublas_f32(p, op.A.ptr, op.B.ptr, op.C.ptr); }, 10);
  } else {
    Operands op(p);
    void* C = p.f32_accumulate ? static_cast<void*>(op.C32.ptr) : static_cast<void*>(op.C16.ptr);
    s = median_seconds([&] { cublas_bf16(p, op.A.ptr, op.B.ptr, C); }, 10);
  }
  cache[key] = s;
  return s;
#endif
}

bool skip_without_device(benchmark::State& state) {
  if (sog::cuda_available()) return false;
  state.SkipWithError((std::string("no CUDA device: ") + sog::cuda_unavailable_reason()).c_str());
  return true;
}

// The timing loop shared by every case: one call per iteration, timed by events.
template <typename Fn>
void time_loop(benchmark::State& state, const Problem& p, double cublas_s, Fn&& fn) {
  cudaEvent_t start, stop;
  cudaCheck(cudaEventCreate(&start));
  cudaCheck(cudaEventCreate(&stop));
  for (int i = 0; i < 3; i++) fn();  // warm-up: module load, first-touch, cuBLAS heuristics
  cudaCheck(cudaDeviceSynchronize());
  double total = 0;
  for (auto _ : state) {
    cudaCheck(cudaEventRecord(start));
    fn();
    cudaCheck(cudaEventRecord(stop));
    cudaCheck(cudaEventSynchronize(stop));
    float ms = 0;
    cudaCheck(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms * 1e-3);
    total += ms * 1e-3;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const double per_call = total / double(state.iterations());
  state.counters["TFLOP/s"] = p.flops() / per_call * 1e-12;
  if (cublas_s > 0) state.counters["vs_cublas"] = cublas_s / per_call;
}

void run_bf16_variant(benchmark::State& state, sog::cuda::MatmulBf16Variant v, Problem p) {
  if (skip_without_device(state)) return;
  int device = 0, major = 0, minor = 0;
  cudaCheck(cudaGetDevice(&device));
  cudaCheck(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  cudaCheck(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  if (major * 10 + minor < v.min_sm) {
    state.SkipWithError(("needs sm_" + std::to_string(v.min_sm)).c_str());
    return;
  }
  const double ref = cublas_seconds(p, false);
  Operands op(p);
  time_loop(state, p, ref, [&] {
    v.fn(p.f32_accumulate ? op.C32.ptr : nullptr, p.f32_accumulate ? nullptr : op.C16.ptr, op.A.ptr, op.B.ptr, nullptr,
         p.M, p.K, p.N, p.trans_a, p.trans_b, p.f32_accumulate, nullptr);
  });
}

void run_f32_variant(benchmark::State& state, sog::cuda::MatmulF32Variant v, Problem p) {
  if (skip_without_device(state)) return;
  const double ref = cublas_seconds(p, true);
  OperandsF32 op(p);
  time_loop(state, p, ref, [&] {
    v.fn(op.C.ptr, op.A.ptr, op.B.ptr, nullptr, p.M, p.K, p.N, p.trans_a, p.trans_b, false, nullptr);
  });
}

#if SOG_HAVE_CUBLAS
void run_cublas(benchmark::State& state, Problem p) {
  if (skip_without_device(state)) return;
  Operands op(p);
  void* C = p.f32_accumulate ? static_cast<void*>(op.C32.ptr) : static_cast<void*>(op.C16.ptr);
  time_loop(state, p, cublas_seconds(p, false), [&] { cublas_bf16(p, op.A.ptr, op.B.ptr, C); });
}

void run_cublaslt(benchmark::State& state, Problem p) {
  if (skip_without_device(state)) return;
  Operands op(p);
  const LtPlan plan = lt_plan(p);
  void* C = p.f32_accumulate ? static_cast<void*>(op.C32.ptr) : static_cast<void*>(op.C16.ptr);
  time_loop(state, p, cublas_seconds(p, false), [&] { cublaslt_bf16(p, plan, op.A.ptr, op.B.ptr, C); });
}

void run_cublas_sgemm(benchmark::State& state, Problem p) {
  if (skip_without_device(state)) return;
  OperandsF32 op(p);
  time_loop(state, p, cublas_seconds(p, true), [&] { cublas_f32(p, op.A.ptr, op.B.ptr, op.C.ptr); });
}
#endif

void configure(benchmark::internal::Benchmark* b, double min_time) {
  b->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(min_time);
}

int register_all() {
  const auto problems = gpt2_problems();
  const auto& bf16_variants = sog::cuda::matmul_bf16_variants();
  auto register_bf16 = [&](const sog::cuda::MatmulBf16Variant& v, const Problem& p) {
    configure(benchmark::RegisterBenchmark(("cuda_matmul/" + std::string(v.name) + "/" + p.label()).c_str(),
                                           run_bf16_variant, v, p),
              0.2);
  };
  // The Hopper-only rungs (min_sm 90) run last: the newest code, so a fault there cannot cost the
  // results of the others.
  for (const auto& p : problems) {
    for (const auto& v : bf16_variants) {
      if (v.min_sm < 90) register_bf16(v, p);
    }
#if SOG_HAVE_CUBLAS
    configure(benchmark::RegisterBenchmark(("cuda_matmul/cublas/" + p.label()).c_str(), run_cublas, p), 0.2);
    configure(benchmark::RegisterBenchmark(("cuda_matmul/cublaslt/" + p.label()).c_str(), run_cublaslt, p), 0.2);
#endif
  }
  // The fp32 ladder on the qkv layer's three products (the naive rung takes tens of ms a call).
  for (const auto& p : problems) {
    if (p.layer != "qkv") continue;
    for (const auto& v : sog::cuda::matmul_f32_variants()) {
      configure(benchmark::RegisterBenchmark(("cuda_matmul/" + std::string(v.name) + "/" + p.label()).c_str(),
                                             run_f32_variant, v, p),
                0.1);
    }
#if SOG_HAVE_CUBLAS
    configure(benchmark::RegisterBenchmark(("cuda_matmul/cublas_sgemm/" + p.label()).c_str(), run_cublas_sgemm, p),
              0.1);
#endif
  }
  for (const auto& v : bf16_variants) {
    if (v.min_sm >= 90) {
      for (const auto& p : problems) register_bf16(v, p);
    }
  }
  return 0;
}
const int kRegistered = register_all();

}  // namespace

#else  // !SOG_HAVE_CUDA

static void cuda_matmul_unavailable(benchmark::State& state) {
  state.SkipWithError("no CUDA device: built without CUDA");
  for (auto _ : state) {
  }
}
BENCHMARK(cuda_matmul_unavailable);

#endif
