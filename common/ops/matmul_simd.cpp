// Compiled once per instruction set (cpu/kernels.h): the matmul loops that are not the packed GEMM —
// the products by dot rows of a decoding step, the same with gathered rows (a vector search), and
// the bias gradient — written once as `omp simd`
// loops that each instruction set's flags turn into its own vector code.
#include <algorithm>
#include <cstdint>
#include <utility>

#include "common/cpu/isa_kernels.h"
#include "common/ops/matmul_panels.h"  // to_f32: an element of B as a float (a bf16 widened)

namespace sog::SOG_ISA {
namespace {

// Decoding multiplies one row per sequence by each weight: with y = x·Wᵀ and W stored (N,K), every
// element of C is the dot product of a row of A and a row of B, both contiguous in k. So nothing is
// packed or transposed: each thread takes a range of output columns and streams its rows of the
// weight once, from memory straight into the multiply-adds (packing the weight would be one more
// read and write of all of it for a product that uses each weight only M times).
//
// The order of a dot product is fixed: lane l of kLanes = 16 sums the products at k ≡ l (mod 16) in
// increasing k (the last K mod 16 products in lanes 0, 1, …), then lane_sum adds the lanes in one
// tree. It depends on K alone — not on M, on the element's place in a register block, or on the
// thread — so a row of C has the same bits whether it is multiplied alone or among other rows:
// batched decoding relies on it (common/generate/generate_batch.h).
//
// Register blocks: kRowBlock rows of A × kColBlock rows of B, a 16-lane accumulator each, so each
// loaded chunk of a row serves several multiply-adds (the decoding step of a batch of M sequences is
// compute-bound, not memory-bound).
constexpr int64_t kLanes = 16;
#if defined(__AVX512F__)
constexpr int64_t kRowBlock = 4, kColBlock = 4;  // 16 accumulators: 16 of the 32 zmm registers
#else
constexpr int64_t kRowBlock = 2, kColBlock = 2;  // 4 accumulators: 8 ymm (AVX2) or 16 q (NEON) registers
#endif
constexpr int64_t kChunkCols = 32;  // output columns per work item of the threads

// ((x0 + x8) + (x4 + x12)) + ((x2 + x10) + (x6 + x14)) + … : the lanes in one fixed tree.
inline float lane_sum(const float* x) {
  float half[8], quarter[4];
#pragma omp simd
  for (int64_t l = 0; l < 8; l++) half[l] = x[l] + x[l + 8];
#pragma omp simd
  for (int64_t l = 0; l < 4; l++) quarter[l] = half[l] + half[l + 4];
  return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

// C[r][n0+j] (row stride N) for ROWS rows of A (row stride K) and cols ≤ COLS rows of B starting
// at row n0: (C if accumulate) + A_r · B_(n0+j) + bias[n0+j].
template <int64_t ROWS, int64_t COLS, typename TB>
void dot_block(float* C, int64_t N, const float* A, const TB* B, const float* bias, int64_t K, int64_t n0,
               int64_t cols, bool accumulate) {
  const TB* b[COLS];
  for (int64_t j = 0; j < COLS; j++) b[j] = B + (n0 + std::min(j, cols - 1)) * K;  // extra columns: repeats
  // The next block's COLS weight rows are contiguous: requested in address order, a cache line for
  // each line read here, so they arrive while this block computes. (A single row is one sequential
  // stream, which the hardware prefetcher follows alone.)
  const TB* next = COLS > 1 && n0 + 2 * COLS <= N ? B + (n0 + COLS) * K : nullptr;
  float acc[ROWS][COLS][kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= K; k += kLanes) {
#pragma GCC unroll 4
    for (int64_t j = 0; j < COLS; j++) {
      if (next) __builtin_prefetch(next + COLS * k + j * kLanes);
#pragma GCC unroll 4
      for (int64_t r = 0; r < ROWS; r++) {
        const float* a = A + r * K + k;
#pragma omp simd
        for (int64_t l = 0; l < kLanes; l++) acc[r][j][l] += a[l] * to_f32(b[j][k + l]);
      }
    }
  }
  for (int64_t j = 0; j < COLS; j++)
    for (int64_t r = 0; r < ROWS; r++)
      for (int64_t l = 0; k + l < K; l++) acc[r][j][l] += A[r * K + k + l] * to_f32(b[j][k + l]);
  for (int64_t r = 0; r < ROWS; r++) {
    for (int64_t j = 0; j < cols; j++) {
      float* c = C + r * N + n0 + j;
      *c = (accumulate ? *c : 0.0f) + lane_sum(acc[r][j]) + (bias ? bias[n0 + j] : 0.0f);
    }
  }
}

// The block of `rows` (1..kRowBlock) rows of A against cols ≤ kColBlock weight rows from n0. A
// single row reads its weight rows one after another instead: that product is memory-bound, and
// one sequential stream keeps the hardware prefetcher ahead where kColBlock interleaved ones
// (without dot_block's prefetch) reached half the bandwidth (GPT-2's LM head from memory, one
// AVX-512 thread: 14.5 GB/s interleaved, 30–32 one row at a time, as the old few-rows path). The
// numbers are the same either way: each dot product keeps its own order.
template <int64_t... R, typename TB>
void dot_block_rows(std::integer_sequence<int64_t, R...>, int64_t rows, float* C, int64_t N, const float* A,
                    const TB* B, const float* bias, int64_t K, int64_t n0, int64_t cols, bool accumulate) {
  if (rows == 1) {
    for (int64_t j = 0; j < cols; j++) dot_block<1, 1>(C, N, A, B, bias, K, n0 + j, 1, accumulate);
    return;
  }
  (void)((rows == R + 1 && (dot_block<R + 1, kColBlock>(C, N, A, B, bias, K, n0, cols, accumulate), true)) || ...);
}

template <typename TB>
void dot_rows(float* C, const float* A, const TB* B, const float* bias, int64_t M, int64_t K, int64_t N,
              bool accumulate) {
  const int64_t chunks = (N + kChunkCols - 1) / kChunkCols;
#pragma omp parallel for schedule(static) if (K * N > (1 << 15))
  for (int64_t chunk = 0; chunk < chunks; chunk++) {
    const int64_t n_end = std::min(N, (chunk + 1) * kChunkCols);
    // A block of weight rows stays in L1 while every row block of A passes it.
    for (int64_t n0 = chunk * kChunkCols; n0 < n_end; n0 += kColBlock) {
      const int64_t cols = std::min(kColBlock, n_end - n0);
      for (int64_t m0 = 0; m0 < M; m0 += kRowBlock) {
        dot_block_rows(std::make_integer_sequence<int64_t, kRowBlock>{}, std::min(kRowBlock, M - m0), C + m0 * N, N,
                       A + m0 * K, B, bias, K, n0, cols, accumulate);
      }
    }
  }
}

}  // namespace

void matmul_dot_rows(float* C, const float* A, const float* B, const float* bias, int64_t M, int64_t K, int64_t N,
                     bool accumulate) {
  dot_rows(C, A, B, bias, M, K, N, accumulate);
}

void matmul_dot_rows_bf16b(float* C, const float* A, const uint16_t* B, const float* bias, int64_t M, int64_t K,
                           int64_t N, bool accumulate) {
  dot_rows(C, A, B, bias, M, K, N, accumulate);
}

// ---- products with gathered rows -------------------------------------------------------------
// C[j] = A · B[rows[j]] for one row A: a query against the stored vectors an HNSW search visits
// (common/retrieval/hnsw.cpp). Each product is dot_block<1, 1>'s, in matmul_dot_rows' order, so a
// score has the bits matmul_dot_rows gives the same pair. The rows are scattered in memory (a
// node's neighbours), a pattern no hardware prefetcher follows: each row is requested
// kGatherAhead rows before it is summed, every cache line of it.
void matmul_dot_rows_gather(float* C, const float* A, const float* B, const int32_t* rows, int64_t n, int64_t K) {
  constexpr int64_t kGatherAhead = 2;
  const int64_t row_bytes = K * int64_t(sizeof(float));
  auto prefetch_row = [&](int64_t j) {
    const char* row = reinterpret_cast<const char*>(B + int64_t(rows[j]) * K);
    for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(row + b);
  };
  for (int64_t j = 0; j < std::min(n, kGatherAhead); j++) prefetch_row(j);
  for (int64_t j = 0; j < n; j++) {
    if (j + kGatherAhead < n) prefetch_row(j + kGatherAhead);
    dot_block<1, 1>(C + j, 1, A, B + int64_t(rows[j]) * K, nullptr, K, 0, 1, false);
  }
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
