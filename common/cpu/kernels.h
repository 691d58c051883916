// The table of CPU kernels that exist once per instruction set, and the dispatch to the active one.
//
// How a kernel gets an AVX-512, an AVX2, a NEON and a plain C++ version (CMakeLists.txt, "kernels
// per instruction set"):
//   - a source named `*_simd.cpp` is compiled once per instruction set of the build, with that
//     set's flags (-march=x86-64-v4, -march=x86-64-v3, the baseline, …) and with SOG_ISA defined
//     to its name, and puts its functions in `namespace sog::SOG_ISA` — sog::avx512::gelu_forward,
//     sog::avx2::gelu_forward, sog::generic::gelu_forward. Loops written once with `omp simd`
//     become 16-, 8- or 4-lane code; where intrinsics pay, `#if defined(__AVX512F__)` / `__AVX2__`
//     / `__ARM_NEON` picks them inside the same file;
//   - a source named `*_avx512.cpp`, `*_avx2.cpp`, `*_neon.cpp` or `*_generic.cpp` is that
//     instruction set's own: the matmul micro-kernels (matmul_avx512.cpp: 14×32 in zmm registers,
//     matmul_avx2.cpp: 6×16 in ymm, matmul_neon.cpp: 8×12 in q registers, matmul_generic.cpp).
// Each instruction set fills one CpuKernels (cpu/kernels_table_simd.cpp); the rest of the library
// calls the kernels through cpu_kernels(), which the first call points at active_isa()'s table.
//
// The rule that keeps a build from ever running an instruction the CPU lacks: code compiled with
// an instruction set's flags is reached only through its table, after cpu_supports() said yes. So
// a per-ISA source defines nothing outside its namespace that another file could link to (no
// inline function or template of a shared header that the compiler might emit out of line and the
// linker pick for everyone): tests/isa_symbols.sh checks every per-ISA object file for that.
#pragma once
#include <cstdint>

#include "common/cpu/isa.h"
#include "common/ops/matmul_kernels.h"

namespace sog {

// Every pointer is set in every table. Signatures and contracts are those of the public function
// of the same name (matmul_kernels.h, softmax.h, gelu.h, layernorm.h, attention.h, adamw.h).
struct CpuKernels {
  Isa isa;

  // matmul_<isa>.cpp: the packed GEMM (matmul_packed.h's loops around this set's micro-kernel)
  MatmulBlocking gemm_blocking;
  MatmulFn matmul_packed, matmul_packed_parallel;
  MatmulBf16BFn matmul_packed_bf16b, matmul_packed_parallel_bf16b;

  // matmul_simd.cpp: the products by dot rows of a decoding step (and with gathered rows), the bias
  // gradient
  void (*matmul_dot_rows)(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K,
                          int64_t N, bool accumulate);
  void (*matmul_dot_rows_bf16b)(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                                int64_t N, bool accumulate);
  void (*matmul_dot_rows_gather)(float* C, const float* A, const float* B, const int32_t* rows, int64_t n, int64_t K);
  void (*bias_backward)(float* dbias, const float* dC, int64_t M, int64_t N);

  // softmax_simd.cpp: row kernels (shared with cross_entropy) and softmax / log_softmax on N rows
  float (*row_max)(const float* x, int64_t n);
  float (*row_sum_exp)(float* y, const float* x, int64_t n, float shift);
  void (*softmax_forward)(float* out, const float* inp, int64_t N, int64_t C);
  void (*softmax_backward)(float* dinp, const float* out, const float* dout, int64_t N, int64_t C);
  void (*log_softmax_forward)(float* out, const float* inp, int64_t N, int64_t C);
  void (*log_softmax_backward)(float* dinp, const float* out, const float* dout, int64_t N, int64_t C);

  // gelu_simd.cpp
  void (*gelu_forward)(float* out, const float* inp, int64_t N);
  void (*gelu_backward)(float* dinp, const float* inp, const float* dout, int64_t N, bool accumulate);

  // layernorm_simd.cpp; `partial` is (chunks, 2, C) zeroed scratch (layernorm.cpp allocates it)
  void (*layernorm_forward)(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                            const float* bias, int64_t N, int64_t C, float eps);
  void (*layernorm_backward)(float* dinp, float* dweight, float* dbias, float* partial, const float* dout,
                             const float* inp, const float* weight, const float* mean, const float* rstd, int64_t N,
                             int64_t C, bool accumulate_dinp);

  // attention_simd.cpp
  void (*attention_forward)(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t C, int64_t NH);
  void (*attention_backward)(float* dqkv, float* dpreatt, const float* dout, const float* qkv, const float* att,
                             int64_t B, int64_t T, int64_t C, int64_t NH, bool accumulate);
  void (*attention_forward_cached)(float* out, float* kcache, float* vcache, const float* qkv_new, int64_t B,
                                   int64_t Tn, int64_t C, int64_t NH, int64_t max_T, int64_t length);

  // adamw_simd.cpp: one segment of the AdamW update (m̂, v̂ through the bias reciprocals)
  void (*adamw_update)(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                       float eps, float weight_decay, float inv_bias1, float inv_bias2);

  // bf16_simd.cpp: round-to-nearest-even f32 → bf16 (NaN stays NaN), and the exact widening back
  void (*f32_to_bf16)(uint16_t* out, const float* inp, int64_t n);
  void (*bf16_to_f32)(float* out, const uint16_t* inp, int64_t n);
};

// The active instruction set's kernels (active_isa()).
const CpuKernels& cpu_kernels();
// A given instruction set's kernels, for tests and benchmarks that run each one; it must be
// compiled and runnable (std::invalid_argument otherwise).
const CpuKernels& cpu_kernels(Isa isa);

}  // namespace sog
