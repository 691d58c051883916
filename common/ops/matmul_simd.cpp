// Compiled once per instruction set (cpu/kernels.h): the matmul loops that are not the packed GEMM —
// the few-rows product of a decoding step and the bias gradient — written once as `omp simd` loops
// that each instruction set's flags turn into its own vector code.
#include <algorithm>
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/ops/matmul_panels.h"  // to_f32: an element of B as a float (a bf16 widened)

namespace sog::SOG_ISA {
namespace {

// Decoding multiplies one row (or a few) by a large weight: the LM head of a KV-cache step is
// (1,768)·(768,50304). With M ≤ kMatmulSmallM the product is memory-bound — each weight is used M times —
// so packing the weight (one more read and write of all of it) only adds traffic. Instead each
// thread takes a range of output columns and streams its part of the weight exactly once.

template <typename TB>
void small_m(float* C, const float* A, const TB* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_b, bool accumulate) {
  constexpr int64_t kCols = 64;
  const int64_t chunks = (N + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (K * N > (1 << 15))
  for (int64_t chunk = 0; chunk < chunks; chunk++) {
    const int64_t n0 = chunk * kCols, width = std::min(kCols, N - n0);
    float acc[kMatmulSmallM][kCols] = {};
    if (trans_b) {  // B stored (N,K): C[m][n] = A[m,:] · B[n,:], one weight row for all M rows
      for (int64_t j = 0; j < width; j++) {
        const TB* b = B + (n0 + j) * K;
        for (int64_t m = 0; m < M; m++) {
          const float* a = A + m * K;
          float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
          for (int64_t k = 0; k < K; k++) dot += a[k] * to_f32(b[k]);
          acc[m][j] = dot;
        }
      }
    } else {  // B stored (K,N): C[m][n0:] = Σ_k A[m][k] · B[k][n0:], a row segment of B at a time
      for (int64_t k = 0; k < K; k++) {
        const TB* b = B + k * N + n0;
        for (int64_t m = 0; m < M; m++) {
          const float a = A[m * K + k];
#pragma omp simd
          for (int64_t j = 0; j < width; j++) acc[m][j] += a * to_f32(b[j]);
        }
      }
    }
    for (int64_t m = 0; m < M; m++) {
      float* c = C + m * N + n0;
      for (int64_t j = 0; j < width; j++) {
        c[j] = (accumulate ? c[j] : 0.0f) + acc[m][j] + (bias ? bias[n0 + j] : 0.0f);
      }
    }
  }
}

}  // namespace

void matmul_small_m(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_b, bool accumulate) {
  small_m(C, A, B, bias, M, K, N, trans_b, accumulate);
}

void matmul_small_m_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                          int64_t N, bool trans_b, bool accumulate) {
  small_m(C, A, B, bias, M, K, N, trans_b, accumulate);
}

// ---- bias gradient ---------------------------------------------------------------------------
void bias_backward(float* dbias, const float* dC, int64_t M, int64_t N) {
  constexpr int64_t kCols = 64;  // one chunk of columns per task; its partial sums stay in registers
  const int64_t chunks = (N + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (M * N > (1 << 16))
  for (int64_t chunk = 0; chunk < chunks; chunk++) {
    const int64_t j0 = chunk * kCols, width = std::min(kCols, N - j0);
    float sum[kCols] = {};
    for (int64_t i = 0; i < M; i++) {
      const float* row = dC + i * N + j0;
#pragma omp simd
      for (int64_t j = 0; j < width; j++) sum[j] += row[j];
    }
    for (int64_t j = 0; j < width; j++) dbias[j0 + j] += sum[j];
  }
}

}  // namespace sog::SOG_ISA
