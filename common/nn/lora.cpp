#include "common/nn/lora.h"

#include <array>
#include <bit>
#include <climits>
#include <cmath>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/io/atomic_file.h"
#include "common/nn/gpt.h"
#include "common/ops/matmul_kernels.h"
#include "common/tensor/random.h"

namespace sog {

// ---- targets -----------------------------------------------------------------------------------

const char* lora_target_name(LoRATarget t) {
  switch (t) {
    case LoRATarget::qkv: return "qkv";
    case LoRATarget::attproj: return "attproj";
    case LoRATarget::fc: return "fc";
    case LoRATarget::fcproj: return "fcproj";
  }
  return "?";
}

// The target Linear's (in, out) features in a model of C channels.
static std::array<int64_t, 2> target_dims(LoRATarget t, int64_t C) {
  switch (t) {
    case LoRATarget::qkv: return {C, 3 * C};
    case LoRATarget::attproj: return {C, C};
    case LoRATarget::fc: return {C, 4 * C};
    case LoRATarget::fcproj: return {4 * C, C};
  }
  return {0, 0};
}

static const std::array<LoRATarget, kLoRATargets> kAllTargets = {LoRATarget::qkv, LoRATarget::attproj,
                                                                   LoRATarget::fc, LoRATarget::fcproj};

bool LoRAConfig::targets(LoRATarget t) const {
  switch (t) {
    case LoRATarget::qkv: return qkv;
    case LoRATarget::attproj: return attproj;
    case LoRATarget::fc: return fc;
    case LoRATarget::fcproj: return fcproj;
  }
  return false;
}

LoRAConfig LoRAConfig::with_targets(LoRAConfig base, const std::string& csv) {
  base.qkv = base.attproj = base.fc = base.fcproj = false;
  size_t start = 0;
  while (true) {
    const size_t comma = csv.find(',', start);
    std::string item = csv.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::string name;
    for (char c : item)
      if (c != ' ' && c != '\t') name += c;
    if (name == "qkv") base.qkv = true;
    else if (name == "attproj") base.attproj = true;
    else if (name == "fc") base.fc = true;
    else if (name == "fcproj") base.fcproj = true;
    else if (name == "attn") base.qkv = base.attproj = true;
    else if (name == "mlp") base.fc = base.fcproj = true;
    else if (name == "all") base.qkv = base.attproj = base.fc = base.fcproj = true;
    else {
      throw std::invalid_argument("LoRA targets \"" + csv + "\": " +
                                  (name.empty() ? std::string("an empty item") : "unknown target \"" + name + "\"") +
                                  "; expected a comma-separated list of qkv, attproj, fc, fcproj, or all, attn "
                                  "(= qkv,attproj), mlp (= fc,fcproj)");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return base;
}

std::string LoRAConfig::targets_string() const {
  std::string s;
  for (LoRATarget t : kAllTargets)
    if (targets(t)) s += (s.empty() ? "" : ",") + std::string(lora_target_name(t));
  return s;
}

void LoRAConfig::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("LoRAConfig: " + what); };
  if (rank < 1) fail("rank: expected ≥ 1, found " + std::to_string(rank));
  if (!(alpha > 0.0f) || !std::isfinite(alpha)) fail("alpha: expected a finite value > 0, found " + std::to_string(alpha));
  if (!(dropout >= 0.0f && dropout < 1.0f)) fail("dropout: expected a value in [0, 1), found " + std::to_string(dropout));
  if (!qkv && !attproj && !fc && !fcproj) fail("targets: expected at least one of qkv, attproj, fc, fcproj, found none");
}

// ---- the model's shape -------------------------------------------------------------------------

void LoRA::require_model(const GPTConfig& model, const std::string& who) const {
  const std::string diff = gpt_config_mismatch(model_, model);
  if (!diff.empty()) {
    throw std::invalid_argument(who + ": the adapter was made for a model " + model_.describe() + ", the model is " +
                                model.describe() + " (" + diff + ")");
  }
}

int64_t lora_num_params(const GPTConfig& model, const LoRAConfig& cfg) {
  int64_t per_layer = 0;
  for (LoRATarget t : kAllTargets) {
    if (!cfg.targets(t)) continue;
    const auto [in, out] = target_dims(t, model.C);
    per_layer += cfg.rank * (in + out);
  }
  return per_layer * model.L;
}

// ---- the adapters ------------------------------------------------------------------------------

LoRA::LoRA(const GPTConfig& model, const LoRAConfig& cfg) : model_(model), cfg_(cfg) {
  model_.validate();
  cfg_.validate();
  const int64_t n = lora_num_params(model_, cfg_);
  params_ = Tensor::zeros({n});
  grads_ = Tensor::zeros({n});
  bind_views();
}

// Layer by layer, the enabled targets in order, each as A (rank, in) then B (out, rank).
void LoRA::bind_views() {
  adapters_.assign(static_cast<size_t>(model_.L) * kLoRATargets, LoRAAdapter{});
  present_.assign(adapters_.size(), false);
  const int64_t r = cfg_.rank;
  int64_t offset = 0;
  auto bind = [&](const Shape& shape) {
    Tensor p = params_.view(offset, shape);
    p.set_requires_grad(true);
    p.set_grad(grads_.view(offset, shape));
    offset += shape.numel();
    return p;
  };
  for (int64_t l = 0; l < model_.L; l++) {
    for (LoRATarget t : kAllTargets) {
      if (!cfg_.targets(t)) continue;
      const auto [in, out] = target_dims(t, model_.C);
      const size_t i = static_cast<size_t>(l) * kLoRATargets + static_cast<size_t>(t);
      adapters_[i].A = bind({r, in});
      adapters_[i].B = bind({out, r});
      present_[i] = true;
    }
  }
}

const LoRAAdapter* LoRA::adapter(int64_t layer, LoRATarget target) const {
  if (layer < 0 || layer >= model_.L) {
    throw std::out_of_range("LoRA::adapter: layer " + std::to_string(layer) + " outside [0, " +
                            std::to_string(model_.L) + ")");
  }
  const size_t i = static_cast<size_t>(layer) * kLoRATargets + static_cast<size_t>(target);
  return present_[i] ? &adapters_[i] : nullptr;
}

void LoRA::init(uint64_t seed) {
  Rng rng(seed);
  for (size_t i = 0; i < adapters_.size(); i++) {
    if (!present_[i]) continue;
    Tensor& A = adapters_[i].A;
    const float bound = 1.0f / std::sqrt(static_cast<float>(A.size(1)));  // 1/√in
    float* a = A.f32();
    for (int64_t k = 0; k < A.numel(); k++) a[k] = (2.0f * rng.uniform() - 1.0f) * bound;
    adapters_[i].B.zero();
  }
}

std::vector<ParamSegment> LoRA::optimizer_segments() const { return {{0, num_params(), false}}; }

// ---- the adapter file --------------------------------------------------------------------------

static int32_t target_bits(const LoRAConfig& c) {
  return (c.qkv ? 1 : 0) | (c.attproj ? 2 : 0) | (c.fc ? 4 : 0) | (c.fcproj ? 8 : 0);
}

void LoRA::save(const std::string& path) const {
  if (num_params() > INT32_MAX) {
    throw std::invalid_argument("LoRA::save " + path + ": " + std::to_string(num_params()) +
                                " parameters do not fit the header's int32 count");
  }
  BinaryHeader h(kLoRAFormat);
  h[2] = cfg_.rank;
  h[3] = target_bits(cfg_);
  h[4] = std::bit_cast<int32_t>(cfg_.alpha);
  h[5] = std::bit_cast<int32_t>(cfg_.dropout);
  h[6] = model_.L;
  h[7] = model_.NH;
  h[8] = model_.C;
  h[9] = model_.max_T;
  h[10] = model_.V;
  h[11] = model_.Vp;
  h[12] = static_cast<int32_t>(num_params());
  AtomicFile f(path);
  h.write(f);
  f.write(params_.raw_data(), params_.nbytes());
  f.commit();
}

LoRA LoRA::load(const std::string& path, const GPTConfig& expected_model) {
  BinaryReader h(path, kLoRAFormat);
  LoRAConfig cfg;
  cfg.rank = h[2];
  cfg.qkv = h[3] & 1, cfg.attproj = h[3] & 2, cfg.fc = h[3] & 4, cfg.fcproj = h[3] & 8;
  cfg.alpha = std::bit_cast<float>(h[4]);
  cfg.dropout = std::bit_cast<float>(h[5]);
  GPTConfig model = expected_model;
  model.L = h[6], model.NH = h[7], model.C = h[8], model.max_T = h[9], model.V = h[10], model.Vp = h[11];
  try {
    cfg.validate();
    if ((h[3] & ~15) != 0) throw std::invalid_argument("targets: unknown bits in " + std::to_string(h[3]));
  } catch (const std::invalid_argument& e) {
    h.fail(std::string("header describes no valid adapter: ") + e.what());
  }
  const std::string diff = gpt_config_mismatch(expected_model, model);
  if (!diff.empty()) {
    h.fail("the adapter was made for a different model: expected " + expected_model.describe() + ", found " +
           model.describe() + " (" + diff + ")");
  }
  const int64_t n = lora_num_params(model, cfg);
  if (h[12] != n) {
    h.fail("header count of parameters: expected " + std::to_string(n) + " (rank " + std::to_string(cfg.rank) +
           ", targets " + cfg.targets_string() + "), found " + std::to_string(h[12]));
  }
  h.require_size(h.header().bytes() + static_cast<uint64_t>(n) * 4,
                 std::to_string(n) + " float32 parameters (rank " + std::to_string(cfg.rank) + " on " +
                     cfg.targets_string() + ")");
  LoRA lora(model, cfg);
  h.read(lora.params_.raw_data(), lora.params_.nbytes(), "the LoRA parameter body");
  return lora;
}

// ---- merging -----------------------------------------------------------------------------------

static const Tensor& target_weight(const GPTLayer& ly, LoRATarget t) {
  switch (t) {
    case LoRATarget::qkv: return ly.qkvw;
    case LoRATarget::attproj: return ly.attprojw;
    case LoRATarget::fc: return ly.fcw;
    case LoRATarget::fcproj: return ly.fcprojw;
  }
  return ly.qkvw;
}

void LoRA::merge_into(GPT& model) const {
  require_model(model.config(), "LoRA::merge_into");
  if (model.base_bf16()) {
    throw std::invalid_argument("LoRA::merge_into: the model's matrices are kept in bf16 (freeze_base_bf16); merge "
                                "into the f32 model (load it again) so the merged weights are not rounded");
  }
  if (model.lora() == this) {
    throw std::invalid_argument("LoRA::merge_into: this adapter is attached to the model; detach it first "
                                "(attach_lora(nullptr)) or it would count twice");
  }
  NoGradGuard no_grad;
  const float s = cfg_.scale();
  for (int64_t l = 0; l < model_.L; l++) {
    for (LoRATarget t : kAllTargets) {
      const LoRAAdapter* ad = adapter(l, t);
      if (!ad) continue;
      const Tensor& W = target_weight(model.layers[l], t);  // (out, in)
      const int64_t out = ad->B.size(0), r = cfg_.rank, in = ad->A.size(1);
      Tensor delta = Tensor::empty({out, in});  // B·A
      matmul_forward(delta.f32(), ad->B.f32(), ad->A.f32(), nullptr, out, r, in, false, false, false);
      float* w = W.f32();
      const float* d = delta.f32();
      for (int64_t i = 0; i < out * in; i++) w[i] += s * d[i];
    }
  }
}

}  // namespace sog
