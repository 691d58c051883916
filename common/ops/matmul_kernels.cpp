// The variant tables (f32 and bf16 B), the first two rungs of the ladder (naive, blocked), the
// default dispatch and the bias gradient. The packed variants live in matmul_packed.cpp.
#include "common/ops/matmul_kernels.h"

#include "common/cpu/kernels.h"

#include <algorithm>
#include <bit>
#include <cstdint>

namespace sog {

// An element of B as a float: itself, or a bf16 widened (exact: bf16 is the top half of a float32).
static inline float to_f32(float x) { return x; }
static inline float to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// Element (i,k) of op(A) (M,K) and element (k,j) of op(B) (K,N), whatever the storage order.
static inline float op_a(const float* A, int64_t i, int64_t k, int64_t M, int64_t K, bool trans_a) {
  return trans_a ? A[k * M + i] : A[i * K + k];
}
template <typename TB>
static inline float op_b(const TB* B, int64_t k, int64_t j, int64_t K, int64_t N, bool trans_b) {
  return to_f32(trans_b ? B[j * K + k] : B[k * N + j]);
}

// ---- 1. naive --------------------------------------------------------------------------------
// The definition: one dot product of length K per output element. Every output re-reads a row of
// op(A) and a column of op(B); for large matrices the column walk misses the cache on every step.
template <typename TB>
static void naive(float* C, const float* A, const TB* B, const float* bias, int64_t M, int64_t K, int64_t N,
                  bool trans_a, bool trans_b, bool accumulate) {
  for (int64_t i = 0; i < M; i++) {
    for (int64_t j = 0; j < N; j++) {
      float sum = 0.0f;
      for (int64_t k = 0; k < K; k++) sum += op_a(A, i, k, M, K, trans_a) * op_b(B, k, j, K, N, trans_b);
      if (bias) sum += bias[j];
      C[i * N + j] = accumulate ? C[i * N + j] + sum : sum;
    }
  }
}

void matmul_naive(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                  bool trans_a, bool trans_b, bool accumulate) {
  naive(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

void matmul_naive_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K, int64_t N,
                        bool trans_a, bool trans_b, bool accumulate) {
  naive(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

// ---- 2. blocked ------------------------------------------------------------------------------
// Loop tiling: C is computed in kTileM × kTileN tiles, the K loop in kTileK slices, so the slice
// of op(B) a tile needs (kTileK × kTileN floats = 64 KiB) is reused from cache by every row of the
// tile. Inside a tile the loop order is i-k-j: the inner j loop is a contiguous axpy
// C[i, j0:j1] += a_ik · op(B)[k, j0:j1], which the compiler vectorises. For trans_b, op(B)'s rows
// are strided, so the tile runs i-j-k instead: a dot product over k, contiguous in B's rows.
static constexpr int64_t kTileM = 64, kTileN = 128, kTileK = 128;

void matmul_blocked(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_a, bool trans_b, bool accumulate) {
  // Start from C = bias (or 0), or from C (+ bias) when accumulating; the tiles then add into it.
  for (int64_t i = 0; i < M; i++) {
    float* c = C + i * N;
    for (int64_t j = 0; j < N; j++) c[j] = (accumulate ? c[j] : 0.0f) + (bias ? bias[j] : 0.0f);
  }
  for (int64_t i0 = 0; i0 < M; i0 += kTileM) {
    const int64_t i1 = std::min(M, i0 + kTileM);
    for (int64_t j0 = 0; j0 < N; j0 += kTileN) {
      const int64_t j1 = std::min(N, j0 + kTileN);
      for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
        const int64_t k1 = std::min(K, k0 + kTileK);
        for (int64_t i = i0; i < i1; i++) {
          float* c = C + i * N;
          if (!trans_b) {
            for (int64_t k = k0; k < k1; k++) {
              const float a = op_a(A, i, k, M, K, trans_a);
              const float* b = B + k * N;
              for (int64_t j = j0; j < j1; j++) c[j] += a * b[j];
            }
          } else {
            for (int64_t j = j0; j < j1; j++) {
              const float* b = B + j * K;
              float sum = 0.0f;
              for (int64_t k = k0; k < k1; k++) sum += op_a(A, i, k, M, K, trans_a) * b[k];
              c[j] += sum;
            }
          }
        }
      }
    }
  }
}

// ---- the table -------------------------------------------------------------------------------
const std::vector<MatmulVariant>& matmul_variants() {
  static const std::vector<MatmulVariant> variants = {
      {"1_naive", matmul_naive, "one dot product per output, column walk misses the cache"},
      {"2_blocked", matmul_blocked, "64x128x128 loop tiles, inner axpy auto-vectorised"},
      {"3_packed", matmul_packed,
       "BLIS-style packing into micro-panels + 14x32 AVX-512 register-blocked micro-kernel, 1 thread"},
      {"4_packed_parallel", matmul_packed_parallel,
       "variant 3 with OpenMP threads sharing the packed A block, each packing its share of B (default)"},
  };
  return variants;
}

const std::vector<MatmulBf16BVariant>& matmul_bf16b_variants() {
  static const std::vector<MatmulBf16BVariant> variants = {
      {"1_naive_bf16b", matmul_naive_bf16b, "the definition, each bf16 element of B widened as it is read"},
      {"3_packed_bf16b", matmul_packed_bf16b, "variant 3; op(B) widened bf16 -> f32 while packing, 1 thread"},
      {"4_packed_parallel_bf16b", matmul_packed_parallel_bf16b,
       "variant 4; op(B) widened while packing, threads as the f32 variant (default)"},
  };
  return variants;
}

// The packed variants and the products by dot rows, from the active instruction set's table
// (cpu/kernels.h): matmul_<isa>.cpp and matmul_simd.cpp.
void matmul_packed(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                   bool trans_a, bool trans_b, bool accumulate) {
  cpu_kernels().matmul_packed(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

void matmul_packed_parallel(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K,
                            int64_t N, bool trans_a, bool trans_b, bool accumulate) {
  cpu_kernels().matmul_packed_parallel(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

void matmul_packed_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                         int64_t N, bool trans_a, bool trans_b, bool accumulate) {
  cpu_kernels().matmul_packed_bf16b(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

void matmul_packed_parallel_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                                  int64_t N, bool trans_a, bool trans_b, bool accumulate) {
  cpu_kernels().matmul_packed_parallel_bf16b(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

MatmulBlocking matmul_packed_blocking() { return cpu_kernels().gemm_blocking; }

void matmul_dot_rows(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                     bool accumulate) {
  cpu_kernels().matmul_dot_rows(C, A, B, bias, M, K, N, accumulate);
}

void matmul_dot_rows_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                           int64_t N, bool accumulate) {
  cpu_kernels().matmul_dot_rows_bf16b(C, A, B, bias, M, K, N, accumulate);
}

void matmul_dot_rows_gather(float* C, const float* A, const float* B, const int32_t* rows, int64_t n, int64_t K) {
  cpu_kernels().matmul_dot_rows_gather(C, A, B, rows, n, K);
}

void bias_backward(float* dbias, const float* dC, int64_t M, int64_t N) { cpu_kernels().bias_backward(dbias, dC, M, N); }

void matmul_forward_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                          int64_t N, bool trans_a, bool trans_b, bool accumulate) {
  if (M <= kMatmulDotRowsMaxM && !trans_a && trans_b) {
    matmul_dot_rows_bf16b(C, A, B, bias, M, K, N, accumulate);
    return;
  }
  matmul_packed_parallel_bf16b(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

void matmul_forward(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_a, bool trans_b, bool accumulate) {
  if (M <= kMatmulDotRowsMaxM && !trans_a && trans_b) {
    matmul_dot_rows(C, A, B, bias, M, K, N, accumulate);
    return;
  }
  matmul_packed_parallel(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

}  // namespace sog
