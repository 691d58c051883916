// The CUDA kernels of every op, as launchers on raw device buffers (llm.c's train_gpt2.cu style).
// Each op's kernels live in common/ops/<op>.cu, beside its CPU version <op>.cpp; this header is
// the one list of what the GPU side offers, so the GPU trainer (common/nn/gpt_cuda.cu) reads as a
// sequence of these calls.
//
// Mixed precision, as llm.c: activations and matmul inputs are bf16; master weights, gradients
// and the optimizer's moments are fp32; every sum (matmul, softmax, LayerNorm statistics, losses,
// the gradient norm) accumulates in fp32. Shape letters as everywhere: B batch, T time, C channels,
// NH heads, HS = C/NH, V vocabulary, Vp padded vocabulary, N = B·T rows, OC output channels.
//
// Conventions: every launcher takes the stream last and never synchronises the host; pointers are
// device pointers unless named *_host; "+=" means the launcher accumulates into that buffer,
// otherwise it overwrites. Only compiled when CUDA is (SOG_HAVE_CUDA).
#pragma once
#if SOG_HAVE_CUDA
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

namespace sog::cuda {

using bf16 = __nv_bfloat16;

// ---- conversions (elementwise.cu) --------------------------------------------------------------
void float_to_bf16(bf16* out, const float* inp, int64_t n, cudaStream_t stream);
void bf16_to_float(float* out, const bf16* inp, int64_t n, cudaStream_t stream);
// a += b (n), in bf16 storage with fp32 arithmetic: the residual stream's gradient.
void add_inplace(bf16* a, const bf16* b, int64_t n, cudaStream_t stream);

// ---- matmul (matmul.cu) -------------------------------------------------------------------------
// The ladders, naive → fast, with the same semantics as the CPU's matmul_kernels.h:
//   C (M,N) = op(A) · op(B) [+ bias broadcast over rows] [+ C if accumulate]
// fp32 ladder: naive, shared-memory tiling, register blocking.
using MatmulF32Fn = void (*)(float* C, const float* A, const float* B, const float* bias, int M, int K, int N,
                             bool trans_a, bool trans_b, bool accumulate, cudaStream_t stream);
// bf16 ladder (tensor cores: mma.sync, then Hopper wgmma + TMA): A, B and bias bf16, fp32
// accumulation; the result goes to C32 (fp32) or C16 (bf16) — exactly one of them is non-null.
using MatmulBf16Fn = void (*)(float* C32, bf16* C16, const bf16* A, const bf16* B, const bf16* bias, int M, int K,
                              int N, bool trans_a, bool trans_b, bool accumulate, cudaStream_t stream);
struct MatmulF32Variant {
  const char* name;
  MatmulF32Fn fn;
  const char* note;
};
struct MatmulBf16Variant {
  const char* name;
  MatmulBf16Fn fn;
  const char* note;
  int min_sm;  // e.g. 90 for wgmma: skipped (tests, benchmarks, default) on older devices
};
const std::vector<MatmulF32Variant>& matmul_f32_variants();
const std::vector<MatmulBf16Variant>& matmul_bf16_variants();
// The Linear layer of the trainer (y = x Wᵀ + b), on the fastest bf16 variant this device runs:
//   out (N,OC) = inp (N,C) · weightᵀ, weight (OC,C), bias (OC) or nullptr
void matmul_forward(bf16* out, const bf16* inp, const bf16* weight, const bf16* bias, int N, int C, int OC,
                    cudaStream_t stream);
//   dinp (N,C) = dout · weight (overwritten; nullptr to skip), dweight (OC,C) += doutᵀ · inp,
//   dbias (OC) += column sums of dout (nullptr to skip)
void matmul_backward(bf16* dinp, float* dweight, float* dbias, const bf16* dout, const bf16* inp,
                     const bf16* weight, int N, int C, int OC, cudaStream_t stream);

// ---- GELU (gelu.cu), tanh approximation as gelu.h ------------------------------------------------
void gelu_forward(bf16* out, const bf16* inp, int64_t n, cudaStream_t stream);
// dinp = gelu'(inp) · dout (overwritten; dinp may alias dout)
void gelu_backward(bf16* dinp, const bf16* inp, const bf16* dout, int64_t n, cudaStream_t stream);

// ---- LayerNorm (layernorm.cu), as layernorm.h ----------------------------------------------------
// out (N,C), mean (N), rstd (N) written.
void layernorm_forward(bf16* out, float* mean, float* rstd, const bf16* inp, const bf16* weight,
                       const bf16* bias, int N, int C, cudaStream_t stream);
// The residual add fused in front: residual = inp1 + inp2 (N,C), then out = LayerNorm(residual).
void fused_residual_layernorm_forward(bf16* residual, bf16* out, float* mean, float* rstd, const bf16* inp1,
                                      const bf16* inp2, const bf16* weight, const bf16* bias, int N, int C,
                                      cudaStream_t stream);
// dinp (N,C) +=, dweight (C) +=, dbias (C) +=. `scratch` holds layernorm_backward_scratch_floats(N, C)
// floats (per-block partial sums of dweight and dbias, reduced in a fixed order).
int64_t layernorm_backward_scratch_floats(int N, int C);
void layernorm_backward(bf16* dinp, float* dweight, float* dbias, float* scratch, const bf16* dout,
                        const bf16* inp, const bf16* weight, const float* mean, const float* rstd, int N, int C,
                        cudaStream_t stream);

// ---- embedding (embedding.cu), as embedding.h -----------------------------------------------------
// out (B,T,C) = wte[ids] + wpe[t]
void encoder_forward(bf16* out, const int32_t* ids, const bf16* wte, const bf16* wpe, int B, int T, int C,
                     cudaStream_t stream);
// dwte (V,C) +=, dwpe (maxT,C) += (either may be nullptr).
void encoder_backward(float* dwte, float* dwpe, const bf16* dout, const int32_t* ids, int B, int T, int C,
                      cudaStream_t stream);

// ---- classifier + cross-entropy, fused (cross_entropy.cu), as cross_entropy.h ----------------------
// logits (N,Vp) hold the classifier's output on entry and dlogits on exit (in place, the logits are
// never materialised twice). Per row i with target t_i (−1 = ignored: loss 0, dlogits row 0):
//   losses[i] = lse_i − x_{i,t_i} (fp32, unweighted)
//   dlogits_{i,v} = (p_{i,v} − [v = t_i]) · w_i · dloss_scale  for v < V, 0 for v ≥ V
// weights (N) or nullptr (all 1); dloss_scale is 1/Σw for a weighted mean (the host knows Σw).
void fused_classifier(bf16* logits, float* losses, const int32_t* targets, const float* weights,
                      float dloss_scale, int N, int V, int Vp, cudaStream_t stream);
// log p of ids (N) (PPO), forward only: out (N) = x_{i,ids_i} − lse_i.
void gather_logprobs_forward(float* out, const bf16* logits, const int32_t* ids, int N, int V, int Vp,
                             cudaStream_t stream);

// ---- attention (attention.cu), causal, as attention.h ------------------------------------------------
// qkv (B,T,3C) → out (B,T,C); lse (B,NH,T) fp32 (the softmax's log-sum-exp, kept for the backward).
// The default is flash attention (online softmax, no (T,T) matrix); the naive variant materialises
// the (B,NH,T,T) probabilities and is kept as the reference rung of the ladder.
void attention_forward(bf16* out, float* lse, const bf16* qkv, int B, int T, int C, int NH, cudaStream_t stream);
// dqkv (B,T,3C) overwritten. `scratch` holds attention_backward_scratch_floats(B, T, C, NH) floats.
int64_t attention_backward_scratch_floats(int B, int T, int C, int NH);
void attention_backward(bf16* dqkv, float* scratch, const bf16* dout, const bf16* qkv, const bf16* out,
                        const float* lse, int B, int T, int C, int NH, cudaStream_t stream);
// Decoding with a KV cache: kcache, vcache (B,NH,maxT,HS) bf16; appends the Tn new tokens' k, v at
// positions length..length+Tn−1 and attends each new query to positions 0..its own.
void attention_forward_cached(bf16* out, bf16* kcache, bf16* vcache, const bf16* qkv_new, int B, int Tn, int C,
                              int NH, int max_T, int length, cudaStream_t stream);
// The ladder, naive → fast (tests and benchmarks run every rung; the launchers above use the last).
// HS = C/NH must be 32, 64 or 128 (the flash kernels are compiled for those; others throw).
using AttentionForwardFn = void (*)(bf16* out, float* lse, const bf16* qkv, int B, int T, int C, int NH,
                                    cudaStream_t stream);
using AttentionBackwardFn = void (*)(bf16* dqkv, float* scratch, const bf16* dout, const bf16* qkv,
                                     const bf16* out, const float* lse, int B, int T, int C, int NH,
                                     cudaStream_t stream);
struct AttentionVariant {
  const char* name;
  AttentionForwardFn forward;
  AttentionBackwardFn backward;
  int64_t (*backward_scratch_floats)(int B, int T, int C, int NH);
  const char* note;
};
const std::vector<AttentionVariant>& attention_variants();

// ---- optimizer (adamw.cu), as adamw.h ----------------------------------------------------------------
// One fused pass over n parameters: the AdamW update of the fp32 master weights (grads scaled by
// grad_scale first: gradient clipping), then their bf16 copy for the next forward. t counts from 1.
// params_bf16 may be nullptr (no bf16 copy wanted).
void adamw_update(float* params, bf16* params_bf16, const float* grads, float* m, float* v, int64_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t,
                  cudaStream_t stream);
// out (1 float) = Σ g² over n gradients (fp32 partials, fixed reduction order).
void squared_norm(float* out, const float* grads, int64_t n, cudaStream_t stream);

}  // namespace sog::cuda
#endif  // SOG_HAVE_CUDA
