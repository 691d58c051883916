// GPT-2 on one GPU (see gpt_cuda.h): the parameter and activation buffers, then forward, backward
// and the update as sequences of the launchers of common/ops/cuda_ops.h, in llm.c's order.
//
// Shape letters: B batch, T time, C channels, NH heads, HS = C/NH, L layers, V vocabulary, Vp padded
// vocabulary, N = B·T rows. The arena is laid out for the largest batch (B,T) given at construction;
// a smaller batch (B',T') uses the first B'·T' rows of each buffer.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/nn/gpt_cuda.h"
#include "common/nn/gpt_params.h"
#include "common/ops/cuda_ops.h"
#include "common/tensor/cuda_check.h"

namespace sog {

using cuda::bf16;

// ---------------------------------------------------------------------------------------------
// device memory: one allocation per purpose, carved into aligned pieces

namespace {

// cudaMalloc with a message that says what the memory was for and how much the device has left.
void* device_malloc(size_t bytes, const std::string& what) {
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw std::runtime_error("GPTCuda: cannot allocate " + what + ": " + std::to_string(bytes >> 20) + " MiB (" +
                             cudaGetErrorString(err) + "; " + std::to_string(free_b >> 20) + " of " +
                             std::to_string(total_b >> 20) + " MiB free) — try a smaller batch");
  }
  return p;
}

struct DeviceMemory {
  void* ptr = nullptr;
  size_t bytes = 0;
  DeviceMemory() = default;
  DeviceMemory(size_t n, const std::string& what) : ptr(device_malloc(n, what)), bytes(n) {}
  ~DeviceMemory() {
    if (ptr) cudaFree(ptr);
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  DeviceMemory(DeviceMemory&& o) noexcept : ptr(o.ptr), bytes(o.bytes) { o.ptr = nullptr; }
  DeviceMemory& operator=(DeviceMemory&& o) noexcept {
    std::swap(ptr, o.ptr);
    std::swap(bytes, o.bytes);
    return *this;
  }
};

// Hands out pieces of one block, each 256-byte aligned. Run a layout once with base == nullptr to
// measure it (take() returns nullptr), allocate `used` bytes, then run it again on the block.
struct Carver {
  char* base = nullptr;
  size_t used = 0;
  template <class T>
  T* take(int64_t count) {
    const size_t off = used;
    used += (static_cast<size_t>(count) * sizeof(T) + 255) / 256 * 256;
    return base ? reinterpret_cast<T*>(base + off) : nullptr;
  }
};

// The parameter table's tensors inside one flat buffer (fp32 master, bf16 copy or fp32 gradients).
template <class F>
struct ParamPointers {
  F *wte = nullptr, *wpe = nullptr;                        // (Vp,C), (maxT,C)
  F *ln1w = nullptr, *ln1b = nullptr;                      // (L,C)
  F *qkvw = nullptr, *qkvb = nullptr;                      // (L,3C,C), (L,3C)
  F *attprojw = nullptr, *attprojb = nullptr;              // (L,C,C), (L,C)
  F *ln2w = nullptr, *ln2b = nullptr;                      // (L,C)
  F *fcw = nullptr, *fcb = nullptr;                        // (L,4C,C), (L,4C)
  F *fcprojw = nullptr, *fcprojb = nullptr;                // (L,C,4C), (L,C)
  F *lnfw = nullptr, *lnfb = nullptr;                      // (C)
};

template <class F>
ParamPointers<F> point_into(F* base, const GPTConfig& cfg) {
  ParamPointers<F> p;
  int64_t offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg)) {
    F* at = base + offset;
    const std::string& n = spec.name;
    F** slot = n == "wte" ? &p.wte : n == "wpe" ? &p.wpe : n == "ln1w" ? &p.ln1w : n == "ln1b" ? &p.ln1b
             : n == "qkvw" ? &p.qkvw : n == "qkvb" ? &p.qkvb : n == "attprojw" ? &p.attprojw
             : n == "attprojb" ? &p.attprojb : n == "ln2w" ? &p.ln2w : n == "ln2b" ? &p.ln2b
             : n == "fcw" ? &p.fcw : n == "fcb" ? &p.fcb : n == "fcprojw" ? &p.fcprojw
             : n == "fcprojb" ? &p.fcprojb : n == "lnfw" ? &p.lnfw : n == "lnfb" ? &p.lnfb : nullptr;
    if (!slot) throw std::logic_error("GPTCuda: the parameter table has an unknown tensor '" + n + "'");
    *slot = at;
    offset += spec.shape.numel();
  }
  return p;
}

// Layer l's slice of each stacked tensor.
template <class F>
struct LayerParams {
  F *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
};

template <class F>
LayerParams<F> layer_of(const ParamPointers<F>& p, int64_t l, int64_t C) {
  return {p.ln1w + l * C,         p.ln1b + l * C,     p.qkvw + l * 3 * C * C, p.qkvb + l * 3 * C,
          p.attprojw + l * C * C, p.attprojb + l * C, p.ln2w + l * C,         p.ln2b + l * C,
          p.fcw + l * 4 * C * C,  p.fcb + l * 4 * C,  p.fcprojw + l * 4 * C * C, p.fcprojb + l * C};
}

// One transformer block's saved activations: what its backward reads.
struct LayerActs {
  bf16* ln1;        // (N,C)    LayerNorm 1 output
  float* ln1_mean;  // (N)
  float* ln1_rstd;  // (N)
  bf16* qkv;        // (N,3C)
  bf16* atty;       // (N,C)    attention output, before the projection
  float* att_lse;   // (B,NH,T) the softmax's log-sum-exp
  bf16* residual2;  // (N,C)    x + attproj
  bf16* ln2;        // (N,C)
  float* ln2_mean;  // (N)
  float* ln2_rstd;  // (N)
  bf16* fch;        // (N,4C)   fc output (GELU input)
  bf16* fch_gelu;   // (N,4C)
  bf16* residual3;  // (N,C)    residual2 + fcproj: the block's output
};

// Carves one layer's activations for `rows` rows (layers = L stacked ones, or 1 for decoding).
void carve_layers(Carver& c, LayerActs& a, int64_t layers, int64_t rows, int64_t C, int64_t lse_floats) {
  a.ln1 = c.take<bf16>(layers * rows * C);
  a.ln1_mean = c.take<float>(layers * rows);
  a.ln1_rstd = c.take<float>(layers * rows);
  a.qkv = c.take<bf16>(layers * rows * 3 * C);
  a.atty = c.take<bf16>(layers * rows * C);
  a.att_lse = c.take<float>(layers * lse_floats);
  a.residual2 = c.take<bf16>(layers * rows * C);
  a.ln2 = c.take<bf16>(layers * rows * C);
  a.ln2_mean = c.take<float>(layers * rows);
  a.ln2_rstd = c.take<float>(layers * rows);
  a.fch = c.take<bf16>(layers * rows * 4 * C);
  a.fch_gelu = c.take<bf16>(layers * rows * 4 * C);
  a.residual3 = c.take<bf16>(layers * rows * C);
}

// Layer l inside the stacked buffers (stride: the arena's rows, whatever the batch in use).
LayerActs layer_slice(const LayerActs& a, int64_t l, int64_t rows, int64_t C, int64_t lse_floats) {
  return {a.ln1 + l * rows * C,       a.ln1_mean + l * rows,     a.ln1_rstd + l * rows,
          a.qkv + l * rows * 3 * C,   a.atty + l * rows * C,     a.att_lse + l * lse_floats,
          a.residual2 + l * rows * C, a.ln2 + l * rows * C,      a.ln2_mean + l * rows,
          a.ln2_rstd + l * rows,      a.fch + l * rows * 4 * C,  a.fch_gelu + l * rows * 4 * C,
          a.residual3 + l * rows * C};
}

// llm.c's ActivationTensors, plus the backward's scratch and the inputs.
struct Activations {
  bf16* encoded;       // (B,T,C)    wte[ids] + wpe[t]
  LayerActs layers;    // (L,…)      every block's saved activations, stacked
  bf16* lnf;           // (B,T,C)    final LayerNorm output
  float* lnf_mean;     // (B,T)
  float* lnf_rstd;     // (B,T)
  bf16* proj;          // (B,T,C)    attproj / fcproj output before its residual add (scratch)
  bf16* logits;        // (B,T,Vp)   logits, then dlogits in place (fused classifier)
  float* losses;       // (B,T)      per-position cross-entropy
  bf16* dresidual;     // (B,T,C)    the residual stream's gradient
  bf16* dbtc;          // (B,T,C)    scratch gradient
  bf16* dbt4c;         // (B,T,4C)   scratch gradient; also dqkv (B,T,3C)
  float* ln_scratch;   // layernorm_backward_scratch_floats(B·T, C)
  float* att_scratch;  // attention_backward_scratch_floats(B, T, C, NH)
  int32_t* ids;        // (B,T)
  int32_t* targets;    // (B,T)
  float* weights;      // (B,T)
  float* scalars;      // [0] Σ micro-batch mean losses  [1] eval loss  [2] ‖g‖²
};

// acc += scale · Σ_i w_i · losses_i over N rows (w_i = 1 without weights). One block of 1024
// threads and a fixed summation order: the same losses give the same bits.
constexpr int kLossThreads = 1024;
__global__ void accumulate_loss_kernel(float* acc, const float* losses, const float* weights, int N, float scale) {
  __shared__ float partial[kLossThreads];
  float sum = 0.0f;
  for (int i = threadIdx.x; i < N; i += blockDim.x) sum += weights ? weights[i] * losses[i] : losses[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) *acc += scale * partial[0];
}

std::string shape_of(const Tensor& t) { return t.defined() ? t.shape().str() : "undefined"; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// the decoding cache: per-layer k, v and one layer's worth of scratch for up to B×maxT new tokens

struct CudaKVCacheBuffers {
  DeviceMemory memory;
  bf16* k = nullptr;         // (L,B,NH,maxT,HS)
  bf16* v = nullptr;         // (L,B,NH,maxT,HS)
  bf16* encoded = nullptr;   // (B,maxT,C)
  LayerActs layer{};         // one layer's activations, reused by every layer
  bf16* proj = nullptr;      // (B,maxT,C)
  bf16* lnf = nullptr;       // (B,maxT,C)
  float* lnf_mean = nullptr;  // (B,maxT)
  float* lnf_rstd = nullptr;  // (B,maxT)
  bf16* last = nullptr;      // (B,C)   the last new position's lnf row of each sequence
  bf16* logits = nullptr;    // (B,Vp)
  float* logits32 = nullptr;  // (B,Vp)
  int32_t* ids = nullptr;    // (B,maxT)

  void layout(Carver& c, const GPTConfig& cfg, int64_t B, int64_t max_T) {
    const int64_t C = cfg.C, rows = B * max_T, kv = static_cast<int64_t>(cfg.L) * B * max_T * C;
    k = c.take<bf16>(kv);
    v = c.take<bf16>(kv);
    encoded = c.take<bf16>(rows * C);
    carve_layers(c, layer, 1, rows, C, 0);
    proj = c.take<bf16>(rows * C);
    lnf = c.take<bf16>(rows * C);
    lnf_mean = c.take<float>(rows);
    lnf_rstd = c.take<float>(rows);
    last = c.take<bf16>(B * C);
    logits = c.take<bf16>(B * cfg.Vp);
    logits32 = c.take<float>(B * cfg.Vp);
    ids = c.take<int32_t>(rows);
  }
};

// ---------------------------------------------------------------------------------------------
// the model on the device

struct GPTCuda::Impl {
  GPTConfig cfg;
  int64_t B = 0, T = 0;  // the arena's batch shape
  int64_t n = 0;         // parameters
  std::vector<ParamSegment> segments;
  cudaStream_t stream = nullptr;
  cudaEvent_t staging_free = nullptr;  // the last copies out of the pinned staging buffer are done

  DeviceMemory param_memory, act_memory;
  float* params32 = nullptr;  // (n) fp32 master weights
  bf16* params16 = nullptr;   // (n) their bf16 copy
  float* grads = nullptr;     // (n)
  float* m = nullptr;         // (n) AdamW first moment
  float* v = nullptr;         // (n) AdamW second moment
  ParamPointers<bf16> w16;
  ParamPointers<float> g32;
  Activations acts{};

  // pinned host staging: inputs on the way in, scalars on the way out
  void* pinned = nullptr;
  int32_t* ids_host = nullptr;      // (B,T)
  int32_t* targets_host = nullptr;  // (B,T)
  float* weights_host = nullptr;    // (B,T)
  float* scalars_host = nullptr;    // (4)

  int64_t t = 0;              // AdamW steps taken
  int micro_batches = 0;      // forwards since zero_grad()
  bool dlogits_ready = false;  // the arena holds a training forward that backward() can use
  int64_t fwd_B = 0, fwd_T = 0;

  int64_t lse_floats() const { return B * cfg.NH * T; }

  ~Impl() {
    if (stream) cudaStreamSynchronize(stream);
    if (pinned) cudaFreeHost(pinned);
    if (staging_free) cudaEventDestroy(staging_free);
    if (stream) cudaStreamDestroy(stream);
  }

  void layout_activations(Carver& c) {
    const int64_t C = cfg.C, L = cfg.L, N = B * T;
    Activations& a = acts;
    a.encoded = c.take<bf16>(N * C);
    carve_layers(c, a.layers, L, N, C, lse_floats());
    a.lnf = c.take<bf16>(N * C);
    a.lnf_mean = c.take<float>(N);
    a.lnf_rstd = c.take<float>(N);
    a.proj = c.take<bf16>(N * C);
    a.logits = c.take<bf16>(N * cfg.Vp);
    a.losses = c.take<float>(N);
    a.dresidual = c.take<bf16>(N * C);
    a.dbtc = c.take<bf16>(N * C);
    a.dbt4c = c.take<bf16>(N * 4 * C);
    a.ln_scratch = c.take<float>(cuda::layernorm_backward_scratch_floats(static_cast<int>(N), static_cast<int>(C)));
    a.att_scratch = c.take<float>(cuda::attention_backward_scratch_floats(static_cast<int>(B), static_cast<int>(T),
                                                                           static_cast<int>(C), cfg.NH));
    a.ids = c.take<int32_t>(N);
    a.targets = c.take<int32_t>(N);
    a.weights = c.take<float>(N);
    a.scalars = c.take<float>(4);
  }

  // ---- inputs ----

  void check_ids(const Tensor& ids, const char* what, bool allow_ignore) const {
    const int32_t* p = ids.i32();
    for (int64_t i = 0; i < ids.numel(); i++) {
      if ((p[i] >= 0 && p[i] < cfg.V) || (allow_ignore && p[i] == -1)) continue;
      throw std::invalid_argument(std::string("GPTCuda: ") + what + "[" + std::to_string(i) + "] = " +
                                  std::to_string(p[i]) + " is outside [0, V=" + std::to_string(cfg.V) + ")" +
                                  (allow_ignore ? " and is not the ignore index -1" : ""));
    }
  }

  // Checks a (B',T') batch against the arena and returns B', T'.
  std::pair<int, int> batch_shape(const Tensor& ids, const char* op) const {
    if (!ids.defined() || ids.ndim() != 2 || ids.dtype() != DType::i32 || ids.device() != Device::cpu) {
      throw std::invalid_argument(std::string("GPTCuda::") + op + ": ids must be a (B,T) i32 host tensor, found " +
                                  shape_of(ids));
    }
    const int64_t b = ids.size(0), t_len = ids.size(1);
    if (b < 1 || b > B || t_len < 1 || t_len > T) {
      throw std::invalid_argument(std::string("GPTCuda::") + op + ": batch " + ids.shape().str() +
                                  " does not fit the activations allocated for (B,T) = (" + std::to_string(B) + ", " +
                                  std::to_string(T) + ")");
    }
    check_ids(ids, "ids", false);
    return {static_cast<int>(b), static_cast<int>(t_len)};
  }

  // Copies ids (and targets, weights) through the pinned buffer; returns Σ w over the rows whose
  // target is not ignored (the loss's denominator).
  double stage_inputs(const Tensor& ids, const Tensor& targets, const Tensor& weights) {
    const int64_t N = ids.numel();
    cudaCheck(cudaEventSynchronize(staging_free));  // the previous batch has left the staging buffer
    std::memcpy(ids_host, ids.i32(), N * sizeof(int32_t));
    cudaCheck(cudaMemcpyAsync(acts.ids, ids_host, N * sizeof(int32_t), cudaMemcpyHostToDevice, stream));
    double wsum = 0;
    if (targets.defined()) {
      if (targets.shape() != ids.shape() || targets.dtype() != DType::i32) {
        throw std::invalid_argument("GPTCuda::forward: targets must be i32 of the ids' shape " + ids.shape().str() +
                                    ", found " + shape_of(targets));
      }
      check_ids(targets, "targets", true);
      const int32_t* tp = targets.i32();
      if (weights.defined()) {
        if (weights.shape() != ids.shape() || weights.dtype() != DType::f32) {
          throw std::invalid_argument("GPTCuda::forward: weights must be f32 of the ids' shape " + ids.shape().str() +
                                      ", found " + shape_of(weights));
        }
        const float* wp = weights.f32();
        for (int64_t i = 0; i < N; i++) {
          if (!std::isfinite(wp[i]) || wp[i] < 0.0f) {
            throw std::invalid_argument("GPTCuda::forward: weights must be finite and >= 0, found " +
                                        std::to_string(wp[i]) + " at position " + std::to_string(i));
          }
          if (tp[i] != -1) wsum += wp[i];
        }
        std::memcpy(weights_host, wp, N * sizeof(float));
        cudaCheck(cudaMemcpyAsync(acts.weights, weights_host, N * sizeof(float), cudaMemcpyHostToDevice, stream));
      } else {
        for (int64_t i = 0; i < N; i++) wsum += tp[i] != -1 ? 1.0 : 0.0;
      }
      std::memcpy(targets_host, tp, N * sizeof(int32_t));
      cudaCheck(cudaMemcpyAsync(acts.targets, targets_host, N * sizeof(int32_t), cudaMemcpyHostToDevice, stream));
    }
    cudaCheck(cudaEventRecord(staging_free, stream));
    return wsum;
  }

  // ---- forward ----

  // The transformer from x = `encoded` (N rows) to lnf = LayerNorm_f(x_L), llm.c's order: each
  // residual add is fused into the LayerNorm that follows it. acts_of(l) gives layer l's buffers;
  // attend(l, out, lse, qkv) runs the attention of layer l.
  template <class ActsOf, class Attend>
  void blocks_forward(bf16* encoded, ActsOf acts_of, Attend attend, bf16* proj, bf16* lnf, float* lnf_mean,
                      float* lnf_rstd, int N) {
    const int C = cfg.C, L = cfg.L;
    LayerActs first = acts_of(0);
    LayerParams<bf16> w0 = layer_of(w16, 0, C);
    cuda::layernorm_forward(first.ln1, first.ln1_mean, first.ln1_rstd, encoded, w0.ln1w, w0.ln1b, N, C, stream);
    for (int l = 0; l < L; l++) {
      LayerActs a = acts_of(l);
      LayerParams<bf16> w = layer_of(w16, l, C);
      const bf16* residual = l == 0 ? encoded : acts_of(l - 1).residual3;
      cuda::matmul_forward(a.qkv, a.ln1, w.qkvw, w.qkvb, N, C, 3 * C, stream);                  // (N,3C)
      attend(l, a.atty, a.att_lse, a.qkv);                                                     // (N,C)
      cuda::matmul_forward(proj, a.atty, w.attprojw, w.attprojb, N, C, C, stream);             // (N,C)
      cuda::fused_residual_layernorm_forward(a.residual2, a.ln2, a.ln2_mean, a.ln2_rstd, residual, proj, w.ln2w,
                                             w.ln2b, N, C, stream);                            // x + attn
      cuda::matmul_forward(a.fch, a.ln2, w.fcw, w.fcb, N, C, 4 * C, stream);                   // (N,4C)
      cuda::gelu_forward(a.fch_gelu, a.fch, static_cast<int64_t>(N) * 4 * C, stream);
      cuda::matmul_forward(proj, a.fch_gelu, w.fcprojw, w.fcprojb, N, 4 * C, C, stream);       // (N,C)
      // x + mlp, normalised by the next block's LayerNorm 1 (or the final one)
      if (l + 1 < L) {
        LayerActs next = acts_of(l + 1);
        LayerParams<bf16> wn = layer_of(w16, l + 1, C);
        cuda::fused_residual_layernorm_forward(a.residual3, next.ln1, next.ln1_mean, next.ln1_rstd, a.residual2,
                                               proj, wn.ln1w, wn.ln1b, N, C, stream);
      } else {
        cuda::fused_residual_layernorm_forward(a.residual3, lnf, lnf_mean, lnf_rstd, a.residual2, proj, w16.lnfw,
                                               w16.lnfb, N, C, stream);
      }
    }
  }

  // ids already on the device (acts.ids) → acts.logits (B',T',Vp).
  void forward_to_logits(int b, int t_len) {
    const int N = b * t_len, C = cfg.C;
    cuda::encoder_forward(acts.encoded, acts.ids, w16.wte, w16.wpe, b, t_len, C, stream);  // (B,T,C)
    const int64_t rows = B * T, lse = lse_floats();
    auto acts_of = [&](int l) { return layer_slice(acts.layers, l, rows, C, lse); };
    auto attend = [&](int, bf16* out, float* att_lse, const bf16* qkv) {
      cuda::attention_forward(out, att_lse, qkv, b, t_len, C, cfg.NH, stream);
    };
    blocks_forward(acts.encoded, acts_of, attend, acts.proj, acts.lnf, acts.lnf_mean, acts.lnf_rstd, N);
    cuda::matmul_forward(acts.logits, acts.lnf, w16.wte, nullptr, N, C, cfg.Vp, stream);  // (B,T,Vp) tied head
  }

  // The fused classifier on acts.logits, and acc += the batch's mean loss.
  void classify(int N, double wsum, bool weighted, float dloss, float* acc) {
    const float inv_wsum = wsum > 0 ? static_cast<float>(1.0 / wsum) : 0.0f;  // Σw = 0: loss 0, gradient 0
    cuda::fused_classifier(acts.logits, acts.losses, acts.targets, weighted ? acts.weights : nullptr,
                           dloss * inv_wsum, N, cfg.V, cfg.Vp, stream);
    accumulate_loss_kernel<<<1, kLossThreads, 0, stream>>>(acc, acts.losses, weighted ? acts.weights : nullptr, N,
                                                            inv_wsum);
    cudaCheck(cudaGetLastError());
  }

  // ---- backward ----

  void backward() {
    const int b = static_cast<int>(fwd_B), t_len = static_cast<int>(fwd_T), N = b * t_len;
    const int C = cfg.C, L = cfg.L;
    const int64_t rows = B * T, lse = lse_floats();
    auto acts_of = [&](int l) { return layer_slice(acts.layers, l, rows, C, lse); };
    Activations& a = acts;
    // LM head: dlnf = dlogits · wte, dwte += dlogitsᵀ · lnf
    cuda::matmul_backward(a.dbtc, g32.wte, nullptr, a.logits, a.lnf, w16.wte, N, C, cfg.Vp, stream);
    cudaCheck(cudaMemsetAsync(a.dresidual, 0, static_cast<size_t>(N) * C * sizeof(bf16), stream));
    LayerActs last = acts_of(L - 1);
    cuda::layernorm_backward(a.dresidual, g32.lnfw, g32.lnfb, a.ln_scratch, a.dbtc, last.residual3, w16.lnfw,
                             a.lnf_mean, a.lnf_rstd, N, C, stream);
    for (int l = L - 1; l >= 0; l--) {
      LayerActs s = acts_of(l);
      LayerParams<bf16> w = layer_of(w16, l, C);
      LayerParams<float> g = layer_of(g32, l, C);
      const bf16* residual = l == 0 ? a.encoded : acts_of(l - 1).residual3;
      // MLP: residual3 = residual2 + fcproj(gelu(fc(ln2(residual2)))); dresidual flows through both
      bf16* dfch = a.dbt4c;                                                                    // (N,4C)
      cuda::matmul_backward(dfch, g.fcprojw, g.fcprojb, a.dresidual, s.fch_gelu, w.fcprojw, N, 4 * C, C, stream);
      cuda::gelu_backward(dfch, s.fch, dfch, static_cast<int64_t>(N) * 4 * C, stream);
      cuda::matmul_backward(a.dbtc, g.fcw, g.fcb, dfch, s.ln2, w.fcw, N, C, 4 * C, stream);      // dln2 (N,C)
      cuda::layernorm_backward(a.dresidual, g.ln2w, g.ln2b, a.ln_scratch, a.dbtc, s.residual2, w.ln2w, s.ln2_mean,
                               s.ln2_rstd, N, C, stream);
      // attention: residual2 = residual + attproj(attention(qkv(ln1(residual))))
      cuda::matmul_backward(a.dbtc, g.attprojw, g.attprojb, a.dresidual, s.atty, w.attprojw, N, C, C, stream);
      bf16* dqkv = a.dbt4c;                                                                    // (N,3C)
      cuda::attention_backward(dqkv, a.att_scratch, a.dbtc, s.qkv, s.atty, s.att_lse, b, t_len, C, cfg.NH, stream);
      cuda::matmul_backward(a.dbtc, g.qkvw, g.qkvb, dqkv, s.ln1, w.qkvw, N, C, 3 * C, stream);   // dln1 (N,C)
      cuda::layernorm_backward(a.dresidual, g.ln1w, g.ln1b, a.ln_scratch, a.dbtc, residual, w.ln1w, s.ln1_mean,
                               s.ln1_rstd, N, C, stream);
    }
    cuda::encoder_backward(g32.wte, g32.wpe, a.dresidual, a.ids, b, t_len, C, stream);
    cudaCheck(cudaGetLastError());
  }

  // ---- host reads ----

  // A copy on the model's stream, after everything enqueued before it; returns when it is done.
  void copy_and_wait(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) const {
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, kind, stream));
    cudaCheck(cudaStreamSynchronize(stream));
  }

  // Copies `count` scalars from the device and waits for them.
  const float* read_scalars(int count) {
    cudaCheck(cudaMemcpyAsync(scalars_host, acts.scalars, count * sizeof(float), cudaMemcpyDeviceToHost, stream));
    cudaCheck(cudaStreamSynchronize(stream));
    return scalars_host;
  }
};

// ---------------------------------------------------------------------------------------------
// the public class

void require_cuda_device(const char* what) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    throw std::runtime_error(std::string(what) + ": no CUDA device: " + cudaGetErrorString(err));
  }
  if (count == 0) throw std::runtime_error(std::string(what) + ": no CUDA device: cudaGetDeviceCount found none");
}

GPTCuda::GPTCuda(const GPT& model, int64_t B, int64_t T) : impl_(std::make_unique<Impl>()) {
  require_cuda_device("GPTCuda");
  Impl& s = *impl_;
  s.cfg = model.config();
  s.cfg.validate();
  const GPTConfig& cfg = s.cfg;
  if (B < 1 || T < 1 || T > cfg.max_T) {
    throw std::invalid_argument("GPTCuda: batch (B,T) = (" + std::to_string(B) + ", " + std::to_string(T) +
                                ") must have B >= 1 and 1 <= T <= maxT = " + std::to_string(cfg.max_T));
  }
  const int HS = cfg.head_size();
  if (HS != 32 && HS != 64 && HS != 128) {
    throw std::invalid_argument("GPTCuda: head size C/NH = " + std::to_string(HS) +
                                " is not supported by the CUDA attention kernels (32, 64 or 128); e.g. the gpt2, "
                                "small and char-baby presets have 64, 32 and 32");
  }
  if (cfg.dropout > 0.0f) {
    throw std::invalid_argument("GPTCuda: dropout " + std::to_string(cfg.dropout) +
                                " is not implemented on the GPU (train with --dropout 0)");
  }
  if (B * T > INT32_MAX / 4) {  // the launchers take int row counts (element offsets are theirs to widen)
    throw std::invalid_argument("GPTCuda: B·T = " + std::to_string(B * T) + " rows are too many for one batch");
  }
  s.B = B;
  s.T = T;
  s.n = model.num_params();
  s.segments = model.optimizer_segments();
  cudaCheck(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  cudaCheck(cudaEventCreateWithFlags(&s.staging_free, cudaEventDisableTiming));
  cudaCheck(cudaEventRecord(s.staging_free, s.stream));

  // parameters, their bf16 copy, gradients, moments
  Carver pc;
  auto layout_params = [&](Carver& c) {
    s.params32 = c.take<float>(s.n);
    s.params16 = c.take<bf16>(s.n);
    s.grads = c.take<float>(s.n);
    s.m = c.take<float>(s.n);
    s.v = c.take<float>(s.n);
  };
  layout_params(pc);
  s.param_memory = DeviceMemory(pc.used, "parameters, gradients and AdamW moments");
  pc = Carver{static_cast<char*>(s.param_memory.ptr), 0};
  layout_params(pc);
  s.w16 = point_into(s.params16, cfg);
  s.g32 = point_into(s.grads, cfg);
  cudaCheck(cudaMemcpyAsync(s.params32, model.params().f32(), s.n * sizeof(float), cudaMemcpyHostToDevice, s.stream));
  cuda::float_to_bf16(s.params16, s.params32, s.n, s.stream);
  cudaCheck(cudaMemsetAsync(s.grads, 0, s.n * sizeof(float), s.stream));
  cudaCheck(cudaMemsetAsync(s.m, 0, s.n * sizeof(float), s.stream));
  cudaCheck(cudaMemsetAsync(s.v, 0, s.n * sizeof(float), s.stream));

  // activations
  Carver ac;
  s.layout_activations(ac);
  s.act_memory = DeviceMemory(ac.used, "activations for (B,T) = (" + std::to_string(B) + ", " + std::to_string(T) + ")");
  ac = Carver{static_cast<char*>(s.act_memory.ptr), 0};
  s.layout_activations(ac);
  cudaCheck(cudaMemsetAsync(s.acts.scalars, 0, 4 * sizeof(float), s.stream));

  // pinned staging
  const size_t N = static_cast<size_t>(B * T);
  cudaCheck(cudaMallocHost(&s.pinned, N * (2 * sizeof(int32_t) + sizeof(float)) + 4 * sizeof(float)));
  s.ids_host = static_cast<int32_t*>(s.pinned);
  s.targets_host = s.ids_host + N;
  s.weights_host = reinterpret_cast<float*>(s.targets_host + N);
  s.scalars_host = s.weights_host + N;
  cudaCheck(cudaStreamSynchronize(s.stream));  // the host copy of the parameters may go now
}

GPTCuda::~GPTCuda() = default;

const GPTConfig& GPTCuda::config() const { return impl_->cfg; }
int64_t GPTCuda::num_params() const { return impl_->n; }
int64_t GPTCuda::max_B() const { return impl_->B; }
int64_t GPTCuda::max_T() const { return impl_->T; }
int64_t GPTCuda::steps_taken() const { return impl_->t; }
size_t GPTCuda::device_bytes() const { return impl_->param_memory.bytes + impl_->act_memory.bytes; }
std::string GPTCuda::device_name() const {
  int device = 0;
  cudaDeviceProp prop{};
  cudaCheck(cudaGetDevice(&device));
  cudaCheck(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

void GPTCuda::zero_grad() {
  Impl& s = *impl_;
  cudaCheck(cudaMemsetAsync(s.grads, 0, s.n * sizeof(float), s.stream));
  cudaCheck(cudaMemsetAsync(s.acts.scalars, 0, sizeof(float), s.stream));  // the step's loss sum
  s.micro_batches = 0;
}

void GPTCuda::forward(const Tensor& ids, const Tensor& targets, const Tensor& weights, float dloss) {
  Impl& s = *impl_;
  auto [b, t_len] = s.batch_shape(ids, "forward");
  if (!targets.defined()) throw std::invalid_argument("GPTCuda::forward: targets are required (use logits())");
  const double wsum = s.stage_inputs(ids, targets, weights);
  s.forward_to_logits(b, t_len);
  s.classify(b * t_len, wsum, weights.defined(), dloss, s.acts.scalars + 0);
  cudaCheck(cudaGetLastError());
  s.micro_batches++;
  s.dlogits_ready = true;
  s.fwd_B = b;
  s.fwd_T = t_len;
}

void GPTCuda::backward() {
  Impl& s = *impl_;
  if (!s.dlogits_ready) {
    throw std::logic_error("GPTCuda::backward: no training forward to backpropagate (call forward() first; "
                           "eval_loss() and logits() overwrite its activations)");
  }
  s.backward();
  s.dlogits_ready = false;
}

float GPTCuda::mean_loss() {
  Impl& s = *impl_;
  if (s.micro_batches == 0) throw std::logic_error("GPTCuda::mean_loss: no forward() since zero_grad()");
  return s.read_scalars(1)[0] / static_cast<float>(s.micro_batches);
}

GPTCuda::StepResult GPTCuda::adamw_step(float lr, const AdamWConfig& adamw, float grad_clip) {
  Impl& s = *impl_;
  if (s.micro_batches == 0) throw std::logic_error("GPTCuda::adamw_step: no forward() and backward() since zero_grad()");
  cuda::squared_norm(s.acts.scalars + 2, s.grads, s.n, s.stream);
  const float* host = s.read_scalars(3);  // the step's one wait: loss and ‖g‖² together
  StepResult r{host[0] / static_cast<float>(s.micro_batches), std::sqrt(host[2])};
  // clip_grad_norm's rule (adamw.h), applied inside the update instead of as a separate pass
  const float grad_scale = grad_clip > 0.0f && r.grad_norm > grad_clip ? grad_clip / (r.grad_norm + 1e-6f) : 1.0f;
  s.t++;
  for (const ParamSegment& seg : s.segments) {
    const int64_t o = seg.offset;
    cuda::adamw_update(s.params32 + o, s.params16 + o, s.grads + o, s.m + o, s.v + o, seg.count, lr, adamw.beta1,
                       adamw.beta2, adamw.eps, seg.decay ? adamw.weight_decay : 0.0f, grad_scale,
                       static_cast<int>(s.t), s.stream);
  }
  cudaCheck(cudaGetLastError());
  return r;
}

float GPTCuda::eval_loss(const Tensor& ids, const Tensor& targets, const Tensor& weights) {
  Impl& s = *impl_;
  auto [b, t_len] = s.batch_shape(ids, "eval_loss");
  if (!targets.defined()) throw std::invalid_argument("GPTCuda::eval_loss: targets are required");
  const double wsum = s.stage_inputs(ids, targets, weights);
  s.dlogits_ready = false;  // the arena is about to be overwritten
  s.forward_to_logits(b, t_len);
  cudaCheck(cudaMemsetAsync(s.acts.scalars + 1, 0, sizeof(float), s.stream));
  s.classify(b * t_len, wsum, weights.defined(), 0.0f, s.acts.scalars + 1);  // dloss 0: no gradient kept
  return s.read_scalars(2)[1];
}

Tensor GPTCuda::logits(const Tensor& ids) {
  Impl& s = *impl_;
  auto [b, t_len] = s.batch_shape(ids, "logits");
  s.stage_inputs(ids, Tensor(), Tensor());
  s.dlogits_ready = false;
  s.forward_to_logits(b, t_len);
  const int64_t count = int64_t(b) * t_len * s.cfg.Vp;
  std::vector<uint16_t> raw(count);
  s.copy_and_wait(raw.data(), s.acts.logits, count * sizeof(bf16), cudaMemcpyDeviceToHost);
  Tensor out = Tensor::empty({b, t_len, s.cfg.Vp});
  float* o = out.f32();
  for (int64_t i = 0; i < count; i++) o[i] = bf16_to_float(raw[i]);
  return out;
}

CudaKVCache GPTCuda::make_caches(int64_t B, int64_t max_T) const {
  const GPTConfig& cfg = impl_->cfg;
  if (B < 1 || max_T < 1 || max_T > cfg.max_T) {
    throw std::invalid_argument("GPTCuda::make_caches: B=" + std::to_string(B) + ", max_T=" + std::to_string(max_T) +
                                " (need B >= 1 and 1 <= max_T <= the model's maxT=" + std::to_string(cfg.max_T) + ")");
  }
  auto buffers = std::make_shared<CudaKVCacheBuffers>();
  Carver c;
  buffers->layout(c, cfg, B, max_T);
  buffers->memory = DeviceMemory(c.used, "the KV cache");
  c = Carver{static_cast<char*>(buffers->memory.ptr), 0};
  buffers->layout(c, cfg, B, max_T);
  CudaKVCache cache;
  cache.B = B;
  cache.max_T = max_T;
  cache.buffers = std::move(buffers);
  return cache;
}

Tensor GPTCuda::forward_cached(const Tensor& ids_new, CudaKVCache& cache) {
  Impl& s = *impl_;
  const GPTConfig& cfg = s.cfg;
  if (!cache.buffers) throw std::invalid_argument("GPTCuda::forward_cached: the cache was not made by make_caches");
  if (!ids_new.defined() || ids_new.ndim() != 2 || ids_new.dtype() != DType::i32 || ids_new.size(0) != cache.B) {
    throw std::invalid_argument("GPTCuda::forward_cached: ids_new must be (B,Tn) i32 with B = " +
                                std::to_string(cache.B) + ", found " + shape_of(ids_new));
  }
  const int b = static_cast<int>(cache.B), Tn = static_cast<int>(ids_new.size(1)), C = cfg.C;
  const int length = static_cast<int>(cache.length), max_T = static_cast<int>(cache.max_T);
  if (Tn < 1 || length + Tn > max_T) {
    throw std::invalid_argument("GPTCuda::forward_cached: " + std::to_string(Tn) + " new tokens after " +
                                std::to_string(length) + " do not fit the cache's " + std::to_string(max_T) + " positions");
  }
  s.check_ids(ids_new, "ids_new", false);
  CudaKVCacheBuffers& k = *cache.buffers;
  const int N = b * Tn;
  cudaCheck(cudaMemcpyAsync(k.ids, ids_new.i32(), N * sizeof(int32_t), cudaMemcpyHostToDevice, s.stream));
  // positions length … length+Tn−1: the position table read from row `length`
  cuda::encoder_forward(k.encoded, k.ids, s.w16.wte, s.w16.wpe + int64_t(length) * C, b, Tn, C, s.stream);
  const int64_t kv_layer = int64_t(b) * cfg.NH * max_T * cfg.head_size();
  auto acts_of = [&](int) { return k.layer; };
  auto attend = [&](int l, bf16* out, float*, const bf16* qkv) {
    cuda::attention_forward_cached(out, k.k + l * kv_layer, k.v + l * kv_layer, qkv, b, Tn, C, cfg.NH, max_T, length,
                                   s.stream);
  };
  s.blocks_forward(k.encoded, acts_of, attend, k.proj, k.lnf, k.lnf_mean, k.lnf_rstd, N);
  // the last new position of each sequence: rows (b, Tn−1) of lnf (B,Tn,C) → last (B,C)
  cudaCheck(cudaMemcpy2DAsync(k.last, C * sizeof(bf16), k.lnf + int64_t(Tn - 1) * C, int64_t(Tn) * C * sizeof(bf16),
                              C * sizeof(bf16), b, cudaMemcpyDeviceToDevice, s.stream));
  cuda::matmul_forward(k.logits, k.last, s.w16.wte, nullptr, b, C, cfg.Vp, s.stream);  // (B,Vp)
  cuda::bf16_to_float(k.logits32, k.logits, int64_t(b) * cfg.Vp, s.stream);
  Tensor out = Tensor::empty({b, cfg.Vp});
  s.copy_and_wait(out.f32(), k.logits32, int64_t(b) * cfg.Vp * sizeof(float), cudaMemcpyDeviceToHost);
  cache.length += Tn;
  return out;
}

void GPTCuda::download(GPT& model) const {
  const Impl& s = *impl_;
  if (model.num_params() != s.n) {
    throw std::invalid_argument("GPTCuda::download: the host model has " + std::to_string(model.num_params()) +
                                " parameters, the device " + std::to_string(s.n));
  }
  s.copy_and_wait(model.params().f32(), s.params32, s.n * sizeof(float), cudaMemcpyDeviceToHost);
}

void GPTCuda::download_grads(Tensor& grads) const {
  const Impl& s = *impl_;
  if (!grads.defined() || grads.numel() != s.n || grads.dtype() != DType::f32 || grads.device() != Device::cpu) {
    throw std::invalid_argument("GPTCuda::download_grads: expected a (" + std::to_string(s.n) +
                                ") f32 host tensor, found " + shape_of(grads));
  }
  s.copy_and_wait(grads.f32(), s.grads, s.n * sizeof(float), cudaMemcpyDeviceToHost);
}

void GPTCuda::upload_optimizer(AdamW& optimizer) {
  Impl& s = *impl_;
  if (optimizer.m().numel() != s.n || optimizer.v().numel() != s.n) {
    throw std::invalid_argument("GPTCuda::upload_optimizer: the optimizer holds " +
                                std::to_string(optimizer.m().numel()) + " moments, the model has " +
                                std::to_string(s.n) + " parameters");
  }
  s.copy_and_wait(s.m, optimizer.m().f32(), s.n * sizeof(float), cudaMemcpyHostToDevice);
  s.copy_and_wait(s.v, optimizer.v().f32(), s.n * sizeof(float), cudaMemcpyHostToDevice);
  s.t = optimizer.steps_taken();
}

void GPTCuda::download_optimizer(AdamW& optimizer) const {
  const Impl& s = *impl_;
  if (optimizer.m().numel() != s.n || optimizer.v().numel() != s.n) {
    throw std::invalid_argument("GPTCuda::download_optimizer: the optimizer holds " +
                                std::to_string(optimizer.m().numel()) + " moments, the model has " +
                                std::to_string(s.n) + " parameters");
  }
  s.copy_and_wait(optimizer.m().f32(), s.m, s.n * sizeof(float), cudaMemcpyDeviceToHost);
  s.copy_and_wait(optimizer.v().f32(), s.v, s.n * sizeof(float), cudaMemcpyDeviceToHost);
  optimizer.set_steps_taken(s.t);
}

void GPTCuda::synchronize() { cudaCheck(cudaStreamSynchronize(impl_->stream)); }

}  // namespace sog
