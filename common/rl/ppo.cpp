#include "common/rl/ppo.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

static void require_sizes(size_t a, size_t b, const char* what) {
  if (a != b) {
    throw std::invalid_argument(std::string(what) + ": sizes differ (" + std::to_string(a) + " and " +
                                std::to_string(b) + ")");
  }
}

std::vector<float> token_rewards(std::span<const float> logp, std::span<const float> ref_logp, float beta,
                                 float score) {
  require_sizes(logp.size(), ref_logp.size(), "token_rewards: logp and ref_logp");
  if (logp.empty()) throw std::invalid_argument("token_rewards: an empty response has no token to reward");
  std::vector<float> r(logp.size());
  for (size_t t = 0; t < logp.size(); t++) r[t] = -beta * (logp[t] - ref_logp[t]);
  r.back() += score;
  return r;
}

double kl_k1(float logp, float ref_logp) { return static_cast<double>(logp) - ref_logp; }

double kl_k3(float logp, float ref_logp) {
  const double log_r = static_cast<double>(ref_logp) - logp;
  return std::expm1(log_r) - log_r;  // (r − 1) − log r, exact near r = 1
}

KLController::KLController(double beta, double target, double horizon)
    : beta_(beta), target_(target), horizon_(horizon) {
  if (!(beta >= 0) || !std::isfinite(beta)) throw std::invalid_argument("KLController: beta must be ≥ 0 and finite");
  if (target > 0 && !(horizon > 0)) throw std::invalid_argument("KLController: the horizon must be > 0");
}

void KLController::update(double kl, int64_t n) {
  if (!adaptive()) return;
  const double error = std::clamp(kl / target_ - 1.0, -0.2, 0.2);
  beta_ *= 1.0 + error * static_cast<double>(n) / horizon_;
}

Advantages gae(std::span<const float> rewards, std::span<const float> values, float gamma, float lambda) {
  require_sizes(rewards.size(), values.size(), "gae: rewards and values");
  const size_t n = rewards.size();
  Advantages out{std::vector<float>(n), std::vector<float>(n)};
  double next_value = 0.0, next_adv = 0.0;
  for (size_t i = n; i-- > 0;) {
    const double delta = rewards[i] + gamma * next_value - values[i];
    next_adv = delta + static_cast<double>(gamma) * lambda * next_adv;
    next_value = values[i];
    out.advantages[i] = static_cast<float>(next_adv);
    out.returns[i] = static_cast<float>(next_adv + values[i]);
  }
  return out;
}

WhitenStats masked_whiten(std::span<float> x, std::span<const float> mask, bool shift_mean) {
  require_sizes(x.size(), mask.size(), "masked_whiten: x and mask");
  double n = 0, sum = 0;
  for (size_t i = 0; i < x.size(); i++)
    if (mask[i] != 0) n += 1, sum += x[i];
  const double mean = n > 0 ? sum / n : 0.0;
  if (n < 2) return {mean, 0.0};
  double sq = 0;
  for (size_t i = 0; i < x.size(); i++)
    if (mask[i] != 0) sq += (x[i] - mean) * (x[i] - mean);
  const double sd = std::sqrt(sq / (n - 1));
  const double inv_std = 1.0 / (sd + 1e-8);
  for (size_t i = 0; i < x.size(); i++) {
    if (mask[i] == 0) continue;
    double w = (x[i] - mean) * inv_std;
    if (!shift_mean) w += mean;
    x[i] = static_cast<float>(w);
  }
  return {mean, sd};
}

// The three constants of a loss must have the shape of the input on the tape.
static int64_t check_loss_inputs(const Tensor& x, const Tensor& a, const Tensor& b, const Tensor& mask,
                                 float clip, const char* op) {
  require_cpu_f32(x, op, "input");
  require_cpu_f32(a, op, "old");
  require_cpu_f32(b, op, "target");
  require_cpu_f32(mask, op, "mask");
  require_same_shape(x, a, op);
  require_same_shape(x, b, op);
  require_same_shape(x, mask, op);
  if (!(clip > 0)) throw std::invalid_argument(std::string(op) + ": clip must be > 0");
  int64_t n = 0;
  const float* m = mask.f32();
  for (int64_t i = 0; i < x.numel(); i++) n += m[i] != 0;
  if (n == 0) throw std::invalid_argument(std::string(op) + ": the mask selects no response token");
  return n;
}

Tensor ppo_policy_loss(const Tensor& logprobs, const Tensor& old_logprobs, const Tensor& advantages,
                       const Tensor& mask, float clip, PolicyLossStats* stats) {
  const char* op = "ppo_policy_loss";
  const int64_t N = check_loss_inputs(logprobs, old_logprobs, advantages, mask, clip, op);
  const int64_t total = logprobs.numel();
  const float *lp = logprobs.f32(), *old = old_logprobs.f32(), *adv = advantages.f32(), *m = mask.f32();
  // Per token: the gradient of its term with respect to logp (before mask/N), 0 where clipped.
  std::vector<float> dterm(total, 0.0f);
  double loss = 0, clipped = 0, approx_kl = 0, ratio_sum = 0, ratio_max = 0;
  for (int64_t i = 0; i < total; i++) {
    if (m[i] == 0) continue;
    const double log_ratio = static_cast<double>(lp[i]) - old[i];
    const double ratio = std::exp(log_ratio);
    const double unclipped = -adv[i] * ratio;
    const double clipped_term = -adv[i] * std::clamp(ratio, 1.0 - clip, 1.0 + clip);
    if (unclipped >= clipped_term) {
      loss += unclipped;
      dterm[i] = static_cast<float>(-adv[i] * ratio);  // d(−A·e^{logp−old})/dlogp
    } else {
      loss += clipped_term;
      clipped += 1;
    }
    approx_kl += 0.5 * log_ratio * log_ratio;
    ratio_sum += ratio;
    ratio_max = std::max(ratio_max, ratio);
  }
  if (stats) *stats = {clipped / N, approx_kl / N, ratio_sum / N, ratio_max, N};
  Tensor out = Tensor::full({1}, static_cast<float>(loss / N));
  if (should_record({&logprobs})) {
    record(op, out, [logprobs, dterm = std::move(dterm), N](const Tensor& dout) {
      const float g = dout.f32()[0] / static_cast<float>(N);
      float* d = logprobs.grad_ref().f32();
      for (size_t i = 0; i < dterm.size(); i++) d[i] += dterm[i] * g;
    });
  }
  return out;
}

Tensor ppo_value_loss(const Tensor& values, const Tensor& old_values, const Tensor& returns, const Tensor& mask,
                      float clip, ValueLossStats* stats) {
  const char* op = "ppo_value_loss";
  const int64_t N = check_loss_inputs(values, old_values, returns, mask, clip, op);
  const int64_t total = values.numel();
  const float *v = values.f32(), *old = old_values.f32(), *ret = returns.f32(), *m = mask.f32();
  std::vector<float> dterm(total, 0.0f);
  double loss = 0, clipped = 0, value_sum = 0;
  for (int64_t i = 0; i < total; i++) {
    if (m[i] == 0) continue;
    const double vc = std::clamp(static_cast<double>(v[i]), static_cast<double>(old[i]) - clip,
                                 static_cast<double>(old[i]) + clip);
    const double e = static_cast<double>(v[i]) - ret[i], ec = vc - ret[i];
    if (e * e >= ec * ec) {
      loss += 0.5 * e * e;
      dterm[i] = static_cast<float>(e);
    } else {
      loss += 0.5 * ec * ec;
      clipped += 1;
    }
    value_sum += v[i];
  }
  if (stats) *stats = {clipped / N, value_sum / N};
  Tensor out = Tensor::full({1}, static_cast<float>(loss / N));
  if (should_record({&values})) {
    record(op, out, [values, dterm = std::move(dterm), N](const Tensor& dout) {
      const float g = dout.f32()[0] / static_cast<float>(N);
      float* d = values.grad_ref().f32();
      for (size_t i = 0; i < dterm.size(); i++) d[i] += dterm[i] * g;
    });
  }
  return out;
}

double explained_variance(std::span<const float> values, std::span<const float> returns) {
  require_sizes(values.size(), returns.size(), "explained_variance: values and returns");
  const size_t n = returns.size();
  if (n < 2) return std::nan("");
  auto variance = [n](auto at) {
    double mean = 0, sq = 0;
    for (size_t i = 0; i < n; i++) mean += at(i);
    mean /= static_cast<double>(n);
    for (size_t i = 0; i < n; i++) sq += (at(i) - mean) * (at(i) - mean);
    return sq / static_cast<double>(n - 1);
  };
  const double var_r = variance([&](size_t i) { return static_cast<double>(returns[i]); });
  if (var_r == 0) return std::nan("");
  const double var_e = variance([&](size_t i) { return static_cast<double>(returns[i]) - values[i]; });
  return 1.0 - var_e / var_r;
}

double distinct_ngrams(const std::vector<std::vector<int32_t>>& samples, int n) {
  if (n < 1) throw std::invalid_argument("distinct_ngrams: n must be ≥ 1");
  std::set<std::vector<int32_t>> unique;
  int64_t all = 0;
  for (const auto& s : samples) {
    for (size_t i = 0; i + n <= s.size(); i++) {
      unique.insert(std::vector<int32_t>(s.begin() + static_cast<int64_t>(i), s.begin() + static_cast<int64_t>(i) + n));
      all++;
    }
  }
  return all ? static_cast<double>(unique.size()) / static_cast<double>(all) : 0.0;
}

double best_of_n_kl(int n) {
  if (n < 1) throw std::invalid_argument("best_of_n_kl: n must be ≥ 1");
  return std::log(static_cast<double>(n)) - static_cast<double>(n - 1) / n;
}

static std::string rail(int64_t step, const std::string& metric, double value, const std::string& why) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", value);
  return "step " + std::to_string(step) + ": " + metric + " = " + buf + ": " + why;
}

void check_rails(int64_t step, const RailCheck& check, double max_ratio) {
  for (const auto& [name, value] : check.finite) {
    if (!std::isfinite(value)) throw std::runtime_error(rail(step, name, value, "not finite; the run stops"));
  }
  const double floor = -(3.0 * check.kl_k1_stderr + 0.01);
  if (check.kl_k1_mean < floor) {
    throw std::runtime_error(rail(step, "kl_k1", check.kl_k1_mean,
                                  "the KL to the reference is negative beyond its noise (floor " +
                                      std::to_string(floor) + "): the log-probabilities disagree with the sampler"));
  }
  if (check.ratio_max > max_ratio) {
    throw std::runtime_error(rail(step, "ratio_max", check.ratio_max,
                                  "a probability ratio above " + std::to_string(max_ratio) +
                                      ": the policy moved too far in one update (lower the learning rate)"));
  }
}

}  // namespace sog
