// LoRA: low-rank adapters on a frozen GPT (Hu et al. 2021) — the talk's "train a small slice".
//
// For a target Linear y = x Wᵀ + b with W (out, in), LoRA learns two small matrices beside W:
//
//   y = x Wᵀ + b + (alpha/rank) · dropout(x) Aᵀ Bᵀ          A (rank, in)   B (out, rank)
//
// so the update of W is the rank-`rank` matrix ΔW = (alpha/rank) · B·A (out, in), with
// rank·(in + out) parameters instead of in·out: for GPT-2's qkv (768 → 2304) at rank 8, 24.6K
// instead of 1.77M (1.4%). Only A and B train; the base is frozen (GPT::set_base_trainable(false)),
// so the base needs no gradients and no AdamW moments — and, frozen, it can live in bf16
// (GPT::freeze_base_bf16()): the talk's "frozen parts can be low precision".
//
// Design choices:
// - Initialisation as PEFT (the Hugging Face library): A ~ kaiming-uniform with a = √5, which is
//   U(−1/√in, 1/√in), and B = 0. With B = 0 the adapter adds exactly 0: a fresh adapter leaves the
//   model's logits unchanged, and training starts from the base model. (The paper draws A from a
//   Gaussian; either works, since B = 0 makes ΔW = 0 whatever A is.)
// - The scale alpha/rank (not rsLoRA's alpha/√rank): changing the rank at a fixed alpha keeps the
//   update's size roughly the same, so the learning rate need not be retuned.
// - Dropout (PEFT's lora_dropout) applies to the adapter path's input only; the base path sees x.
// - Targets: any subset of the four Linears of a block — qkv (C → 3C), attproj (C → C), fc
//   (C → 4C), fcproj (4C → C) — in every layer. The default, qkv + attproj, is the paper's choice
//   of the attention projections.
// - All adapters live in ONE flat f32 buffer (and their gradients in a second), as the GPT's
//   parameters do, so AdamW, clipping and saving are one pass each. Layout: layer by layer, in
//   each layer the enabled targets in the order qkv, attproj, fc, fcproj, each as A then B.
// - The optimizer sees one segment without weight decay: A and B start at (or near) zero and the
//   update is already low-rank; PEFT's examples train LoRA with weight decay 0 as well.
//
// The adapter file (save/load), every byte, little-endian:
//   int32[32] header:  [0] magic 0x41526F4C (the bytes "LoRA")   [1] version 1   [2] rank
//                      [3] targets (bits: 1 qkv, 2 attproj, 4 fc, 8 fcproj)   [4] alpha (float32 bits)
//                      [5] dropout (float32 bits)   [6] L   [7] NH   [8] C   [9] maxT   [10] V
//                      [11] Vp   [12] number of parameters   [13..31] zero
//   float32[number of parameters]  the flat buffer, in the layout above
// Written atomically; loading checks magic, version, the model's dimensions and the size, naming
// the file, what was expected and what was found.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/io/binary_header.h"
#include "common/nn/gpt_config.h"
#include "common/optim/adamw.h"
#include "common/tensor/tensor.h"

namespace sog {

class GPT;

inline constexpr int32_t kLoRAMagic = file_magic::lora_adapter;  // "LoRA" as the file's first four bytes
inline constexpr int32_t kLoRAVersion = 1;
inline constexpr BinaryFormat kLoRAFormat = {"LoRA adapter", "LoRA", kLoRAMagic, kLoRAVersion, kLoRAVersion, 32, ""};

// The four Linears of a block that can carry an adapter, in layout order.
enum class LoRATarget : int { qkv = 0, attproj = 1, fc = 2, fcproj = 3 };
inline constexpr int kLoRATargets = 4;
const char* lora_target_name(LoRATarget t);

struct LoRAConfig {
  int rank = 8;
  float alpha = 16.0f;
  float dropout = 0.0f;
  bool qkv = true, attproj = true, fc = false, fcproj = false;  // target modules

  // `base` with its targets replaced by a comma-separated list of "qkv", "attproj", "fc",
  // "fcproj", or the groups "all", "attn" (= qkv,attproj), "mlp" (= fc,fcproj); spaces are
  // ignored. An unknown or empty item is an error that names it.
  static LoRAConfig with_targets(LoRAConfig base, const std::string& csv);
  std::string targets_string() const;  // "qkv,attproj"
  bool targets(LoRATarget t) const;
  // Throws std::invalid_argument naming the field: rank ≥ 1, alpha > 0 and finite, dropout in
  // [0, 1), at least one target.
  void validate() const;
  float scale() const { return alpha / static_cast<float>(rank); }
};

// One target Linear's adapter: views into the LoRA's flat buffers (gradients included).
struct LoRAAdapter {
  Tensor A;  // (rank, in)
  Tensor B;  // (out, rank)
};

class LoRA {
 public:
  // Adapters for every layer's targets of a model of this shape; parameters zero (call init()).
  LoRA(const GPTConfig& model, const LoRAConfig& cfg);
  // A ~ U(−1/√in, 1/√in) (PEFT's kaiming-uniform), B = 0. Deterministic for a seed.
  void init(uint64_t seed);

  const LoRAConfig& config() const { return cfg_; }
  const GPTConfig& model_config() const { return model_; }
  Tensor& params() { return params_; }
  const Tensor& params() const { return params_; }
  Tensor& grads() { return grads_; }
  int64_t num_params() const { return params_.numel(); }
  void zero_grad() { grads_.zero(); }
  // One segment over the whole buffer, without weight decay (see the design notes).
  std::vector<ParamSegment> optimizer_segments() const;

  // The adapter of a layer's target, or nullptr when that target has none.
  const LoRAAdapter* adapter(int64_t layer, LoRATarget target) const;
  // Throws std::invalid_argument (prefixed by `who`) naming every dimension in which `model`
  // differs from the model this adapter was made for (L, NH, C, maxT, V, Vp).
  void require_model(const GPTConfig& model, const std::string& who) const;

  void save(const std::string& path) const;
  // Reads an adapter file and checks that it was made for a model of `expected_model`'s shape.
  static LoRA load(const std::string& path, const GPTConfig& expected_model);

  // W += (alpha/rank) · B·A for every target: afterwards the model alone gives the logits of the
  // model with this adapter attached. The model must be f32 (not freeze_base_bf16'd), of this
  // adapter's shape, and must not have this adapter attached (it would count twice).
  void merge_into(GPT& model) const;

 private:
  void bind_views();
  GPTConfig model_;
  LoRAConfig cfg_;
  Tensor params_, grads_;                    // (num_params) each
  std::vector<LoRAAdapter> adapters_;        // (L · kLoRATargets), layer-major
  std::vector<bool> present_;                // which of adapters_ exist
};

// The number of adapter parameters for a model shape and a config (the size of the flat buffer).
int64_t lora_num_params(const GPTConfig& model, const LoRAConfig& cfg);

}  // namespace sog
