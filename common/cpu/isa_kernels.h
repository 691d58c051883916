// Included by the per-instruction-set sources only (`*_simd.cpp`, `*_avx512.cpp`, …): declares, in
// namespace sog::SOG_ISA, the kernels that one compilation of those sources defines. The table in
// kernels_table_simd.cpp collects them; cpu/kernels.h explains the scheme.
#pragma once
#ifndef SOG_ISA
#error "isa_kernels.h belongs to the per-instruction-set sources, which CMake compiles with SOG_ISA defined"
#endif
#include <cstddef>
#include <cstdint>

#include "common/cpu/kernels.h"

namespace sog::SOG_ISA {

const CpuKernels& kernel_table();

// matmul_<isa>.cpp
MatmulBlocking gemm_blocking();
void matmul_packed(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                   bool trans_a, bool trans_b, bool accumulate);
void matmul_packed_parallel(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K,
                            int64_t N, bool trans_a, bool trans_b, bool accumulate);
void matmul_packed_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                         int64_t N, bool trans_a, bool trans_b, bool accumulate);
void matmul_packed_parallel_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                                  int64_t N, bool trans_a, bool trans_b, bool accumulate);

// matmul_simd.cpp
void matmul_dot_rows(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                     bool accumulate);
void matmul_dot_rows_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                           int64_t N, bool accumulate);
void matmul_dot_rows_gather(float* C, const float* A, const float* B, const int32_t* rows, int64_t n, int64_t K);
void bias_backward(float* dbias, const float* dC, int64_t M, int64_t N);

// softmax_simd.cpp
float row_max(const float* x, int64_t n);
float row_sum_exp(float* y, const float* x, int64_t n, float shift);
void softmax_forward(float* out, const float* inp, int64_t N, int64_t C);
void softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C);
void log_softmax_forward(float* out, const float* inp, int64_t N, int64_t C);
void log_softmax_backward(float* dinp, const float* out, const float* dout, int64_t N, int64_t C);

// gelu_simd.cpp
void gelu_forward(float* out, const float* inp, int64_t N);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t N, bool accumulate);

// layernorm_simd.cpp
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int64_t N, int64_t C, float eps);
void layernorm_backward(float* dinp, float* dweight, float* dbias, float* partial, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int64_t N,
                        int64_t C, bool accumulate_dinp);

// attention_simd.cpp
void attention_forward(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t C, int64_t NH);
void attention_backward(float* dqkv, float* dpreatt, const float* dout, const float* qkv, const float* att, int64_t B,
                        int64_t T, int64_t C, int64_t NH, bool accumulate);
void attention_forward_cached(float* out, float* kcache, float* vcache, const float* qkv_new, int64_t B, int64_t Tn,
                              int64_t C, int64_t NH, int64_t max_T, int64_t length);

// adamw_simd.cpp
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, float inv_bias1, float inv_bias2);

// bf16_simd.cpp
void f32_to_bf16(uint16_t* out, const float* inp, int64_t n);
void bf16_to_f32(float* out, const uint16_t* inp, int64_t n);

}  // namespace sog::SOG_ISA
