// The variant tables (f32 and bf16 B), the first two rungs of the ladder (naive, blocked), the
// default dispatch and the bias gradient. The packed variants live in matmul_packed.cpp.
#include "common/ops/matmul_kernels.h"

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

// Decoding multiplies one row (or a few) by a large weight: the LM head of a KV-cache step is
// (1,768)·(768,50304). With M ≤ kSmallM the product is memory-bound — each weight is used M times —
// so packing the weight (one more read and write of all of it) only adds traffic. Instead each
// thread takes a range of output columns and streams its part of the weight exactly once.
static constexpr int64_t kSmallM = 8;

template <typename TB>
static void small_m(float* C, const float* A, const TB* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_b, bool accumulate) {
  constexpr int64_t kCols = 64;
  const int64_t chunks = (N + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (K * N > (1 << 15))
  for (int64_t chunk = 0; chunk < chunks; chunk++) {
    const int64_t n0 = chunk * kCols, width = std::min(kCols, N - n0);
    float acc[kSmallM][kCols] = {};
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

void matmul_small_m(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_b, bool accumulate) {
  small_m(C, A, B, bias, M, K, N, trans_b, accumulate);
}

void matmul_small_m_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                          int64_t N, bool trans_b, bool accumulate) {
  small_m(C, A, B, bias, M, K, N, trans_b, accumulate);
}

void matmul_forward_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                          int64_t N, bool trans_a, bool trans_b, bool accumulate) {
  if (M <= kSmallM && !trans_a) {
    matmul_small_m_bf16b(C, A, B, bias, M, K, N, trans_b, accumulate);
    return;
  }
  matmul_packed_parallel_bf16b(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
}

void matmul_forward(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                    bool trans_a, bool trans_b, bool accumulate) {
  if (M <= kSmallM && !trans_a) {
    matmul_small_m(C, A, B, bias, M, K, N, trans_b, accumulate);
    return;
  }
  matmul_packed_parallel(C, A, B, bias, M, K, N, trans_a, trans_b, accumulate);
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

}  // namespace sog
