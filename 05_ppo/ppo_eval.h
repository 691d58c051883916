// One row of chapter 05's table: a policy's samples on held-out prompts, measured the same way for
// the SFT model, best-of-N and the PPO policies.
//
//   per prompt: `samples` responses at the temperature (with --best-of N, each one the reward
//   model's pick among N fresh samples: N × samples draws)
//
//   RM score          the reward model's normalised score, mean over all samples
//   gold accuracy     the world's grader, per task and over all (mean of each prompt's fraction
//                     correct; the 95% interval treats prompts, not samples, as independent)
//   KL to SFT         nats per response: Σ_t log π(r_t) − log π_SFT(r_t) over the samples (k1,
//                     the tempered distributions PPO trained on); for best-of-N the analytic
//                     log N − (N − 1)/N
//   entropy           the policy's per-token entropy at the sampled positions (for best-of-N, the
//                     SFT model's at the picked responses' positions)
//   distinct-2        unique token bigrams / all bigrams among the `samples` responses of a prompt,
//                     averaged over prompts (1: every sample different; RLHF models lose it)
//   length            response tokens, its closing <|end|> included
#pragma once
#include <cstdint>
#include <string>

namespace sog {

struct EvalConfig {
  std::string policy_path, sft_path, reward_path, tokenizer_dir, prompts_path, out_path;
  std::string label = "policy";
  int samples = 8;
  int best_of = 1;
  int max_per_task = 8;
  float temperature = 0.7f;
  int64_t max_new_tokens = 32;
  uint64_t seed = 4242;
};

// bin/ppo eval: prints the row; --out writes
//   {"label", "questions", "samples", "best_of", "temperature", "rm_score", "rm_score_interval",
//    "gold_accuracy", "gold_accuracy_interval", "kl", "kl_estimator", "entropy", "distinct_2",
//    "length", "closed_fraction", "per_task": {task: {"questions", "gold_accuracy", "rm_score"}}}
int run_ppo_eval(const EvalConfig& cfg);

}  // namespace sog
