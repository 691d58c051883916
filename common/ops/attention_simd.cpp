// Compiled once per instruction set (cpu/kernels.h): attention's kernels on raw buffers — the
// forward, the backward and the KV-cache step (attention.h has the maths). They are written once
// with `omp simd` register blocks; each instruction set's flags make them 16-, 8- or 4-lane code.
// Their per-thread scratch rows come from attention_thread_scratch (attention.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/cpu/isa_kernels.h"
#include "common/ops/attention.h"
#include "common/ops/fast_math.h"

namespace sog::SOG_ISA {

// Attention's kernels work on one (b, h) head at a time, a block of up to kQueryBlock queries per
// work item, and inside it kRows queries (or keys) at once: at the small head sizes of a small
// model (HS = 32) a dot product is only 32 multiply-adds, so the work is in how many of them are in
// flight. Scores come sixteen keys at a time from Kᵀ, the head's keys transposed into a (HS, ld)
// tile: each step loads one row of Kᵀ and multiplies it by q[i] of kRows queries (kRows independent
// accumulators, one load for kRows fused multiply-adds; a dot product per key would also need a
// horizontal add across vector lanes). Weighted sums of rows (P·V, and the gradients dq, dk, dv)
// likewise load a row once and add it into kRows accumulators kept in registers. The KV cache keeps
// its keys in that Kᵀ layout already (attention.h), so a decoding step transposes nothing.
//
// The numbers do not depend on the blocking: each score is summed over i in order 0..HS−1, and each
// weighted sum over its rows in order, a row beyond a query's causal horizon contributing an exact
// zero. So the KV-cache path, which calls the same routines one query at a time, gets the same
// numbers as the full one, and so do one thread and many.
constexpr int64_t kQueryBlock = 32;
constexpr int64_t kKeyLanes = 16;
constexpr int64_t kRows = 8;  // queries (or keys) per register block

// ld = n rounded up to a multiple of 16: the padded columns are zero and their scores ignored.
static int64_t padded_keys(int64_t n) { return (n + kKeyLanes - 1) / kKeyLanes * kKeyLanes; }

// kt (HS, ld) = the first n rows (HS wide, `stride` floats apart) transposed; columns n..ld−1 = 0.
static void transpose_rows(float* kt, const float* rows, int64_t stride, int64_t n, int64_t ld, int64_t HS) {
  for (int64_t i = 0; i < HS; i++) {
    float* dst = kt + i * ld;
    for (int64_t t2 = 0; t2 < n; t2++) dst[t2] = rows[t2 * stride + i];
    for (int64_t t2 = n; t2 < ld; t2++) dst[t2] = 0.0f;
  }
}

// Columns t2..t2+W−1 of scores_block, W a multiple of sixteen lanes.
template <int64_t R, int64_t W>
static inline void scores_chunk(float* s, const float* const* q, int64_t nq, const float* kt, int64_t ld, int64_t t2,
                                int64_t HS, float scale) {
  float acc[R][W] = {};
  for (int64_t i = 0; i < HS; i++) {
    const float* row = kt + i * ld + t2;
#pragma GCC unroll 8
    for (int64_t r = 0; r < R; r++) {
      const float qi = q[r][i];
#pragma omp simd
      for (int64_t j = 0; j < W; j++) acc[r][j] += qi * row[j];
    }
  }
  for (int64_t r = 0; r < nq; r++) {
#pragma omp simd
    for (int64_t j = 0; j < W; j++) s[r * ld + t2 + j] = acc[r][j] * scale;
  }
}

// For nq ≤ kRows queries q_r = q0 + r·q_stride (HS each): s[r·ld + t2] = scale · Σ_i q_r[i]·kt[i·ld + t2]
// for t2 < padded_keys(n). Columns ≥ n are zeros times q: harmless, and never read as scores.
// R: the rows of the register block (kRows; 1 for the single query of a decoding step, which would
// otherwise compute kRows − 1 repeats). With one row, four chunks of sixteen keys go at once: four
// independent chains of multiply-adds instead of one waiting on its own latency. A query's numbers
// are the same whatever R (each score is summed over i in order).
template <int64_t R = kRows>
static void scores_block(float* s, const float* q0, int64_t q_stride, int64_t nq, const float* kt, int64_t ld,
                         int64_t n, int64_t HS, float scale) {
  constexpr int64_t W = R == 1 ? 4 * kKeyLanes : kKeyLanes;
  const float* q[R];
  for (int64_t r = 0; r < R; r++) q[r] = q0 + std::min(r, nq - 1) * q_stride;  // extra rows: repeats
  int64_t t2 = 0;
  for (; t2 + W <= padded_keys(n); t2 += W) scores_chunk<R, W>(s, q, nq, kt, ld, t2, HS, scale);
  for (; t2 < n; t2 += kKeyLanes) scores_chunk<R, kKeyLanes>(s, q, nq, kt, ld, t2, HS, scale);
}

// Σ_{t2<n} x[t2]·y[t2] (y = nullptr: Σ x[t2]) in one fixed order: sixteen lane sums over t2 ≡ j
// (mod 16), then the lanes 0..15. A vectorised `reduction(+)` may group the terms by the pointers'
// alignment, and the scratch rows of two threads need not be aligned alike: this keeps a head's
// numbers the same whichever thread computes it, and whatever the blocking.
static inline float sum_fixed_order(const float* x, const float* y, int64_t n) {
  float lanes[kKeyLanes] = {};
  int64_t t2 = 0;
  for (; t2 + kKeyLanes <= n; t2 += kKeyLanes) {
#pragma omp simd
    for (int64_t j = 0; j < kKeyLanes; j++) lanes[j] += y ? x[t2 + j] * y[t2 + j] : x[t2 + j];
  }
  for (int64_t j = 0; t2 + j < n; j++) lanes[j] += y ? x[t2 + j] * y[t2 + j] : x[t2 + j];
  float sum = 0.0f;
  for (int64_t j = 0; j < kKeyLanes; j++) sum += lanes[j];
  return sum;
}

// att[0..n) = softmax(att[0..n)) in place, exp through exp_poly (vectorised).
static inline void softmax_in_place(float* att, int64_t n) {
  float maxval = -INFINITY;
  for (int64_t t2 = 0; t2 < n; t2++) maxval = att[t2] > maxval ? att[t2] : maxval;
  // Subtracting the max keeps exp() in range; it cancels in the ratio.
#pragma omp simd
  for (int64_t t2 = 0; t2 < n; t2++) att[t2] = exp_poly(att[t2] - maxval);
  const float inv_sum = 1.0f / sum_fixed_order(att, nullptr, n);
#pragma omp simd
  for (int64_t t2 = 0; t2 < n; t2++) att[t2] *= inv_sum;
}

// Channels c..c+width−1 of accumulate_rows_block, width ≤ W (W a multiple of sixteen lanes): a
// whole chunk vectorised, a ragged last one (HS mod 16 channels) element by element.
template <int64_t R, int64_t W>
static inline void accumulate_rows_chunk(float* dst0, int64_t dst_stride, int64_t nd, const float* const* coef,
                                         int64_t coef_m, float scale, const float* rows, int64_t row_stride, int64_t n,
                                         int64_t c, int64_t width, bool accumulate) {
  float acc[R][W] = {};
  if (accumulate)
    for (int64_t d = 0; d < nd; d++)
      for (int64_t j = 0; j < width; j++) acc[d][j] = dst0[d * dst_stride + c + j];
  for (int64_t m = 0; m < n; m++) {
    const float* row = rows + m * row_stride + c;
#pragma GCC unroll 8
    for (int64_t d = 0; d < R; d++) {
      const float a = coef[d][m * coef_m] * scale;
      if (width == W) {
#pragma omp simd
        for (int64_t j = 0; j < W; j++) acc[d][j] += a * row[j];
      } else {
        for (int64_t j = 0; j < width; j++) acc[d][j] += a * row[j];
      }
    }
  }
  for (int64_t d = 0; d < nd; d++)
    for (int64_t j = 0; j < width; j++) dst0[d * dst_stride + c + j] = acc[d][j];
}

// For nd ≤ kRows destinations dst_d = dst0 + d·dst_stride (HS each):
//   dst_d += Σ_{m<n} (scale · coef(d, m)) · row_m,   coef(d, m) = coefs[d·coef_d + m·coef_m],
// rows `row_stride` floats apart. Sixteen lanes of the kRows destinations stay in registers across
// all n rows; each lane sums its rows in order 0..n−1. Without accumulate, dst_d = (the sum).
// R: the destinations of the register block, as scores_block's; with one, up to four chunks of
// sixteen channels go at once (independent chains, as there).
template <int64_t R = kRows>
static void accumulate_rows_block(float* dst0, int64_t dst_stride, int64_t nd, const float* coefs, int64_t coef_d,
                                  int64_t coef_m, float scale, const float* rows, int64_t row_stride, int64_t n,
                                  int64_t HS, bool accumulate = true) {
  const float* coef[R];
  for (int64_t d = 0; d < R; d++) coef[d] = coefs + std::min(d, nd - 1) * coef_d;  // extra: repeats
  int64_t c = 0;
  if constexpr (R == 1) {
    for (; c + 4 * kKeyLanes <= HS; c += 4 * kKeyLanes)
      accumulate_rows_chunk<R, 4 * kKeyLanes>(dst0, dst_stride, nd, coef, coef_m, scale, rows, row_stride, n, c,
                                              4 * kKeyLanes, accumulate);
    for (; c + 2 * kKeyLanes <= HS; c += 2 * kKeyLanes)
      accumulate_rows_chunk<R, 2 * kKeyLanes>(dst0, dst_stride, nd, coef, coef_m, scale, rows, row_stride, n, c,
                                              2 * kKeyLanes, accumulate);
  }
  for (; c < HS; c += kKeyLanes) {
    accumulate_rows_chunk<R, kKeyLanes>(dst0, dst_stride, nd, coef, coef_m, scale, rows, row_stride, n, c,
                                        std::min(kKeyLanes, HS - c), accumulate);
  }
}

// The attention of nq ≤ kRows consecutive queries at positions p0 … p0+nq−1 (query r sees keys
// 0..p0+r) of one head: out_r = softmax(q_r·Kᵀ·scale) · V. kt: Kᵀ (HS, ld) with ld ≥
// padded_keys(p0 + nq); s: kRows × ld scratch, left holding each query's probabilities (zeros
// beyond its horizon, up to column p0 + nq).
static void attend_block(float* out0, int64_t out_stride, float* s, const float* q0, int64_t q_stride, int64_t nq,
                         int64_t p0, const float* kt, int64_t ld, const float* values, int64_t v_stride, int64_t HS,
                         float scale) {
  const int64_t n = p0 + nq;  // keys the block's last query sees
  if (nq == 1) {  // a decoding step
    scores_block<1>(s, q0, q_stride, nq, kt, ld, n, HS, scale);
  } else {
    scores_block(s, q0, q_stride, nq, kt, ld, n, HS, scale);
  }
  for (int64_t r = 0; r < nq; r++) {
    float* sr = s + r * ld;
    softmax_in_place(sr, p0 + r + 1);
    for (int64_t t2 = p0 + r + 1; t2 < n; t2++) sr[t2] = 0.0f;  // the future gets no weight
  }
  if (nq == 1) {
    accumulate_rows_block<1>(out0, out_stride, nq, s, ld, 1, 1.0f, values, v_stride, n, HS, /*accumulate=*/false);
  } else {
    accumulate_rows_block(out0, out_stride, nq, s, ld, 1, 1.0f, values, v_stride, n, HS, /*accumulate=*/false);
  }
}

void attention_forward(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t C, int64_t NH) {
  const int64_t C3 = 3 * C, HS = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const int64_t blocks = (T + kQueryBlock - 1) / kQueryBlock;
#pragma omp parallel for collapse(3) schedule(static, 1) if (B * NH * T * T * HS > (1 << 16))
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t t0 = blk * kQueryBlock, t1 = std::min(T, t0 + kQueryBlock);
        const int64_t ld = padded_keys(t1);
        float* kt = attention_thread_scratch(static_cast<size_t>((HS + kRows) * ld));  // (HS,ld) Kᵀ, then (kRows,ld)
        float* s = kt + HS * ld;
        const float* keys = qkv + b * T * C3 + C + h * HS;  // row 0 of (T,HS), stride 3C
        const float* values = keys + C;                     // row 0 of (T,HS), stride 3C
        transpose_rows(kt, keys, C3, t1, ld, HS);
        for (int64_t t = t0; t < t1; t += kRows) {
          const int64_t nq = std::min(kRows, t1 - t);
          attend_block(out + (b * T + t) * C + h * HS, C, s, qkv + (b * T + t) * C3 + h * HS, C3, nq, t, kt, ld,
                       values, C3, HS, scale);
          if (att) {
            for (int64_t r = 0; r < nq; r++) {
              float* a = att + ((b * NH + h) * T + t + r) * T;  // (T)
              for (int64_t t2 = 0; t2 <= t + r; t2++) a[t2] = s[r * ld + t2];
              for (int64_t t2 = t + r + 1; t2 < T; t2++) a[t2] = 0.0f;  // masked: the future gets no weight
            }
          }
        }
      }
    }
  }
}

void attention_backward(float* dqkv, float* dpreatt, const float* dout, const float* qkv, const float* att,
                        int64_t B, int64_t T, int64_t C, int64_t NH, bool accumulate) {
  const int64_t C3 = 3 * C, HS = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const bool parallel = B * NH * T * T * HS > (1 << 16);
  const int64_t blocks = (T + kQueryBlock - 1) / kQueryBlock;

  // Pass 1, a block of query rows (b, h, t0..t1−1) per item: datt (from Vᵀ) → dpreatt → dq_t.
  // Each dpreatt row is written whole: zeros beyond t, so pass 2 may read any row of it.
#pragma omp parallel for collapse(3) schedule(static, 1) if (parallel)
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t t0 = blk * kQueryBlock, t1 = std::min(T, t0 + kQueryBlock);
        const int64_t ld = padded_keys(t1);
        float* vt = attention_thread_scratch(static_cast<size_t>((HS + kRows) * ld));  // (HS,ld) Vᵀ, then (kRows,ld) datt
        float* datt = vt + HS * ld;
        const float* keys = qkv + b * T * C3 + C + h * HS;  // row 0 of (T,HS), stride 3C
        const float* values = keys + C;
        transpose_rows(vt, values, C3, t1, ld, HS);
        for (int64_t t = t0; t < t1; t += kRows) {
          const int64_t nq = std::min(kRows, t1 - t), n = t + nq;
          // datt[r][t2] = v_t2 · dout_(t+r) of this head
          scores_block(datt, dout + (b * T + t) * C + h * HS, C, nq, vt, ld, n, HS, 1.0f);
          float* dp0 = dpreatt + ((b * NH + h) * T + t) * T;  // (nq,T)
          for (int64_t r = 0; r < nq; r++) {
            const float* a = att + ((b * NH + h) * T + t + r) * T;  // (T)
            const float* dr = datt + r * ld;
            float* dp = dp0 + r * T;
            const float weighted = sum_fixed_order(a, dr, t + r + 1);  // Σ_t3 att[t3] · datt[t3]
#pragma omp simd
            for (int64_t t2 = 0; t2 <= t + r; t2++) dp[t2] = a[t2] * (dr[t2] - weighted);
            for (int64_t t2 = t + r + 1; t2 < T; t2++) dp[t2] = 0.0f;
          }
          // dq_(t+r) += Σ_t2 dpreatt[t+r][t2]·scale·k_t2
          accumulate_rows_block(dqkv + (b * T + t) * C3 + h * HS, C3, nq, dp0, T, 1, scale, keys, C3, n, HS,
                                accumulate);
        }
      }
    }
  }

  // Pass 2, a block of key/value rows (b, h, t2..t2+nk−1) per item: gather from every query t that
  // saw them, t from t2 on (rows before a key's own position add the zeros above the diagonal).
  const int64_t key_blocks = (T + kRows - 1) / kRows;
#pragma omp parallel for collapse(3) schedule(static, 1) if (parallel)
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      for (int64_t kb = 0; kb < key_blocks; kb++) {
        const int64_t t2 = kb * kRows, nk = std::min(kRows, T - t2);
        float* dk = dqkv + (b * T + t2) * C3 + C + h * HS;  // (nk rows of HS, stride 3C)
        float* dv = dk + C;
        const int64_t first = ((b * NH + h) * T + t2) * T + t2;  // (t = t2, t2) in (B,NH,T,T)
        const float* q = qkv + (b * T + t2) * C3 + h * HS;      // q_t2, then every t > t2: stride 3C
        const float* g = dout + (b * T + t2) * C + h * HS;      // dout_t2, then stride C
        // dk_k += Σ_t dpreatt[t][t2+k]·scale·q_t,  dv_k += Σ_t att[t][t2+k]·dout_t
        accumulate_rows_block(dk, C3, nk, dpreatt + first, 1, T, scale, q, C3, T - t2, HS, accumulate);
        accumulate_rows_block(dv, C3, nk, att + first, 1, T, 1.0f, g, C, T - t2, HS, accumulate);
      }
    }
  }
}

// ---- KV cache ---------------------------------------------------------------------------------

void attention_forward_cached(float* out, float* kcache, float* vcache, const float* qkv_new, int64_t B,
                              int64_t Tn, int64_t C, int64_t NH, int64_t max_T, int64_t length) {
  const int64_t C3 = 3 * C, HS = C / NH, ldk = kv_cache_key_stride(max_T);
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  // Append: the new tokens' k become columns length..length+Tn−1 of their head's Kᵀ (HS,ldk), their
  // v rows length..length+Tn−1 of the head's values (maxT,HS).
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      float* kt = kcache + (b * NH + h) * HS * ldk;
      for (int64_t j = 0; j < Tn; j++) {
        const float* k = qkv_new + (b * Tn + j) * C3 + C + h * HS;  // (HS)
        const float* v = k + C;                                      // (HS)
        float* vrow = vcache + ((b * NH + h) * max_T + length + j) * HS;
        for (int64_t i = 0; i < HS; i++) {
          kt[i * ldk + length + j] = k[i];
          vrow[i] = v[i];
        }
      }
    }
  }
  // Attend: the query at absolute position p = length + j sees cache positions 0..p.
  const int64_t n = length + Tn;
#pragma omp parallel for collapse(2) schedule(static, 1) if (B * NH * Tn * n * HS > (1 << 16))
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < NH; h++) {
      float* s = attention_thread_scratch(static_cast<size_t>(kRows * ldk));  // (kRows,ldk) probabilities
      const float* kt = kcache + (b * NH + h) * HS * ldk;                       // (HS,ldk) Kᵀ
      const float* values = vcache + (b * NH + h) * max_T * HS;                // (maxT,HS)
      for (int64_t j = 0; j < Tn; j += kRows) {
        const int64_t nq = std::min(kRows, Tn - j);
        attend_block(out + (b * Tn + j) * C + h * HS, C, s, qkv_new + (b * Tn + j) * C3 + h * HS, C3, nq,
                     length + j, kt, ldk, values, HS, HS, scale);
      }
    }
  }
}

}  // namespace sog::SOG_ISA
