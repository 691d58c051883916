// One PPO iteration: rollouts, their rewards and advantages, then several epochs of clipped
// updates on them (InstructGPT's / lm-human-preferences' loop):
//
//   prompts ──policy samples (generate_batch)──▶ responses
//     │  score: the reward model's (normalised) or the grader's 1/0 for a reply that closed its
//     │  turn with <|end|>; a fixed score (−1) for one that did not
//     │  forwards in the training layout: old log-probs and entropy (policy), reference log-probs,
//     ▼  values
//   per token: reward = −β·(logp − ref_logp), + score at the last; GAE; advantages whitened
//     │
//     ▼  ppo_epochs × (shuffled minibatches): clipped policy loss + vf_coef · clipped value loss
//        (+ ptx_coef · SFT loss), gradient clipping, AdamW
//
// The arithmetic is common/rl/ppo.h; this file holds the data flow and the diagnostics.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/rl/ppo_models.h"
#include "common/chat/conversations.h"
#include "common/optim/adamw.h"
#include "common/tensor/random.h"
#include "common/world/question_set.h"

namespace sog {

enum class RewardSource { rm, grader };
RewardSource reward_source_from_name(const std::string& name);  // "rm" | "grader"

struct PpoSettings {
  int64_t batch_size = 32;   // rollouts per iteration
  int64_t minibatch = 8;     // rollouts per optimizer step
  int64_t ppo_epochs = 4;    // passes over the rollouts
  float temperature = 0.7f;
  int64_t max_new_tokens = 32;
  RewardSource reward = RewardSource::rm;
  float no_eot_score = -1.0f;  // the score of a response that did not close its turn
  float gamma = 1.0f, lambda = 0.95f;
  float clip = 0.2f, vf_clip = 0.2f, vf_coef = 0.1f;
  float ptx_coef = 0.0f;       // PPO-ptx: + ptx_coef · the SFT loss on a batch of demonstrations
  float grad_clip = 1.0f;
  double max_ratio = 10.0;     // the safety rail on the probability ratio
};

// One rollout, its per-token arrays over the response tokens.
struct Rollout {
  int64_t question = 0;              // index into the question list
  std::vector<int32_t> prompt, response;
  std::string reply;                 // the reply's text (reply_of_completion)
  bool closed = false;               // it ended with <|end|>
  bool correct = false;              // the grader's verdict
  float rm_score = 0;                // the reward model's normalised score (logged whatever drives)
  float score = 0;                   // the score that drives training
  std::vector<float> logp, ref_logp, values, entropy, rewards, advantages, returns;
};

struct RolloutBatch {
  std::vector<Rollout> rows;
  double generate_s = 0, score_s = 0, forward_s = 0;  // sampling, scoring, the three forwards
  int64_t response_tokens = 0;
  double adv_mean = 0, adv_std = 0;  // the advantages before whitening
};

// Fills each rollout's rm_score, correct and score (the number that drives training), given its
// question, response, reply and closed.
using RolloutScorer = std::function<void(std::vector<Rollout>& rows)>;
// The world's: the grader's verdict, the reward model's normalised score (logged whatever drives),
// and the driving score — the reward model's, or the grader's 1/0 — for a reply that closed its
// turn, s.no_eot_score for one that did not. The arguments must outlive the scorer.
RolloutScorer world_scorer(PpoModels& models, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                           const PpoSettings& s);

// Samples one response to each questions[picked[i]] (its chat prompt, rollout_prompt) with a
// per-row seed from `seed`, scores them, runs the forwards, and fills rewards (with β), advantages
// (whitened over the batch) and returns. No tape.
RolloutBatch collect_rollouts(PpoModels& models, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                              const std::vector<int64_t>& picked, const RolloutScorer& scorer, const PpoSettings& s,
                              double beta, uint64_t seed);

// The chat prompt of a question, as the policy and the reward model read it.
std::vector<int32_t> rollout_prompt(const Tokenizer& tok, const QuestionRow& q);

struct UpdateStats {
  double policy_loss = 0, value_loss = 0, ptx_loss = 0;
  double clip_fraction = 0, value_clip_fraction = 0, approx_kl = 0, ratio_mean = 0, ratio_max = 0;
  double grad_norm = 0;
  int64_t optimizer_steps = 0;
};

// ppo_epochs passes of shuffled minibatches over the batch; opts[i] is the AdamW of
// models.trained_sets()[i]. Each minibatch: one backward of
//   policy loss + vf_coef · value loss (+ ptx_coef · SFT loss),
// each set's gradient clipped to grad_clip, one AdamW step per set (value sets at value_lr).
// Throws (check_rails) when a minibatch's ratio exceeds the rail, before that minibatch's step.
// `ptx` may be null.
UpdateStats ppo_update(PpoModels& models, const RolloutBatch& batch, const PpoSettings& s, std::vector<AdamW>& opts,
                       float lr, float value_lr, Rng& shuffle, int64_t step, SftBatcher* ptx);

// The rollouts' metrics for metrics.jsonl: rm_score, score, gold_accuracy, kl_k1, kl_k3 (mean
// sequence KL) and kl_k1_stderr, entropy (per token), length, closed_fraction, advantage mean/std
// before whitening, explained_variance, value_mean.
nlohmann::json rollout_metrics(const RolloutBatch& batch);

}  // namespace sog
