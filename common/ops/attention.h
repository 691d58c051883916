// Causal multi-head self-attention, as llm.c's attention_forward/backward.
// Shapes: B batch, T time, C channels, NH heads, HS = C/NH head size.
//   qkv (B,T,3C): the last dimension holds q, k, v, each C wide; head h uses channels h·HS..(h+1)·HS
//   For each (b, h, t), with q_t, k_t2, v_t2 the head's HS-wide slices:
//     preatt[t2] = q_t · k_t2 / √HS                 for t2 ≤ t (the causal mask: no future keys)
//     att[t2]    = exp(preatt[t2]) / Σ_{t3≤t} exp(preatt[t3])    (softmax; att[t2] = 0 for t2 > t)
//     out_t      = Σ_{t2≤t} att[t2] · v_t2          out (B,T,C), heads side by side
//   att (B,NH,T,T) is saved for the backward.
//
// Backward, for each (b, h, t) and t2 ≤ t:
//   datt[t2]    = v_t2 · dout_t                     dv_t2 += att[t2] · dout_t
//   dpreatt[t2] = att[t2] · (datt[t2] − Σ_{t3≤t} att[t3] · datt[t3])      (softmax backward)
//   dq_t       += Σ_{t2≤t} dpreatt[t2] · k_t2 / √HS  dk_t2 += dpreatt[t2] · q_t / √HS
// llm.c runs this serially because dk_t2 and dv_t2 gather from every t ≥ t2. Here it is two
// parallel passes, each over (b, h, t): the first computes dpreatt and dq (row t only writes its own
// dq_t), the second gathers dk_t2 and dv_t2 (row t2 only writes its own dk, dv). No two threads
// write the same float and every sum has a fixed order: the result is bitwise reproducible.
//
// FLOPs (causal: ≈ T²/2 (t, t2) pairs per (b, h)): forward 2·HS for q·k plus 2·HS for att·v per
// pair → 4·B·NH·HS·T²/2; backward twice that (datt, dv, dq, dk).
//
// Inference: a KV cache keeps every past token's k and v, so a new token costs one q·k and one att·v
// per cached position, O(length·C), instead of recomputing the whole prefix. The keys are kept
// transposed, Kᵀ (B,NH,HS,ldk), which is the layout the score kernel reads (sixteen keys per row
// load): a decoding step appends a column instead of transposing every cached key again. The values
// stay (B,NH,maxT,HS), rows of the weighted sum.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/tensor/tensor.h"

namespace sog {

// out (B,T,C) written; att (B,NH,T,T) written unless nullptr (inference keeps no probabilities).
void attention_forward(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t C, int64_t NH);
// dqkv (B,T,3C) accumulates, or without accumulate is written (not read: it may be a fresh,
// unzeroed gradient); dpreatt (B,NH,T,T) is scratch (overwritten whole: zeros where t2 > t).
void attention_backward(float* dqkv, float* dpreatt, const float* dout, const float* qkv, const float* att,
                        int64_t B, int64_t T, int64_t C, int64_t NH, bool accumulate = true);

// A scratch buffer of at least `floats` floats, this thread's own, for the kernels (grown, never
// shrunk). Defined in attention.cpp for every instruction set's copy of them (cpu/kernels.h).
float* attention_thread_scratch(size_t floats);

// The differentiable op: qkv (B,T,3C) → (B,T,C), with C = 3C/3 divisible by NH.
Tensor attention(const Tensor& qkv, int NH);

// ---- inference with a KV cache (no autograd) ----
// The row stride of a cache's Kᵀ: maxT rounded up to 16 keys, so that a score block of sixteen keys
// never reads past a row (the columns past a sequence's length are computed and never used).
constexpr int64_t kv_cache_key_stride(int64_t max_T) { return (max_T + 15) / 16 * 16; }

struct KVCache {
  Tensor k;  // (B, NH, HS, kv_cache_key_stride(maxT)): Kᵀ, column p = the key of position p
  Tensor v;  // (B, NH, maxT, HS): row p = the value of position p (positions 0..length-1 filled)
  int64_t length = 0;  // positions filled so far
  int64_t max_T = 0;

  static KVCache make(int64_t B, int64_t NH, int64_t max_T, int64_t HS);
  void reset() { length = 0; }  // a new sequence; the old entries are overwritten as it grows
  // Row b as a cache of one row (B = 1) that shares its storage, empty (length 0): one sequence of a
  // batch prefilled alone, with exactly the computation of a cache made for it alone.
  KVCache row(int64_t b) const;
};

// Kernel: appends the Tn new tokens' k, v at positions length..length+Tn−1 of kcache
// (B,NH,HS,kv_cache_key_stride(maxT)) and vcache (B,NH,maxT,HS), then each new query at absolute
// position p = length + j attends to 0..p. qkv_new (B,Tn,3C) → out (B,Tn,C).
void attention_forward_cached(float* out, float* kcache, float* vcache, const float* qkv_new, int64_t B,
                              int64_t Tn, int64_t C, int64_t NH, int64_t max_T, int64_t length);

// The op: qkv_new (B,Tn,3C) → (B,Tn,C); advances cache.length by Tn. Running past cache.max_T is an
// error. Feeding a sequence whole or in pieces gives the same outputs as attention() on all of it.
Tensor attention_forward_cached(const Tensor& qkv_new, int NH, KVCache& cache);

// ---- batched decoding: the rows of a cache hold sequences of different lengths ----
// One new token for each of n sequences: entry i lives in cache row rows[i] (distinct), whose
// positions 0..lengths[i]−1 are filled; its k, v go to position lengths[i] and its query attends to
// positions 0..lengths[i] of its own row. Each entry is the kernel above on its row alone (B = 1,
// Tn = 1, length lengths[i]), the entries side by side on the threads: entry i's output has the
// bits of that sequence decoded alone. qkv_new (n,3C) → out (n,C); kcache, vcache as above.
void attention_forward_cached_rows(float* out, float* kcache, float* vcache, const float* qkv_new, int64_t n,
                                   const int64_t* rows, const int64_t* lengths, int64_t C, int64_t NH, int64_t max_T);

// The op: qkv_new (n,1,3C) → (n,1,C). The lengths are the caller's (cache.length is neither read nor
// changed), who counts one more position in each entry's row after the call. Checks that the rows
// exist and are distinct and that each has room for one more position.
Tensor attention_forward_cached_rows(const Tensor& qkv_new, int NH, KVCache& cache, const std::vector<int64_t>& rows,
                                     const std::vector<int64_t>& lengths);

}  // namespace sog
