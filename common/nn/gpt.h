// GPT-2: the model of the talk's pretraining stage, built from common/ops on the autograd tape.
//
//   ids (B,T) ──wte[ids] + wpe[t]──▶ x (B,T,C)
//   L blocks:  x = x + attnproj( attention( qkv( ln1(x) ) ) )        pre-LayerNorm, causal
//              x = x + fcproj( gelu( fc( ln2(x) ) ) )                 MLP 4C wide
//   lnf(x) · wteᵀ ──▶ logits (B,T,Vp)                                 LM head tied to wte
//
// Design choices:
// - All parameters live in ONE flat f32 buffer (and their gradients in a second), laid out by the
//   parameter table (gpt_params.h) in llm.c's order, so a checkpoint is one write, AdamW is one
//   fused pass and the gradient norm one reduction. Each named weight is a view into the buffer.
// - The vocabulary is padded to Vp (a multiple of 128); the padded logits are never sampled and
//   never counted in the loss (cross_entropy takes the real V), and their embedding rows stay 0.
// - forward() records on the tape; forward_cached() is inference with a KV cache (O(T) per token).
#pragma once
#include <string>
#include <vector>

#include "common/nn/gpt_config.h"
#include "common/nn/gpt_params.h"
#include "common/ops/attention.h"
#include "common/optim/adamw.h"
#include "common/tensor/random.h"
#include "common/tensor/tensor.h"

namespace sog {

struct GPTLayer {
  Tensor ln1w, ln1b;          // (C)
  Tensor qkvw, qkvb;          // (3C, C), (3C)
  Tensor attprojw, attprojb;  // (C, C), (C)
  Tensor ln2w, ln2b;          // (C)
  Tensor fcw, fcb;            // (4C, C), (4C)
  Tensor fcprojw, fcprojb;    // (C, 4C), (C)
};

class GPT {
 public:
  explicit GPT(const GPTConfig& cfg);  // parameters zero; call init_gpt2() or load()
  static GPT load(const std::string& checkpoint_path);
  void save(const std::string& checkpoint_path) const;

  // GPT-2 initialisation: weights N(0, 0.02), residual projections N(0, 0.02/√(2L)), biases 0,
  // LayerNorm gains 1; padded embedding rows 0. Deterministic for a seed.
  void init_gpt2(uint64_t seed);

  // ids (B,T) i32 → logits (B,T,Vp). Dropout (cfg.dropout) is active when `dropout_rng` is given.
  Tensor forward(const Tensor& ids, Rng* dropout_rng = nullptr);
  // Mean next-token cross-entropy of forward(ids) against targets (B,T) (ignore_index −1),
  // optionally weighted per position (SFT masks).
  Tensor loss(const Tensor& ids, const Tensor& targets, const Tensor& weights = Tensor(),
              Rng* dropout_rng = nullptr);

  // Inference with a KV cache, one cache per layer (make_caches). ids_new (B,Tn) are appended at
  // positions cache.length … cache.length+Tn−1; returns the logits of the LAST new position (B,Vp).
  std::vector<KVCache> make_caches(int64_t B, int64_t max_T) const;
  Tensor forward_cached(const Tensor& ids_new, std::vector<KVCache>& caches);

  const GPTConfig& config() const { return cfg_; }
  int64_t num_params() const { return params_.numel(); }
  Tensor& params() { return params_; }
  const Tensor& params() const { return params_; }
  Tensor& grads() { return grads_; }
  void zero_grad() { grads_.zero(); }
  // AdamW segments: decay on the matrices, none on biases and LayerNorm (from the parameter table).
  std::vector<ParamSegment> optimizer_segments() const;
  // A parameter by its table name ("qkvw", …): the whole stacked tensor.
  Tensor param(const std::string& name) const;

  Tensor wte, wpe, lnfw, lnfb;
  std::vector<GPTLayer> layers;

 private:
  void bind_views();
  GPTConfig cfg_;
  Tensor params_, grads_;  // (num_params) each
};

}  // namespace sog
