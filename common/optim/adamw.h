// AdamW (Loshchilov & Hutter), fused: one pass over parameters, gradients and both moments.
//
//   m ← β1 m + (1 − β1) g            v ← β2 v + (1 − β2) g²
//   m̂ = m / (1 − β1^t)               v̂ = v / (1 − β2^t)
//   θ ← θ − lr · ( m̂ / (√v̂ + ε) + λ θ )      λ only on the segments marked `decay`
//
// This is PyTorch's torch.optim.AdamW exactly (its θ(1 − lr λ) − lr m̂/(√v̂+ε) expands to the same
// expression). Weight decay applies to matrices (2-D weights) and not to biases, LayerNorm gains
// or offsets, as nanoGPT and llm.c's CUDA trainer do; the parameter table marks which is which.
#pragma once
#include <cstdint>
#include <vector>

#include "common/tensor/tensor.h"

namespace sog {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

// A run of parameters in the flat buffer that shares one decay setting.
struct ParamSegment {
  int64_t offset = 0;
  int64_t count = 0;
  bool decay = false;
};

class AdamW {
 public:
  AdamW(int64_t num_params, std::vector<ParamSegment> segments, AdamWConfig config);
  // One update at learning rate lr: params (N) ← AdamW(params, grads (N)). Increments step().
  void step(Tensor& params, const Tensor& grads, float lr);
  int64_t steps_taken() const { return t_; }
  const AdamWConfig& config() const { return config_; }
  // The moments and the step count are the optimizer's state (saved for an exact resume).
  Tensor& m() { return m_; }
  Tensor& v() { return v_; }
  void set_steps_taken(int64_t t) { t_ = t; }

 private:
  std::vector<ParamSegment> segments_;
  AdamWConfig config_;
  Tensor m_, v_;  // (N) first and second moments
  int64_t t_ = 0;
};

// √(Σ g²), accumulated in double (order-independent to well under float precision).
float global_grad_norm(const Tensor& grads);
// Scales grads so their global norm is at most max_norm (no-op when it already is, or when
// max_norm <= 0). Returns the norm before clipping.
float clip_grad_norm(Tensor& grads, float max_norm);

}  // namespace sog
