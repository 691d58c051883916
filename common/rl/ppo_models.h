// The four models of RLHF with PPO, and the forward passes PPO reads from them.
//
//   policy      π_θ   the SFT model, trained (all its weights, or LoRA adapters with --lora)
//   reference   π_ref the SFT model, frozen: the KL penalty's anchor
//   reward      r     chapter 04's reward model, frozen: one score per (prompt, reply)
//   value       V_φ   a scalar per token: the return expected from that state on
//
// Where each one lives:
//
//   full fine-tuning          policy GPT ─┬─ lm_head              reference: a second, frozen GPT
//                                         └─ value head (shared)
//   --lora                    SFT GPT + adapters ── policy;  the same GPT, adapters detached ── reference
//                             (one copy of the SFT weights in memory)
//   --value separate          the reward model's backbone, copied and trained, + a head initialised
//                             from the reward model's (InstructGPT's choice: the value starts out
//                             knowing what the reward model rewards); with --lora, the reward
//                             model's own frozen backbone with a second set of adapters, detached
//                             again to score (one copy of the reward model's weights)
//   --value shared            a fresh head on the policy's final hidden states (one backbone,
//                             cheaper; the value loss then also moves the policy's weights)
//
// Every forward that PPO reads is taken in the training layout of response_logprobs.h — the prompt
// and the response in one row, position P − 1 + j predicting response token j — with the logits
// divided by the sampling temperature (lm-human-preferences and TRL: the policy PPO optimises is
// the one that sampled, so old, new and reference log-probabilities all carry the temperature).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/chat/chat_template.h"
#include "common/nn/load_model.h"
#include "common/nn/lora.h"
#include "common/nn/response_logprobs.h"
#include "common/nn/scalar_head.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

enum class ValueModel { shared, separate };
ValueModel value_model_from_name(const std::string& name);  // "shared" | "separate", else an error naming it

struct PpoModelOptions {
  std::string policy_path, reward_path, tokenizer_dir;
  ValueModel value = ValueModel::separate;
  LoRAConfig lora;      // used when use_lora
  bool use_lora = false;
  uint64_t seed = 1;    // fresh adapters and a fresh shared value head
};

class PpoModels {
 public:
  // Loads the policy (SFT), the reference, the reward model and the value model as above. For a
  // resumed run, the trained parts are then read back with load_trained(). Without a reward model
  // (reward_path empty: a rule-based reward only) the value must be shared.
  PpoModels(const PpoModelOptions& options, const Tokenizer& tok);
  // The trained parts of a run folder (resume): policy weights or adapters, value head, and the
  // separate value backbone or its adapters.
  void load_trained(const std::string& run_dir);
  // The same parts into a folder: model.bin or adapter.bin, value_head.bin, value_model.bin or
  // value_adapter.bin.
  void save_policy(const std::string& dir) const;
  void save_value(const std::string& dir) const;

  GPT& policy() { return *policy_.model; }
  ScalarHead& value_head() { return *value_head_; }
  LoRA* lora() { return lora_.get(); }
  LoRA* value_lora() { return value_lora_.get(); }
  bool shared_value() const { return options_.value == ValueModel::shared; }
  GPT& value_backbone() { return shared_value() ? *policy_.model : *value_gpt(); }
  const PpoModelOptions& options() const { return options_; }

  // The trained parameter sets, each with its own AdamW in the trainer and its own entry in the
  // training state: "policy" (the GPT's weights) or "policy_lora" (adapters) first, then
  // "value_head", then "value_model" (separate, full) or "value_lora" (separate, LoRA).
  struct ParamSet {
    std::string name;
    Tensor* params;
    Tensor* grads;
    std::vector<ParamSegment> segments;
    bool value;  // a value set (the value learning rate)
  };
  std::vector<ParamSet> trained_sets();
  void zero_grad();

  // Reward-model scores (normalised as chapter 04 recorded) of replies to prompts; no tape.
  std::vector<float> reward_scores(const std::vector<std::pair<Chat, std::string>>& items, const Tokenizer& tok);

  // Log-probabilities of the reference, (B,T), no tape.
  Tensor reference_logprobs(const ResponseBatch& batch, float temperature);
  // Values (B,T) from the value model: on the tape unless under NoGradGuard. For the shared value,
  // `policy_hidden` is the policy's hidden states of the same batch (one backbone, one forward).
  Tensor values(const ResponseBatch& batch, const Tensor& policy_hidden);

  // Bytes held by each model's weights, gradients and the trained parts' AdamW moments (2 floats
  // per trained parameter), for the memory report.
  nlohmann::json memory_report() const;

 private:
  GPT* value_gpt() const { return options_.use_lora ? reward_.model.get() : value_model_.get(); }
  PpoModelOptions options_;
  LoadedModel policy_;
  std::unique_ptr<GPT> reference_;     // null with LoRA (the policy with adapters detached)
  std::unique_ptr<LoRA> lora_;         // the policy's adapters (LoRA)
  LoadedModel reward_;                 // frozen; its own adapter (if any) merged in
  std::unique_ptr<GPT> value_model_;   // separate, full fine-tuning
  std::unique_ptr<LoRA> value_lora_;   // separate + LoRA: adapters on the reward backbone
  std::unique_ptr<ScalarHead> value_head_;
};

// The policy's forward in the training layout: hidden states, then log-probabilities and
// per-token entropies of its tempered logits. On the tape when grad mode is on.
struct PolicyForward {
  Tensor hidden;    // (B,T,C)
  Tensor logprobs;  // (B,T)
  Tensor entropy;   // (B,T), only when asked (no tape needed for it)
};
PolicyForward policy_forward(GPT& model, const ResponseBatch& batch, float temperature, bool with_entropy);

}  // namespace sog
