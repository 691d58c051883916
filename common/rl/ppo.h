// The arithmetic of RLHF with PPO (chapter 05), apart from any model: per-token rewards with a KL
// penalty, the KL estimators, generalised advantage estimation, whitening, the adaptive KL
// controller, the clipped policy and value losses, and the diagnostics read from them. Each piece
// is the InstructGPT / lm-human-preferences version as catalogued by Huang et al. 2024 ("The N+
// Implementation Details of RLHF with PPO"), and each is tested on a hand-worked example.
//
// One rollout is a prompt and a response r_0 … r_{n−1}. Per response token t:
//
//   logp[t]      log π(r_t | …)       the policy that sampled it (the "old" policy of the update)
//   ref_logp[t]  log π_ref(r_t | …)   the frozen SFT model
//   value[t]     V(state before r_t)  the value head
//
//   reward[t]    = −β·(logp[t] − ref_logp[t])  (+ score at t = n−1)       token_rewards
//   δ_t          = reward[t] + γ·value[t+1] − value[t]       (value[n] = 0: the episode ends)
//   advantage[t] = δ_t + γλ·advantage[t+1]                                 gae
//   return[t]    = advantage[t] + value[t]                    the value head's target
//
// The score is the reward model's (or the grader's) for the whole response, given at its last
// token; the KL penalty is paid at every token, so the policy can trade reward for staying close
// to the SFT model, token by token.
//
// Design choices (each one a detail of the paper's list, with why):
// - γ = 1, λ = 0.95: the episode is short and its only real reward is at the end; λ < 1 trades a
//   little bias for much less variance in the advantage.
// - Advantages are whitened over all response tokens of the batch (mean 0, std 1), not per row:
//   the policy's step size stops depending on the reward's scale. Rewards are NOT whitened (the KL
//   penalty's balance against the score would change).
// - The policy loss is the clipped surrogate, a masked mean over response tokens:
//     ratio = exp(logp_new − logp_old)
//     loss  = mean_t max(−A_t·ratio, −A_t·clip(ratio, 1−ε, 1+ε))
//   so a token whose ratio has already moved ε in the direction its advantage wants gets no more
//   gradient this batch; in the other direction the gradient stays (the max keeps the worse case).
// - The value loss is clipped the same way around the rollout's values (ε_v), and halved:
//     loss = ½·mean_t max((v − R)², (clip(v, v_old − ε_v, v_old + ε_v) − R)²)
// - Both losses are single ops with their own backward (as pairwise_ranking_loss in chapter 04):
//   one node on the tape each, and the diagnostics (clip fraction, ratio, approximate KL) come out
//   of the same pass.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/tensor/tensor.h"

namespace sog {

// ---- rewards and KL -------------------------------------------------------------------------------

// reward[t] = −β·(logp[t] − ref_logp[t]), plus `score` at the last token. Throws for sizes that
// differ or an empty response (a rollout always has at least its end token).
std::vector<float> token_rewards(std::span<const float> logp, std::span<const float> ref_logp, float beta,
                                 float score);

// The two estimators of KL(π‖π_ref) from tokens sampled from π (Schulman, "Approximating KL
// divergence", 2020), with log r = ref_logp − logp:
//   k1 = −log r = logp − ref_logp        unbiased, high variance, can be negative for one sample
//   k3 = (r − 1) − log r                 unbiased, never negative, lower variance near π = π_ref
// Summed over a response they estimate the sequence KL, the quantity β multiplies.
double kl_k1(float logp, float ref_logp);
double kl_k3(float logp, float ref_logp);

// lm-human-preferences' adaptive KL controller: β moves so that the measured KL tracks a target,
//   error = clip(KL / target − 1, −0.2, 0.2);   β ← β·(1 + error · n / horizon)
// where KL is the mean sequence KL of the batch and n the number of rollouts it came from.
// (InstructGPT's defaults: target 6 nats, horizon 10,000.) A target ≤ 0 keeps β fixed.
class KLController {
 public:
  KLController(double beta, double target, double horizon);
  double beta() const { return beta_; }
  void set_beta(double beta) { beta_ = beta; }  // a resumed run's β
  bool adaptive() const { return target_ > 0; }
  void update(double kl, int64_t n);

 private:
  double beta_, target_, horizon_;
};

// ---- advantages ----------------------------------------------------------------------------------

struct Advantages {
  std::vector<float> advantages, returns;
};
// GAE over one response (the recursion above, value after the last token 0). Throws for sizes that
// differ.
Advantages gae(std::span<const float> rewards, std::span<const float> values, float gamma, float lambda);

// x ← (x − mean)/(std + 1e-8) over the entries whose mask is nonzero; masked-out entries are left
// as they are. With shift_mean = false the mean is added back (lm-human-preferences whitens the
// rewards that way; the advantages are shifted). The variance is the unbiased one (n − 1), as
// torch.var. Fewer than two entries: nothing to whiten, x is unchanged (std 0). Returns the mean
// and std it used: the statistics of x before whitening (what the diagnostics report).
struct WhitenStats {
  double mean = 0, std = 0;
};
WhitenStats masked_whiten(std::span<float> x, std::span<const float> mask, bool shift_mean = true);

// ---- the two losses ------------------------------------------------------------------------------

struct PolicyLossStats {
  double clip_fraction = 0;  // tokens whose clipped term won (the gradient is zero there)
  double approx_kl = 0;      // ½·mean (logp_new − logp_old)², old → new
  double ratio_mean = 0, ratio_max = 0;
  int64_t tokens = 0;        // response tokens (mask 1)
};
// logprobs (B,T) on the tape; old_logprobs, advantages, mask (B,T) constants → the masked mean
// clipped surrogate loss (1). ∂loss/∂logp[t] = −A_t·ratio_t·mask_t / N where the unclipped term is
// the max, else 0. Throws for shapes that differ, no response token, or clip ≤ 0.
Tensor ppo_policy_loss(const Tensor& logprobs, const Tensor& old_logprobs, const Tensor& advantages,
                       const Tensor& mask, float clip, PolicyLossStats* stats = nullptr);

struct ValueLossStats {
  double clip_fraction = 0;  // tokens whose clipped term won
  double mean_value = 0;
};
// values (B,T) on the tape; old_values, returns, mask (B,T) constants → ½·masked mean of the
// clipped squared error (1). ∂loss/∂v[t] = (v_t − R_t)·mask_t / N where the unclipped term is the
// max, else 0 (the clipped value does not move with v once outside the range).
Tensor ppo_value_loss(const Tensor& values, const Tensor& old_values, const Tensor& returns, const Tensor& mask,
                      float clip, ValueLossStats* stats = nullptr);

// ---- diagnostics ---------------------------------------------------------------------------------

// 1 − Var(returns − values) / Var(returns): 1 a perfect value function, 0 no better than the
// mean, negative worse. NaN when the returns do not vary.
double explained_variance(std::span<const float> values, std::span<const float> returns);

// distinct-n: unique n-grams / all n-grams over a set of token sequences (samples of one prompt).
// Sequences shorter than n contribute none; no n-gram at all gives 0.
double distinct_ngrams(const std::vector<std::vector<int32_t>>& samples, int n);

// The KL from π to π_N, the best-of-N policy, when the reward has no ties (Stiennon et al. 2020):
// log N − (N − 1)/N nats.
double best_of_n_kl(int n);

// The run's safety rails. Throws std::runtime_error "step S: METRIC = VALUE: WHY" when a metric is
// not finite, the sequence KL's k1 estimate is negative beyond its noise (below −(3 standard errors
// + 0.01)), or a probability ratio exceeds max_ratio.
struct RailCheck {
  std::vector<std::pair<std::string, double>> finite;  // every metric that must be finite
  double kl_k1_mean = 0, kl_k1_stderr = 0;
  double ratio_max = 1;
};
void check_rails(int64_t step, const RailCheck& check, double max_ratio = 10.0);

}  // namespace sog
