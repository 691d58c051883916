#include "common/rl/ppo_models.h"

#include <filesystem>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/ops/cross_entropy.h"
#include "common/ops/elementwise.h"
#include "common/reward/reward_model.h"

namespace sog {

namespace fs = std::filesystem;
using json = nlohmann::json;

ValueModel value_model_from_name(const std::string& name) {
  if (name == "shared") return ValueModel::shared;
  if (name == "separate") return ValueModel::separate;
  throw std::invalid_argument("--value: expected shared or separate, found '" + name + "'");
}

// A model whose own adapter (a LoRA SFT or reward model) is merged into its weights: PPO's adapters
// then sit on one plain base.
static LoadedModel load_merged(const std::string& path, const Tokenizer& tok, const std::string& tok_dir,
                               bool needs_head) {
  LoadedModel m = needs_head ? load_reward_model(path, tok, tok_dir) : load_model(path, "", tok, tok_dir);
  merge_lora(m);
  return m;
}

PpoModels::PpoModels(const PpoModelOptions& o, const Tokenizer& tok) : options_(o) {
  policy_ = load_merged(o.policy_path, tok, o.tokenizer_dir, false);
  const GPTConfig& m = policy_.model->config();
  if (!o.reward_path.empty()) {
    reward_ = load_merged(o.reward_path, tok, o.tokenizer_dir, true);
    reward_.model->set_base_trainable(false);
  } else if (o.value == ValueModel::separate) {
    throw std::invalid_argument("a separate value model starts from the reward model: give one, or use --value shared");
  }
  if (o.use_lora) {
    policy_.model->set_base_trainable(false);
    lora_ = std::make_unique<LoRA>(m, o.lora);
    lora_->init(o.seed);
    policy_.model->attach_lora(lora_.get());
  } else {
    reference_ = std::make_unique<GPT>(policy_.model->config(), /*base_trainable=*/false);
    reference_->params().copy_from(policy_.model->params());
  }
  const int64_t C = shared_value() ? m.C : reward_.model->config().C;  // a separate value has a reward model
  value_head_ = std::make_unique<ScalarHead>(C);
  if (shared_value()) {
    value_head_->init(o.seed ^ 0x7A1Eull);
  } else {
    // The reward model's head, its normalisation folded into the weights: V starts as the reward
    // model's (normalised) opinion of the prefix.
    const ScalarHead& rh = *reward_.head;
    const float g = rh.norm.gain;
    for (int64_t c = 0; c < C; c++) value_head_->params().f32()[c] = g * rh.params().f32()[c];
    value_head_->params().f32()[C] = g * rh.params().f32()[C] + rh.norm.bias;
    if (o.use_lora) {
      value_lora_ = std::make_unique<LoRA>(reward_.model->config(), o.lora);
      value_lora_->init(o.seed ^ 0x5EEDull);
    } else {
      LoadedModel copy = load_merged(o.reward_path, tok, o.tokenizer_dir, true);
      value_model_ = std::move(copy.model);
    }
  }
}

void PpoModels::load_trained(const std::string& dir) {
  const GPTConfig& m = policy_.model->config();
  if (lora_) {
    lora_->params().copy_from(LoRA::load(dir + "/adapter.bin", m).params());
  } else {
    policy_.model->params().copy_from(GPT::load(dir + "/model.bin", false).params());
  }
  value_head_->params().copy_from(ScalarHead::load(dir + "/value_head.bin", value_head_->C()).params());
  if (value_lora_) value_lora_->params().copy_from(LoRA::load(dir + "/value_adapter.bin", reward_.model->config()).params());
  if (value_model_) value_model_->params().copy_from(GPT::load(dir + "/value_model.bin", false).params());
}

void PpoModels::save_policy(const std::string& dir) const {
  lora_ ? lora_->save(dir + "/adapter.bin") : policy_.model->save(dir + "/model.bin");
}

void PpoModels::save_value(const std::string& dir) const {
  value_head_->save(dir + "/value_head.bin");
  if (value_lora_) value_lora_->save(dir + "/value_adapter.bin");
  if (value_model_) value_model_->save(dir + "/value_model.bin");
}

std::vector<PpoModels::ParamSet> PpoModels::trained_sets() {
  std::vector<ParamSet> sets;
  if (lora_) {
    sets.push_back({"policy_lora", &lora_->params(), &lora_->grads(), lora_->optimizer_segments(), false});
  } else {
    GPT& p = *policy_.model;
    sets.push_back({"policy", &p.params(), &p.grads(), p.optimizer_segments(), false});
  }
  ScalarHead& h = *value_head_;
  sets.push_back({"value_head", &h.params(), &h.grads(), h.optimizer_segments(), true});
  if (value_model_) {
    GPT& v = *value_model_;
    sets.push_back({"value_model", &v.params(), &v.grads(), v.optimizer_segments(), true});
  }
  if (value_lora_) {
    sets.push_back({"value_lora", &value_lora_->params(), &value_lora_->grads(), value_lora_->optimizer_segments(), true});
  }
  return sets;
}

void PpoModels::zero_grad() {
  lora_ ? lora_->zero_grad() : policy_.model->zero_grad();
  value_head_->zero_grad();
  if (value_lora_) value_lora_->zero_grad();
  if (value_model_) value_model_->zero_grad();
}

std::vector<float> PpoModels::reward_scores(const std::vector<std::pair<Chat, std::string>>& items,
                                            const Tokenizer& tok) {
  if (!reward_.model) throw std::logic_error("PpoModels::reward_scores: no reward model was loaded");
  reward_.model->attach_lora(nullptr);  // the value's adapters (LoRA) are not the reward model's
  return score_completions(*reward_.model, *reward_.head, tok, items, 64, /*normalized=*/true);
}

PolicyForward policy_forward(GPT& model, const ResponseBatch& batch, float temperature, bool with_entropy) {
  const int64_t V = model.config().V;
  PolicyForward out;
  out.hidden = model.hidden(batch.ids);  // (B,T,C)
  Tensor logits = model.lm_head(out.hidden);  // (B,T,Vp)
  if (temperature != 1.0f) logits = scale(logits, 1.0f / temperature);
  out.logprobs = gather_logprobs(logits, batch.targets, V);  // (B,T)
  if (with_entropy) {
    NoGradGuard no_grad;
    out.entropy = entropy(logits, V);
  }
  return out;
}

Tensor PpoModels::reference_logprobs(const ResponseBatch& batch, float temperature) {
  NoGradGuard no_grad;
  if (!lora_) return policy_forward(*reference_, batch, temperature, false).logprobs;
  policy_.model->attach_lora(nullptr);  // the SFT model: the same weights without the adapters
  Tensor lp = policy_forward(*policy_.model, batch, temperature, false).logprobs;
  policy_.model->attach_lora(lora_.get());
  return lp;
}

Tensor PpoModels::values(const ResponseBatch& batch, const Tensor& policy_hidden) {
  if (shared_value()) return value_head_->at_every_position(policy_hidden);
  GPT& backbone = *value_gpt();
  if (value_lora_) backbone.attach_lora(value_lora_.get());
  return value_head_->at_every_position(backbone.hidden(batch.ids));  // (B,T)
}

json PpoModels::memory_report() const {
  const auto mb = [](double bytes) { return bytes / (1024.0 * 1024.0); };
  const GPT& p = *policy_.model;
  json r;
  r["policy_weights_mb"] = mb(static_cast<double>(p.parameter_bytes()));
  r["reference_weights_mb"] = reference_ ? mb(static_cast<double>(reference_->parameter_bytes())) : 0.0;
  r["reward_weights_mb"] = reward_.model ? mb(static_cast<double>(reward_.model->parameter_bytes())) : 0.0;
  r["value_weights_mb"] =
      mb(static_cast<double>((value_model_ ? value_model_->parameter_bytes() : 0) + 4 * value_head_->num_params()));
  int64_t trained = lora_ ? lora_->num_params() : p.num_params();
  trained += value_head_->num_params();
  if (value_lora_) trained += value_lora_->num_params();
  if (value_model_) trained += value_model_->num_params();
  r["trained_parameters"] = trained;
  r["gradients_mb"] = mb(4.0 * static_cast<double>(trained));
  r["adamw_moments_mb"] = mb(8.0 * static_cast<double>(trained));
  r["total_mb"] = r["policy_weights_mb"].get<double>() + r["reference_weights_mb"].get<double>() +
                  r["reward_weights_mb"].get<double>() + r["value_weights_mb"].get<double>() +
                  r["gradients_mb"].get<double>() + r["adamw_moments_mb"].get<double>() +
                  (lora_ ? mb(4.0 * static_cast<double>(lora_->num_params())) : 0.0) +
                  (value_lora_ ? mb(4.0 * static_cast<double>(value_lora_->num_params())) : 0.0);
  return r;
}

}  // namespace sog
