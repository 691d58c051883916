// GPT-2 on one GPU: llm.c's train_gpt2.cu as a class, built from a CPU GPT (common/nn/gpt.h).
//
// The same model, the same flat parameter layout (the parameter table, llm.c's order), the same
// checkpoint files; what changes is where the numbers live and how precise they are:
//
//   on the device                     dtype  shape
//   master parameters                 fp32   (num_params)       AdamW updates these
//   their bf16 copy                   bf16   (num_params)       what the forward and backward read
//   gradients                         fp32   (num_params)       accumulated over micro-batches
//   AdamW moments m, v                fp32   (num_params) each
//   activations (one arena, B×T)      bf16   llm.c's ActivationTensors, listed in gpt_cuda.cu
//
// A training step is a sequence of the launchers of common/ops/cuda_ops.h on one stream:
//
//   zero_grad()                                  grads = 0, the loss accumulator = 0
//   forward(ids, targets, weights, dloss) × k    micro-batches: logits → loss, dlogits in place
//   backward()                           × k    grads += ∂(dloss · mean loss)/∂θ
//   adamw_step(lr, adamw, grad_clip)             ‖g‖ (read back), clip, AdamW, bf16 copy refreshed
//
// The host waits for the device once per step: adamw_step reads back the mean loss and the squared
// gradient norm together (the clipping factor needs the norm on the host). Nothing in forward or
// backward waits; the inputs travel through a pinned staging buffer.
//
// Reproducibility: by design a step is bitwise repeatable — forward, every gradient, the update —
// because no kernel adds with atomics or in an order set by timing (the token embedding's backward,
// common/ops/embedding.cu, gives each vocabulary row to one warp that adds in position order), so
// two runs of a seed should agree bit for bit; tests/test_cuda_gpt.cpp (RepeatsItself) checks it
// on a GPU. The CPU and the GPU are expected to agree to bf16 precision: that test file states its
// tolerances and why, and prints the errors it finds. (No GPU has run these tests yet.)
//
// Decoding keeps a KV cache per layer on the device (make_caches / forward_cached), and returns the
// last position's logits to the host for the sampler (common/generate/generate_cuda.h).
//
// Built from gpt_cuda.cu when CUDA is; gpt_cuda_nocuda.cpp stands in otherwise, and constructing a
// GPTCuda there throws "this build has no CUDA …".
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "common/nn/gpt.h"
#include "common/optim/adamw.h"
#include "common/tensor/tensor.h"

namespace sog {

// The per-layer key/value caches of one decoding session on the device, with the scratch of a
// forward over up to B×max_T new tokens. Made by GPTCuda::make_caches.
struct CudaKVCacheBuffers;  // device memory, defined in gpt_cuda.cu
struct CudaKVCache {
  int64_t B = 0, max_T = 0;
  int64_t length = 0;  // positions filled so far
  std::shared_ptr<CudaKVCacheBuffers> buffers;
  void reset() { length = 0; }  // a new sequence; old entries are overwritten as it grows
};

// Throws std::runtime_error saying why `--device cuda` cannot run here: "this build has no CUDA …"
// or "no CUDA device: …". `what` names the caller ("--device cuda").
void require_cuda_device(const char* what);

class GPTCuda {
 public:
  // Copies model's parameters to the device and allocates activations for batches of up to B rows
  // of up to T tokens (T <= maxT). The moments start at zero (see upload_optimizer).
  GPTCuda(const GPT& model, int64_t B, int64_t T);
  ~GPTCuda();
  GPTCuda(const GPTCuda&) = delete;
  GPTCuda& operator=(const GPTCuda&) = delete;

  const GPTConfig& config() const;
  int64_t num_params() const;
  int64_t max_B() const;
  int64_t max_T() const;
  int64_t steps_taken() const;  // AdamW's t
  size_t device_bytes() const;  // parameters, gradients, moments and activations together
  std::string device_name() const;  // "NVIDIA H200", from the device's properties

  // ---- training ----
  // grads = 0 and the step's loss accumulator = 0 (enqueued).
  void zero_grad();
  // One micro-batch: ids, targets (B',T') i32 with B' <= B, T' <= T; weights (B',T') f32 or
  // undefined (all 1); targets −1 are ignored. Enqueues the forward, the fused classifier (per-row
  // losses, and dlogits = ∂(dloss · mean loss)/∂logits in place of the logits) and adds the
  // micro-batch's mean loss to the step's accumulator. dloss = 1/k for k accumulated micro-batches.
  void forward(const Tensor& ids, const Tensor& targets, const Tensor& weights = Tensor(), float dloss = 1.0f);
  // Backpropagates the last forward: grads += (enqueued).
  void backward();
  struct StepResult {
    float loss;       // mean of the micro-batch mean losses since zero_grad()
    float grad_norm;  // ‖g‖ before clipping
  };
  // Reads back the loss and ‖g‖ (the step's one wait), scales the gradients by
  // min(1, grad_clip / (‖g‖ + 1e-6)) when grad_clip > 0, and applies AdamW at lr with decay on the
  // segments GPT::optimizer_segments() marks. Increments steps_taken().
  StepResult adamw_step(float lr, const AdamWConfig& adamw, float grad_clip);
  // The mean loss of the micro-batches forwarded since zero_grad() (waits for the device).
  float mean_loss();

  // ---- evaluation and inference ----
  // Mean loss of one batch (no gradient is kept; the training accumulator is untouched). Waits.
  float eval_loss(const Tensor& ids, const Tensor& targets, const Tensor& weights = Tensor());
  // ids (B',T') → logits (B',T',Vp) f32 on the host (bf16 on the device). For tests and inspection.
  Tensor logits(const Tensor& ids);
  // Decoding: caches for B sequences of up to max_T positions (max_T <= maxT).
  CudaKVCache make_caches(int64_t B, int64_t max_T) const;
  // ids_new (B,Tn) appended at positions cache.length … cache.length+Tn−1; returns the logits of
  // the last new position (B,Vp) f32 on the host.
  Tensor forward_cached(const Tensor& ids_new, CudaKVCache& cache);

  // ---- host copies (checkpoints, resume, tests) ----
  void download(GPT& model) const;                // fp32 master parameters → model.params()
  void download_grads(Tensor& grads) const;       // (num_params) f32 host tensor
  void upload_optimizer(AdamW& optimizer);        // moments and step count from the host (resume)
  void download_optimizer(AdamW& optimizer) const;  // moments and step count to the host (save)
  void synchronize();                             // wait for everything enqueued

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sog
