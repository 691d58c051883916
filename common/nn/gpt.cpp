#include "common/nn/gpt.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/nn/gpt_checkpoint.h"
#include "common/ops/cross_entropy.h"
#include "common/ops/dropout.h"
#include "common/ops/elementwise.h"
#include "common/ops/embedding.h"
#include "common/ops/gelu.h"
#include "common/ops/layernorm.h"
#include "common/ops/lora_linear.h"
#include "common/ops/matmul.h"

namespace sog {

GPT::GPT(const GPTConfig& cfg, bool base_trainable) : cfg_(cfg), base_trainable_(base_trainable) {
  cfg_.validate();
  num_params_ = gpt_num_params(cfg_);
  params_ = Tensor::zeros({num_params_});
  if (base_trainable_) grads_ = Tensor::zeros({num_params_});
  bind_views();
}

// The table's matrices (wte, wpe, qkvw, attprojw, fcw, fcprojw) are exactly its `decay` rows: these
// move to the bf16 buffer under freeze_base_bf16().
static bool is_matrix(const ParamSpec& spec) { return spec.decay; }

// Every named weight becomes a leaf view into params_ (or params_bf16_ for a matrix of a bf16
// base); while the base trains, it requires grad and its gradient is a view into grads_ at the
// same offset. Without bf16 the offsets are the parameter table's; with it, each buffer keeps the
// table's order of the parameters it holds.
void GPT::bind_views() {
  const int64_t L = cfg_.L;
  layers.assign(L, GPTLayer{});
  int64_t f32_offset = 0, bf16_offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_)) {
    const bool in_bf16 = base_bf16_ && is_matrix(spec);
    const Tensor& buffer = in_bf16 ? params_bf16_ : params_;
    int64_t& offset = in_bf16 ? bf16_offset : f32_offset;
    auto bind = [&](int64_t off, const Shape& shape) {
      Tensor p = buffer.view(off, shape);
      if (base_trainable_) {
        p.set_requires_grad(true);
        p.set_grad(grads_.view(off, shape));
      }
      return p;
    };
    if (!spec.per_layer) {
      Tensor p = bind(offset, spec.shape);
      if (spec.name == "wte") wte = p;
      else if (spec.name == "wpe") wpe = p;
      else if (spec.name == "lnfw") lnfw = p;
      else if (spec.name == "lnfb") lnfb = p;
    } else {
      std::vector<int64_t> dims(spec.shape.dims.begin() + 1, spec.shape.dims.begin() + spec.shape.ndim);
      Shape layer_shape(dims);
      for (int64_t l = 0; l < L; l++) {
        Tensor p = bind(offset + l * layer_shape.numel(), layer_shape);
        GPTLayer& ly = layers[l];
        Tensor* slot = spec.name == "ln1w" ? &ly.ln1w : spec.name == "ln1b" ? &ly.ln1b
                     : spec.name == "qkvw" ? &ly.qkvw : spec.name == "qkvb" ? &ly.qkvb
                     : spec.name == "attprojw" ? &ly.attprojw : spec.name == "attprojb" ? &ly.attprojb
                     : spec.name == "ln2w" ? &ly.ln2w : spec.name == "ln2b" ? &ly.ln2b
                     : spec.name == "fcw" ? &ly.fcw : spec.name == "fcb" ? &ly.fcb
                     : spec.name == "fcprojw" ? &ly.fcprojw : &ly.fcprojb;
        *slot = p;
      }
    }
    offset += spec.shape.numel();
  }
}

Tensor GPT::param(const std::string& name) const {
  int64_t f32_offset = 0, bf16_offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_)) {
    const bool in_bf16 = base_bf16_ && is_matrix(spec);
    int64_t& offset = in_bf16 ? bf16_offset : f32_offset;
    if (spec.name == name) return (in_bf16 ? params_bf16_ : params_).view(offset, spec.shape);
    offset += spec.shape.numel();
  }
  throw std::invalid_argument("GPT::param: no parameter named '" + name + "'");
}

Tensor& GPT::params() {
  if (base_bf16_) {
    throw std::logic_error("GPT::params: the base is kept in bf16 (freeze_base_bf16), so its matrices are no longer "
                           "in the f32 parameter buffer; load the checkpoint again for the f32 model");
  }
  return params_;
}

const Tensor& GPT::params() const { return const_cast<GPT*>(this)->params(); }

Tensor& GPT::grads() {
  if (!base_trainable_) {
    throw std::logic_error("GPT::grads: the base is frozen (set_base_trainable(false)) and has no gradients; the "
                           "trainable parameters are the adapters' (LoRA::grads)");
  }
  return grads_;
}

void GPT::zero_grad() {
  if (grads_.defined()) grads_.zero();
}

// ---- LoRA and a frozen base --------------------------------------------------------------------

void GPT::attach_lora(LoRA* lora, Rng* lora_dropout_rng) {
  if (lora) lora->require_model(cfg_, "GPT::attach_lora");
  lora_ = lora;
  lora_dropout_rng_ = lora ? lora_dropout_rng : nullptr;
}

void GPT::set_base_trainable(bool trainable) {
  if (trainable == base_trainable_) return;
  if (trainable && base_bf16_) {
    throw std::logic_error("GPT::set_base_trainable(true): the base is kept in bf16 (freeze_base_bf16) and cannot "
                           "train; load the f32 checkpoint again to train it");
  }
  base_trainable_ = trainable;
  grads_ = trainable ? Tensor::zeros({num_params_}) : Tensor();  // frozen: the buffer goes back to the allocator
  bind_views();
}

void GPT::freeze_base_bf16() {
  if (base_bf16_) return;
  int64_t n_matrix = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_))
    if (is_matrix(spec)) n_matrix += spec.shape.numel();
  Tensor small = Tensor::empty({num_params_ - n_matrix});  // LayerNorm gains and biases, table order
  Tensor half = Tensor::empty({n_matrix}, DType::bf16);     // the matrices, table order
  const float* src = params_.f32();
  int64_t offset = 0, f32_offset = 0, bf16_offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_)) {
    const int64_t n = spec.shape.numel();
    if (is_matrix(spec)) {
      uint16_t* d = half.bf16() + bf16_offset;
#pragma omp parallel for if (n > (1 << 16))
      for (int64_t i = 0; i < n; i++) d[i] = float_to_bf16(src[offset + i]);
      bf16_offset += n;
    } else {
      std::copy(src + offset, src + offset + n, small.f32() + f32_offset);
      f32_offset += n;
    }
    offset += n;
  }
  params_ = small;
  params_bf16_ = half;
  grads_ = Tensor();
  base_bf16_ = true;
  base_trainable_ = false;
  bind_views();  // drops the last views of the f32 buffer: it goes back to the allocator
}

size_t GPT::parameter_bytes() const { return params_.nbytes() + (params_bf16_.defined() ? params_bf16_.nbytes() : 0); }

size_t GPT::matrix_bytes() const {
  size_t bytes = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_))
    if (is_matrix(spec)) bytes += param(spec.name).nbytes();
  return bytes;
}

size_t GPT::gradient_bytes() const { return grads_.defined() ? grads_.nbytes() : 0; }

Tensor GPT::linear_with_lora(const Tensor& x, const Tensor& w, const Tensor& b, int64_t layer, LoRATarget target,
                             bool train) const {
  const LoRAAdapter* ad = lora_ ? lora_->adapter(layer, target) : nullptr;
  if (!ad) return linear(x, w, b);
  const LoRAConfig& lc = lora_->config();
  const bool drop = train && lora_dropout_rng_ && lc.dropout > 0.0f && grad_enabled();
  Tensor xa = drop ? dropout(x, lc.dropout, *lora_dropout_rng_, true) : x;  // the adapter path's input
  return lora_linear(x, w, b, xa, ad->A, ad->B, lc.scale());
}

std::vector<ParamSegment> GPT::optimizer_segments() const {
  std::vector<ParamSegment> segments;
  int64_t offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_)) {
    segments.push_back({offset, spec.shape.numel(), spec.decay});
    offset += spec.shape.numel();
  }
  return segments;
}

void GPT::init_gpt2(uint64_t seed) {
  if (base_bf16_) throw std::logic_error("GPT::init_gpt2: the base is kept in bf16 (freeze_base_bf16)");
  Rng rng(seed);
  const float std_residual = 0.02f / std::sqrt(2.0f * cfg_.L);
  float* p = params_.f32();
  int64_t offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_)) {
    const int64_t n = spec.shape.numel();
    float* w = p + offset;
    const bool is_norm_gain = spec.name == "ln1w" || spec.name == "ln2w" || spec.name == "lnfw";
    if (is_norm_gain) {
      for (int64_t i = 0; i < n; i++) w[i] = 1.0f;
    } else if (spec.decay) {  // the matrices
      const float std = (spec.name == "attprojw" || spec.name == "fcprojw") ? std_residual : 0.02f;
      for (int64_t i = 0; i < n; i++) w[i] = std * rng.normal();
    } else {
      for (int64_t i = 0; i < n; i++) w[i] = 0.0f;
    }
    offset += n;
  }
  // The padded vocabulary rows are never looked up or predicted: keep them exactly zero.
  float* wte_p = wte.f32();
  for (int64_t i = static_cast<int64_t>(cfg_.V) * cfg_.C; i < static_cast<int64_t>(cfg_.Vp) * cfg_.C; i++) wte_p[i] = 0.0f;
}

GPT GPT::load(const std::string& path, bool base_trainable) {
  GPTConfig cfg;
  Tensor flat = load_checkpoint(path, &cfg);
  GPT model(cfg, base_trainable);
  model.params_.copy_from(flat);
  return model;
}

GPT grow_vocab(const GPT& model, int V, uint64_t seed) {
  const GPTConfig& from = model.config();
  if (V < from.V) {
    throw std::invalid_argument("grow_vocab: V = " + std::to_string(V) + " is smaller than the model's " + std::to_string(from.V));
  }
  if (model.lora() != nullptr) throw std::logic_error("grow_vocab: detach (or merge) the LoRA first");
  GPTConfig cfg = from;
  cfg.V = V;
  cfg.Vp = std::max(from.Vp, padded_vocab(V));
  GPT grown(cfg);
  for (const ParamSpec& spec : gpt_param_specs(from)) {  // the same table; only wte's rows differ
    const Tensor src = model.param(spec.name);  // params() refuses a bf16 base: so does this
    if (src.dtype() != DType::f32) throw std::logic_error("grow_vocab: the base is kept in bf16 (freeze_base_bf16)");
    const Tensor dst = grown.param(spec.name);
    const int64_t n = spec.name == "wte" ? int64_t{from.V} * from.C : src.numel();  // wte: the real rows
    std::copy(src.f32(), src.f32() + n, dst.f32());
  }
  const int64_t C = cfg.C;
  std::vector<double> mean(C, 0.0);
  const float* old_rows = model.wte.f32();
  for (int64_t v = 0; v < from.V; v++)
    for (int64_t c = 0; c < C; c++) mean[c] += old_rows[v * C + c];
  Rng rng(seed);
  float* rows = grown.wte.f32();
  for (int64_t v = from.V; v < V; v++)
    for (int64_t c = 0; c < C; c++) rows[v * C + c] = static_cast<float>(mean[c] / from.V) + 0.02f * rng.normal();
  return grown;  // its padded rows V … Vp−1 stay 0, as GPT's constructor made them
}

void GPT::save(const std::string& path) const {
  if (base_bf16_) {
    throw std::logic_error("GPT::save " + path + ": the base is kept in bf16 (freeze_base_bf16) and its f32 weights "
                           "are gone; a checkpoint of rounded weights would pass for the original. Save the adapters "
                           "(LoRA::save) and merge them into the f32 checkpoint instead");
  }
  save_checkpoint(path, cfg_, params_);
}

Tensor GPT::hidden(const Tensor& ids, Rng* dropout_rng) {
  const int64_t T = ids.size(1);
  if (T > cfg_.max_T) {
    throw std::invalid_argument("GPT::hidden: sequence length T=" + std::to_string(T) + " exceeds the model's maxT=" +
                                std::to_string(cfg_.max_T));
  }
  const bool train = dropout_rng != nullptr && cfg_.dropout > 0.0f;
  auto drop = [&](const Tensor& t) { return train ? dropout(t, cfg_.dropout, *dropout_rng, true) : t; };
  Tensor x = drop(embed_tokens_and_positions(ids, wte, wpe));  // (B,T,C)
  auto lin = [&](const Tensor& in, const Tensor& w, const Tensor& b, int64_t l, LoRATarget t) {
    return linear_with_lora(in, w, b, l, t, /*train=*/true);
  };
  for (int64_t l = 0; l < cfg_.L; l++) {
    const GPTLayer& ly = layers[l];
    Tensor h = layernorm(x, ly.ln1w, ly.ln1b);                                   // (B,T,C)
    Tensor qkv = lin(h, ly.qkvw, ly.qkvb, l, LoRATarget::qkv);                   // (B,T,3C)
    Tensor a = attention(qkv, cfg_.NH);                                          // (B,T,C)
    x = add(x, drop(lin(a, ly.attprojw, ly.attprojb, l, LoRATarget::attproj)));  // (B,T,C) residual
    Tensor h2 = layernorm(x, ly.ln2w, ly.ln2b);                                  // (B,T,C)
    Tensor f = gelu(lin(h2, ly.fcw, ly.fcb, l, LoRATarget::fc));                 // (B,T,4C)
    x = add(x, drop(lin(f, ly.fcprojw, ly.fcprojb, l, LoRATarget::fcproj)));     // (B,T,C) residual
  }
  return layernorm(x, lnfw, lnfb);  // (B,T,C)
}

Tensor GPT::lm_head(const Tensor& hidden) const {
  return matmul(hidden, wte, false, true);  // (B,T,Vp) tied to wte (bf16 when the base is)
}

Tensor GPT::forward(const Tensor& ids, Rng* dropout_rng) { return lm_head(hidden(ids, dropout_rng)); }

Tensor GPT::loss(const Tensor& ids, const Tensor& targets, const Tensor& weights, Rng* dropout_rng) {
  Tensor logits = forward(ids, dropout_rng);
  return cross_entropy(logits, targets, weights, -1, cfg_.V);
}

std::vector<KVCache> GPT::make_caches(int64_t B, int64_t max_T) const {
  if (max_T > cfg_.max_T) {
    throw std::invalid_argument("GPT::make_caches: max_T=" + std::to_string(max_T) + " exceeds the model's maxT=" +
                                std::to_string(cfg_.max_T));
  }
  std::vector<KVCache> caches;
  for (int l = 0; l < cfg_.L; l++) caches.push_back(KVCache::make(B, cfg_.NH, max_T, cfg_.head_size()));
  return caches;
}

Tensor GPT::forward_cached(const Tensor& ids_new, std::vector<KVCache>& caches) {
  NoGradGuard no_grad;
  const int64_t B = ids_new.size(0), Tn = ids_new.size(1), C = cfg_.C;
  const int64_t start = caches.at(0).length;
  std::vector<int32_t> pos(B * Tn);
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < Tn; t++) pos[b * Tn + t] = static_cast<int32_t>(start + t);
  Tensor x = add(embedding(ids_new, wte), embedding(Tensor::from_ids({B, Tn}, pos), wpe));  // (B,Tn,C)
  x = cached_blocks(x, [&](const Tensor& qkv, int64_t l) { return attention_forward_cached(qkv, cfg_.NH, caches[l]); });
  // Only the last position's logits are needed to sample the next token.
  Tensor last = Tensor::empty({B, 1, C});
  for (int64_t b = 0; b < B; b++) {
    const float* src = x.f32() + (b * Tn + Tn - 1) * C;
    std::copy(src, src + C, last.f32() + b * C);
  }
  Tensor logits = matmul(layernorm(last, lnfw, lnfb), wte, false, true);  // (B,1,Vp)
  return logits.reshape({B, cfg_.Vp});
}

Tensor GPT::cached_blocks(Tensor x, const std::function<Tensor(const Tensor& qkv, int64_t layer)>& attend) {
  auto lin = [&](const Tensor& in, const Tensor& w, const Tensor& b, int64_t l, LoRATarget t) {
    return linear_with_lora(in, w, b, l, t, /*train=*/false);
  };
  for (int64_t l = 0; l < cfg_.L; l++) {
    const GPTLayer& ly = layers[l];
    Tensor qkv = lin(layernorm(x, ly.ln1w, ly.ln1b), ly.qkvw, ly.qkvb, l, LoRATarget::qkv);  // (B,T,3C)
    Tensor a = attend(qkv, l);                                                              // (B,T,C)
    x = add(x, lin(a, ly.attprojw, ly.attprojb, l, LoRATarget::attproj));
    Tensor f = gelu(lin(layernorm(x, ly.ln2w, ly.ln2b), ly.fcw, ly.fcb, l, LoRATarget::fc));  // (B,T,4C)
    x = add(x, lin(f, ly.fcprojw, ly.fcprojb, l, LoRATarget::fcproj));
  }
  return x;
}

Tensor GPT::forward_cached_rows(const std::vector<int32_t>& ids, const std::vector<int64_t>& rows,
                                const std::vector<int64_t>& lengths, std::vector<KVCache>& caches) {
  NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(ids.size());
  if (static_cast<int64_t>(caches.size()) != cfg_.L) {
    throw std::invalid_argument("GPT::forward_cached_rows: expected " + std::to_string(cfg_.L) +
                                " caches (one per layer, make_caches), found " + std::to_string(caches.size()));
  }
  if (static_cast<int64_t>(lengths.size()) != n) {
    throw std::invalid_argument("GPT::forward_cached_rows: expected a length per token (" + std::to_string(n) +
                                "), found " + std::to_string(lengths.size()));
  }
  std::vector<int32_t> pos(n);  // each token at its own sequence's next position
  for (int64_t i = 0; i < n; i++) {
    if (lengths[i] < 0 || lengths[i] >= cfg_.max_T) {
      throw std::out_of_range("GPT::forward_cached_rows: position " + std::to_string(lengths[i]) + " of entry " +
                              std::to_string(i) + " is outside the model's context [0, maxT=" +
                              std::to_string(cfg_.max_T) + ") (slide the window first)");
    }
    pos[i] = static_cast<int32_t>(lengths[i]);
  }
  Tensor x = add(embedding(Tensor::from_ids({n, 1}, ids), wte), embedding(Tensor::from_ids({n, 1}, pos), wpe));  // (n,1,C)
  x = cached_blocks(x, [&](const Tensor& qkv, int64_t l) {
    return attention_forward_cached_rows(qkv, cfg_.NH, caches[l], rows, lengths);
  });
  Tensor logits = matmul(layernorm(x, lnfw, lnfb), wte, false, true);  // (n,1,Vp)
  return logits.reshape({n, cfg_.Vp});
}

}  // namespace sog
