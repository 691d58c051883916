// Cross-entropy fused with the softmax (llm.c's crossentropy_softmax), and the per-token
// log-probabilities and entropies PPO needs, all over the real vocabulary V of a padded row of Vp
// logits.
//
// Shapes: logits (B,T,Vp) or (N,Vp) [any leading shape: N rows of Vp]; targets / ids i32 (B,T) or
// (N) [the leading shape]; weights f32, the targets' shape (optional; an SFT loss mask).
// llm.c pads the vocabulary to Vp (50257 → 50304) for aligned rows. Columns v ≥ V are not part of
// the distribution: they count as −∞ in the softmax (never read) and get no gradient. V = 0 means
// V = Vp.
//
// Per row i (a position), over v < V:
//   m_i    = max_v x_{i,v}                    lse_i = m_i + log Σ_v exp(x_{i,v} − m_i)
//   p_{i,v} = exp(x_{i,v} − lse_i)            (the softmax, never stored)
//   loss_i = lse_i − x_{i,t_i}                (= −log p_{i,t_i})
//
// cross_entropy(logits, targets, weights, ignore_index, V) → (1):
//   loss = Σ_i w_i · loss_i / Σ_i w_i   over the rows with t_i ≠ ignore_index (w_i = 1 without
//   weights). If Σ w = 0 (every row ignored or weighted 0) the loss is 0 and the gradient is 0,
//   rather than 0/0 = NaN. Weights must be ≥ 0; they are constants (no gradient flows to them).
//   Backward: dlogits_{i,v} += (p_{i,v} − [v = t_i]) · w_i / Σw · dloss    (v < V; nothing else)
//
// gather_logprobs(logits, ids, V) → the ids' shape:   out_i = x_{i,t_i} − lse_i = log p_{i,t_i}
//   Backward: dlogits_{i,v} += ([v = t_i] − p_{i,v}) · dout_i                   (v < V)
//
// entropy(logits, V) → the leading shape:   H_i = −Σ_v p_{i,v} log p_{i,v}   (v < V)
//   computed as H_i = log S_i − (Σ_v e_v·(x_{i,v} − m_i)) / S_i with e_v = exp(x_{i,v} − m_i) and
//   S_i = Σ_v e_v: every term is ≤ 0 times a weight in (0, 1], so neither a peaked row (H → 0) nor a
//   flat one (H → log V) loses digits to cancellation, and nothing overflows.
//   Backward: ∂H/∂x_v = −Σ_u (log p_u + 1)·p_u·([u = v] − p_v) = −p_v·(log p_v + H), so
//             dlogits_{i,v} += p_{i,v}·(lse_i − x_{i,v} − H_i) · dout_i           (v < V)
//
// Fusion. The forward reads each row twice (a max pass, then an exp-sum pass; a 50304-float row is
// 200 KB and the second pass hits the L2) and keeps only lse (N) for the backward, which recomputes
// p from the logits as it writes dlogits. llm.c stores the probabilities (N,Vp) instead; keeping
// lse saves that buffer and its write + read — one (N,Vp) pass less in total.
//
// Rounding: the loss and log-probabilities are computed as (x_t − m) − log Σ, accurate even for
// logits of magnitude 10³; the backward's p = exp(x − lse) carries an absolute exponent error of
// ~ulp(lse) (2e-6 for logits near 30), far below what training notices.
//
// A target outside [0, V) that is not ignore_index is an error naming its position and value.
#pragma once
#include <cstdint>

#include "common/tensor/tensor.h"

namespace sog {

// N rows of Vp logits. losses (N) gets loss_i (0 on ignored rows), lse (N) gets lse_i (saved for the
// backward; 0 on ignored rows). Targets must already be valid (the Tensor op checks them).
void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int64_t N,
                           int64_t V, int64_t Vp, int32_t ignore_index);
// dlogits (N,Vp) += (p − onehot) · row_scale_i with row_scale_i = w_i · dloss_over_wsum (w_i = 1 when
// weights is nullptr); ignored rows are skipped. Without accumulate dlogits is written instead,
// zeros included (ignored rows, padded columns): it may be a fresh, unzeroed gradient.
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            const float* weights, float dloss_over_wsum, int64_t N, int64_t V, int64_t Vp,
                            int32_t ignore_index, bool accumulate = true);

// out (N) = log p at ids (N); lse (N) is saved for the backward.
void gather_logprobs_forward(float* out, float* lse, const float* logits, const int32_t* ids, int64_t N, int64_t V,
                             int64_t Vp);
void gather_logprobs_backward(float* dlogits, const float* logits, const float* lse, const int32_t* ids,
                              const float* dout, int64_t N, int64_t V, int64_t Vp);
// out (N) = H_i; lse (N) is saved for the backward (with out).
void entropy_forward(float* out, float* lse, const float* logits, int64_t N, int64_t V, int64_t Vp);
void entropy_backward(float* dlogits, const float* logits, const float* lse, const float* entropy, const float* dout,
                      int64_t N, int64_t V, int64_t Vp);
// log p(id) in one row of logits over its first V entries: gather_logprobs_forward's number for
// one row (a sampled token's log-probability while decoding, common/generate/generate_batch.h).
float logprob_row(const float* logits, int64_t V, int32_t id);

// The differentiable ops. An undefined `weights` means every row weighs 1.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& weights = Tensor(),
                     int32_t ignore_index = -1, int64_t V = 0);
Tensor gather_logprobs(const Tensor& logits, const Tensor& ids, int64_t V = 0);
Tensor entropy(const Tensor& logits, int64_t V = 0);

}  // namespace sog
