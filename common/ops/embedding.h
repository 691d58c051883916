// Embedding lookup: each token id selects one row of a table.
//   out[n, :] = table[ids[n], :]                         ids (N) i32 (any shape), table (V,C) → (N,C)
//   dtable[v, :] += Σ_{n : ids[n] = v} dout[n, :]        (ids are not differentiable)
//
// GPT-2's encoder (llm.c's encoder_forward/backward) is two lookups summed, token and position:
//   out[b,t,:] = wte[ids[b,t], :] + wpe[t, :]           ids (B,T), wte (V,C), wpe (maxT,C) → (B,T,C)
//   dwte[v, :] += Σ_{(b,t) : ids[b,t] = v} dout[b,t,:]
//   dwpe[t, :] += Σ_b dout[b,t,:]
// Position embeddings alone are `embedding(positions(B, T), wpe)`; the fused op does both in one
// pass over the output and is what the GPT uses.
//
// The backward is a scatter-add: several positions may hold the same id and add into the same row.
// Atomics on floats would make the sum's order (and so its rounding) depend on thread timing.
// Instead the positions are bucketed by id (a stable counting sort), then each vocabulary row is
// summed by one thread, in position order: parallel, and bitwise the same on every run.
//
// A frozen table may be bf16 (a base model kept in bf16 under LoRA): the lookup widens each row to
// f32 as it copies it (exact), and such a table must not require grad. For the fused op both
// tables share one dtype.
#pragma once
#include <cstdint>

#include "common/tensor/tensor.h"

namespace sog {

// ---- kernels on raw buffers; ids must already be in [0, V) (the Tensor ops check) ----
void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t N, int64_t C);
// dtable (V,C) += scatter of dout (N,C) by ids (N).
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t N, int64_t C, int64_t V);

void embed_tokens_and_positions_forward(float* out, const int32_t* ids, const float* wte, const float* wpe,
                                        int64_t B, int64_t T, int64_t C);
// The same lookups from bf16 tables (uint16_t: the top half of a float32), widened to f32.
void embedding_forward_bf16(float* out, const int32_t* ids, const uint16_t* table, int64_t N, int64_t C);
void embed_tokens_and_positions_forward_bf16(float* out, const int32_t* ids, const uint16_t* wte, const uint16_t* wpe,
                                             int64_t B, int64_t T, int64_t C);
// Either gradient may be nullptr (that table does not require grad).
void embed_tokens_and_positions_backward(float* dwte, float* dwpe, const float* dout, const int32_t* ids,
                                         int64_t B, int64_t T, int64_t C, int64_t V);

// ---- differentiable ops ----
// ids i32 of any shape with at most 3 dimensions, table (V,C) f32 (or bf16 without grad) → ids.shape + (C).
// An id outside [0, V) is an error naming its position and value.
Tensor embedding(const Tensor& ids, const Tensor& table);
// ids (B,T) i32, wte (V,C), wpe (maxT,C) with T ≤ maxT → (B,T,C).
Tensor embed_tokens_and_positions(const Tensor& ids, const Tensor& wte, const Tensor& wpe);

// The position ids (B,T) i32: positions[b, t] = t.
Tensor positions(int64_t B, int64_t T);

}  // namespace sog
