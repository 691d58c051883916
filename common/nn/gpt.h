// GPT-2: the model of the talk's pretraining stage, built from common/ops on the autograd tape.
//
//   ids (B,T) ──wte[ids] + wpe[t]──▶ x (B,T,C)
//   L blocks:  x = x + attnproj( attention( qkv( ln1(x) ) ) )        pre-LayerNorm, causal
//              x = x + fcproj( gelu( fc( ln2(x) ) ) )                 MLP 4C wide
//   h = lnf(x) (B,T,C)                                                 hidden(): the final states
//   h · wteᵀ ──▶ logits (B,T,Vp)                                       lm_head(): tied to wte
//
// Design choices:
// - All parameters live in ONE flat f32 buffer (and their gradients in a second), laid out by the
//   parameter table (gpt_params.h) in llm.c's order, so a checkpoint is one write, AdamW is one
//   fused pass and the gradient norm one reduction. Each named weight is a view into the buffer.
// - The vocabulary is padded to Vp (a multiple of 128); the padded logits are never sampled and
//   never counted in the loss (cross_entropy takes the real V), and their embedding rows stay 0.
// - forward() records on the tape; forward_cached() is inference with a KV cache (O(T) per token).
//   forward() = lm_head(hidden()): a reward or value model reads hidden() with its own head.
// - Fine-tuning hooks (chapter 03): LoRA adapters attach to the Linears (attach_lora, lora.h); the
//   base can be frozen (set_base_trainable(false): no gradient is recorded or stored for it) and,
//   frozen, kept in bf16 (freeze_base_bf16: its matrices at half the memory, compute still f32).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "common/nn/gpt_config.h"
#include "common/nn/gpt_params.h"
#include "common/nn/lora.h"
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
  // Parameters zero; call init_gpt2() or load(). base_trainable = false builds the model frozen
  // (set_base_trainable(false)) without ever allocating its gradient buffer.
  explicit GPT(const GPTConfig& cfg, bool base_trainable = true);
  static GPT load(const std::string& checkpoint_path, bool base_trainable = true);
  // Refuses (std::logic_error) after freeze_base_bf16(): the f32 weights no longer exist, and a
  // checkpoint of rounded weights would pass for the original. Save the adapters (LoRA::save) instead.
  void save(const std::string& checkpoint_path) const;

  // GPT-2 initialisation: weights N(0, 0.02), residual projections N(0, 0.02/√(2L)), biases 0,
  // LayerNorm gains 1; padded embedding rows 0. Deterministic for a seed.
  void init_gpt2(uint64_t seed);

  // ids (B,T) i32 → the final hidden states (B,T,C), after the last LayerNorm, recorded on the
  // tape: what the LM head reads, and what a scalar head (scalar_head.h) reads instead. Dropout
  // (cfg.dropout) is active when `dropout_rng` is given. With a LoRA attached, its targeted
  // Linears add the adapter path (lora_linear.h).
  Tensor hidden(const Tensor& ids, Rng* dropout_rng = nullptr);
  // hidden (B,T,C) → logits (B,T,Vp) = hidden · wteᵀ: the LM head, tied to the token embedding.
  Tensor lm_head(const Tensor& hidden) const;
  // ids (B,T) i32 → logits (B,T,Vp) = lm_head(hidden(ids)).
  Tensor forward(const Tensor& ids, Rng* dropout_rng = nullptr);
  // Mean next-token cross-entropy of forward(ids) against targets (B,T) (ignore_index −1),
  // optionally weighted per position (SFT masks).
  Tensor loss(const Tensor& ids, const Tensor& targets, const Tensor& weights = Tensor(),
              Rng* dropout_rng = nullptr);

  // Inference with a KV cache, one cache per layer (make_caches). ids_new (B,Tn) are appended at
  // positions cache.length … cache.length+Tn−1; returns the logits of the LAST new position (B,Vp).
  std::vector<KVCache> make_caches(int64_t B, int64_t max_T) const;
  Tensor forward_cached(const Tensor& ids_new, std::vector<KVCache>& caches);
  // Batched decoding (common/generate/generate_batch.h): the rows of the caches hold n sequences of
  // different lengths. Entry i appends token ids[i] to the sequence in cache row rows[i], which holds
  // lengths[i] positions: the token takes position lengths[i] (its wpe row) and attends to its own
  // row. Returns the new positions' logits (n,Vp); the caller counts one more position in each row
  // (the caches' `length` is not used). Entry i's logits have the bits of forward_cached on that
  // sequence alone (caches[l].row(rows[i]) holding the same positions) while n ≤
  // kMatmulDotRowsMaxM (matmul_kernels.h: every row of a matmul in that regime is independent of M).
  Tensor forward_cached_rows(const std::vector<int32_t>& ids, const std::vector<int64_t>& rows,
                             const std::vector<int64_t>& lengths, std::vector<KVCache>& caches);

  // ---- LoRA and a frozen base ----
  // Attaches adapters made for this model's shape (nullptr detaches). The adapters' dropout runs
  // in forward()/loss() when `lora_dropout_rng` is given, the LoRA's dropout is > 0 and grad mode is
  // on (training; evaluation under NoGradGuard and forward_cached() never drop). The GPT does not
  // own the LoRA: it must outlive the attachment.
  void attach_lora(LoRA* lora, Rng* lora_dropout_rng = nullptr);
  LoRA* lora() const { return lora_; }
  // false: the base's parameters become constants — nothing is recorded or accumulated for them,
  // the backward computes only what requires grad (the adapters), and the gradient buffer is
  // released. true: trainable again, with a fresh zero gradient buffer (not after freeze_base_bf16).
  void set_base_trainable(bool trainable);
  bool base_trainable() const { return base_trainable_; }
  // Freezes the base (set_base_trainable(false)) and keeps its matrices (wte, wpe, qkvw, attprojw,
  // fcw, fcprojw) ONLY in bf16, rounded to nearest even; LayerNorm gains and biases stay f32. The
  // kernels widen bf16 to f32 as they pack or read it, so compute stays f32 and no f32 copy of a
  // matrix is made. Irreversible for this object (load the checkpoint again for f32).
  void freeze_base_bf16();
  bool base_bf16() const { return base_bf16_; }

  const GPTConfig& config() const { return cfg_; }
  int64_t num_params() const { return num_params_; }
  // The flat f32 parameter buffer in the table's layout. Not after freeze_base_bf16() (throws
  // std::logic_error: the matrices are no longer in it).
  Tensor& params();
  const Tensor& params() const;
  // The flat gradient buffer. Throws std::logic_error while the base is frozen (there is none).
  Tensor& grads();
  void zero_grad();  // a no-op while the base is frozen
  // AdamW segments: decay on the matrices, none on biases and LayerNorm (from the parameter table).
  std::vector<ParamSegment> optimizer_segments() const;
  // A parameter by its table name ("qkvw", …): the whole stacked tensor (bf16 for a matrix after
  // freeze_base_bf16()).
  Tensor param(const std::string& name) const;
  // Memory held by the base: all its parameters, its matrices alone, and its gradients (0 frozen).
  size_t parameter_bytes() const;
  size_t matrix_bytes() const;
  size_t gradient_bytes() const;

  Tensor wte, wpe, lnfw, lnfb;
  std::vector<GPTLayer> layers;

 private:
  void bind_views();
  // The L blocks of an inference forward on x (B,T,C), layer l's attention being attend(qkv, l).
  Tensor cached_blocks(Tensor x, const std::function<Tensor(const Tensor& qkv, int64_t layer)>& attend);
  // linear(x, w, b), plus the adapter path when the attached LoRA targets this layer's Linear.
  Tensor linear_with_lora(const Tensor& x, const Tensor& w, const Tensor& b, int64_t layer, LoRATarget target,
                          bool train) const;
  GPTConfig cfg_;
  int64_t num_params_ = 0;
  // (num_params) each. After freeze_base_bf16: params_ holds only the f32 parameters (LayerNorm,
  // biases) in table order, params_bf16_ the matrices in table order, and grads_ is undefined.
  Tensor params_, grads_, params_bf16_;
  bool base_trainable_ = true, base_bf16_ = false;
  LoRA* lora_ = nullptr;
  Rng* lora_dropout_rng_ = nullptr;
};

// A copy of `model` with a larger vocabulary of V tokens (V ≥ its V; Vp padded again): the new ids
// V_old … V−1, tokens a tokenizer has just been given (Tokenizer::with_specials), get embedding rows
// of their own. Every old weight is copied bit for bit; each new row is the mean of the old real rows
// plus N(0, 0.02²) noise (seeded), so a new token starts as an average token, neither dominating the
// tied LM head's logits nor alike to the point of being one token, and fine-tuning learns it. The
// model must be f32 (not freeze_base_bf16'd) and have no LoRA attached.
GPT grow_vocab(const GPT& model, int V, uint64_t seed);

}  // namespace sog
