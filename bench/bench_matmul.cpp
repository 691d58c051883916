// Matmul: every variant of common/ops/matmul_kernels.h against OpenBLAS's cblas_sgemm, in GFLOP/s
// (2·M·K·N flops per call), on the shapes of GPT-2 small (C = 768, 4·C = 3072, 3·C = 2304, B·T =
// 4096 tokens, padded vocabulary 50304). Threads: OMP_NUM_THREADS for ours, OPENBLAS_NUM_THREADS
// for OpenBLAS. bench/matmul_table.sh runs this twice (two OpenBLAS kernels) and prints the table.
//
// Names: matmul/<variant or openblas>/<shape name>/M<M>_K<K>_N<N>_<nn|tn|nt|tt> (t = transposed
// A or B as stored).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/cpu/isa.h"
#include "common/ops/matmul_kernels.h"
#include "common/tensor/tensor.h"

using namespace sog;

struct MatmulShape {
  const char* name;
  int64_t M, K, N;
  bool trans_a, trans_b;
};

// The small shape every variant runs on (the naive one takes ~0.1 s there).
static const MatmulShape kSmall = {"small", 256, 256, 256, false, false};

// GPT-2 small, B·T = 4096: forward y = x·Wᵀ (trans_b), weight gradient dW = dYᵀ·X (trans_a),
// input gradient dX = dY·W (no transpose), and the LM head on 256 positions.
static const std::vector<MatmulShape> kGpt2Shapes = {
    {"qkv_fwd", 4096, 768, 2304, false, true},  {"fc_fwd", 4096, 768, 3072, false, true},
    {"proj_fwd", 4096, 3072, 768, false, true}, {"qkv_dw", 2304, 4096, 768, true, false},
    {"fc_dw", 3072, 4096, 768, true, false},    {"proj_dw", 768, 4096, 3072, true, false},
    {"qkv_dx", 4096, 2304, 768, false, false},  {"fc_dx", 4096, 3072, 768, false, false},
    {"proj_dx", 4096, 768, 3072, false, false}, {"lm_head_fwd", 256, 768, 50304, false, true},
};

struct Operands {
  Tensor A, B, C;
  explicit Operands(const MatmulShape& s)
      : A(Tensor::randn({s.M * s.K}, 1.0f, 1)), B(Tensor::randn({s.K * s.N}, 1.0f, 2)), C(Tensor::zeros({s.M * s.N})) {}
};

static void set_counters(benchmark::State& state, const MatmulShape& s) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(s.M) * double(s.K) * double(s.N) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// isa: the instruction set whose kernels run (the packed variants have one micro-kernel each:
// matmul_<isa>.cpp); the naive and blocked rungs run the same code on every one.
static void run_ours(benchmark::State& state, MatmulFn fn, MatmulShape s, Isa isa) {
  ScopedIsa use(isa);
  Operands op(s);
  for (auto _ : state) {
    fn(op.C.f32(), op.A.f32(), op.B.f32(), nullptr, s.M, s.K, s.N, s.trans_a, s.trans_b, false);
    benchmark::ClobberMemory();
  }
  set_counters(state, s);
}

static void run_openblas(benchmark::State& state, MatmulShape s) {
  Operands op(s);
  const int lda = int(s.trans_a ? s.M : s.K), ldb = int(s.trans_b ? s.K : s.N);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans, int(s.M),
                int(s.N), int(s.K), 1.0f, op.A.f32(), lda, op.B.f32(), ldb, 0.0f, op.C.f32(), int(s.N));
    benchmark::ClobberMemory();
  }
  set_counters(state, s);
}

static std::string shape_label(const MatmulShape& s) {
  return std::string(s.name) + "/M" + std::to_string(s.M) + "_K" + std::to_string(s.K) + "_N" + std::to_string(s.N) +
         "_" + (s.trans_a ? "t" : "n") + (s.trans_b ? "t" : "n");
}

// Ours first, then OpenBLAS, so the two thread pools do not alternate (each spins a while after a call).
// The packed variants run once per instruction set this CPU runs, named <variant>.<isa>
// (4_packed_parallel.avx2); SOG_CPU, when set, keeps only that one.
static int register_all() {
  const auto& variants = matmul_variants();
  std::vector<Isa> isas = runnable_isas();
  if (const char* forced = std::getenv("SOG_CPU"); forced && *forced) isas = {active_isa()};
  for (const auto& v : variants) {
    benchmark::RegisterBenchmark(("matmul/" + std::string(v.name) + "/" + shape_label(kSmall)).c_str(), run_ours, v.fn,
                                 kSmall, active_isa())
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  for (size_t i = 2; i < variants.size(); i++) {  // the packed variants on the real shapes, per instruction set
    for (Isa isa : isas) {
      for (const auto& s : kGpt2Shapes)
        benchmark::RegisterBenchmark(
            ("matmul/" + std::string(variants[i].name) + "." + isa_name(isa) + "/" + shape_label(s)).c_str(), run_ours,
            variants[i].fn, s, isa)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RegisterBenchmark(("matmul/openblas/" + shape_label(kSmall)).c_str(), run_openblas, kSmall)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  for (const auto& s : kGpt2Shapes)
    benchmark::RegisterBenchmark(("matmul/openblas/" + shape_label(s)).c_str(), run_openblas, s)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  return 0;
}
static const int kRegistered = register_all();
