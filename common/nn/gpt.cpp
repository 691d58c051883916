#include "common/nn/gpt.h"

#include <cmath>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/io/checkpoint.h"
#include "common/ops/cross_entropy.h"
#include "common/ops/dropout.h"
#include "common/ops/elementwise.h"
#include "common/ops/embedding.h"
#include "common/ops/gelu.h"
#include "common/ops/layernorm.h"
#include "common/ops/matmul.h"

namespace sog {

GPT::GPT(const GPTConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  const int64_t n = gpt_num_params(cfg_);
  params_ = Tensor::zeros({n});
  grads_ = Tensor::zeros({n});
  bind_views();
}

// Every named weight becomes a leaf view into params_, with its gradient a view into grads_.
void GPT::bind_views() {
  const int64_t L = cfg_.L;
  layers.assign(L, GPTLayer{});
  int64_t offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_)) {
    auto bind = [&](int64_t off, const Shape& shape) {
      Tensor p = params_.view(off, shape);
      p.set_requires_grad(true);
      p.set_grad(grads_.view(off, shape));
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
  int64_t offset = 0;
  for (const ParamSpec& spec : gpt_param_specs(cfg_)) {
    if (spec.name == name) return params_.view(offset, spec.shape);
    offset += spec.shape.numel();
  }
  throw std::invalid_argument("GPT::param: no parameter named '" + name + "'");
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

GPT GPT::load(const std::string& path) {
  GPTConfig cfg;
  Tensor flat = load_checkpoint(path, &cfg);
  GPT model(cfg);
  model.params_.copy_from(flat);
  return model;
}

void GPT::save(const std::string& path) const { save_checkpoint(path, cfg_, params_); }

Tensor GPT::forward(const Tensor& ids, Rng* dropout_rng) {
  const int64_t B = ids.size(0), T = ids.size(1);
  if (T > cfg_.max_T) {
    throw std::invalid_argument("GPT::forward: sequence length T=" + std::to_string(T) + " exceeds the model's maxT=" +
                                std::to_string(cfg_.max_T));
  }
  const bool train = dropout_rng != nullptr && cfg_.dropout > 0.0f;
  auto drop = [&](const Tensor& t) { return train ? dropout(t, cfg_.dropout, *dropout_rng, true) : t; };
  Tensor x = drop(embed_tokens_and_positions(ids, wte, wpe));  // (B,T,C)
  for (const GPTLayer& ly : layers) {
    Tensor h = layernorm(x, ly.ln1w, ly.ln1b);                  // (B,T,C)
    Tensor qkv = linear(h, ly.qkvw, ly.qkvb);                   // (B,T,3C)
    Tensor a = attention(qkv, cfg_.NH);                         // (B,T,C)
    x = add(x, drop(linear(a, ly.attprojw, ly.attprojb)));      // (B,T,C) residual
    Tensor h2 = layernorm(x, ly.ln2w, ly.ln2b);                 // (B,T,C)
    Tensor f = gelu(linear(h2, ly.fcw, ly.fcb));                // (B,T,4C)
    x = add(x, drop(linear(f, ly.fcprojw, ly.fcprojb)));        // (B,T,C) residual
  }
  Tensor xf = layernorm(x, lnfw, lnfb);                         // (B,T,C)
  (void)B;
  return matmul(xf, wte, false, true);                          // (B,T,Vp) tied LM head
}

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
  for (int64_t l = 0; l < cfg_.L; l++) {
    const GPTLayer& ly = layers[l];
    Tensor qkv = linear(layernorm(x, ly.ln1w, ly.ln1b), ly.qkvw, ly.qkvb);                 // (B,Tn,3C)
    Tensor a = attention_forward_cached(qkv, cfg_.NH, caches[l]);                          // (B,Tn,C)
    x = add(x, linear(a, ly.attprojw, ly.attprojb));
    x = add(x, linear(gelu(linear(layernorm(x, ly.ln2w, ly.ln2b), ly.fcw, ly.fcb)), ly.fcprojw, ly.fcprojb));
  }
  // Only the last position's logits are needed to sample the next token.
  Tensor last = Tensor::empty({B, 1, C});
  for (int64_t b = 0; b < B; b++) {
    const float* src = x.f32() + (b * Tn + Tn - 1) * C;
    std::copy(src, src + C, last.f32() + b * C);
  }
  Tensor logits = matmul(layernorm(last, lnfw, lnfb), wte, false, true);  // (B,1,Vp)
  return logits.reshape({B, cfg_.Vp});
}

}  // namespace sog
