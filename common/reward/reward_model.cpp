#include "common/reward/reward_model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "common/autograd/tape.h"
#include "common/nn/load_model.h"
#include "common/ops/op_checks.h"

namespace sog {

namespace {

using Pairs = std::span<const std::pair<int32_t, int32_t>>;

// Every pair names two different completions of a group of K; at least one pair. `who` is the
// function, for the message.
void check_pairs(Pairs pairs, int64_t K, const char* who) {
  if (pairs.empty()) {
    throw std::invalid_argument(std::string(who) + ": pairs: expected at least one (better, worse) pair, found none "
                                "(a group whose completions all tie teaches nothing: leave it out)");
  }
  for (size_t p = 0; p < pairs.size(); p++) {
    const auto [b, w] = pairs[p];
    const std::string pair = "pair " + std::to_string(p) + " (" + std::to_string(b) + ", " + std::to_string(w) + ")";
    for (int32_t i : {b, w}) {
      if (i < 0 || i >= K) {
        throw std::invalid_argument(std::string(who) + ": " + pair + ": expected completion indices in [0, " +
                                    std::to_string(K) + "), found " + std::to_string(i) + " (the group has " +
                                    std::to_string(K) + " completions)");
      }
    }
    if (b == w) {
      throw std::invalid_argument(std::string(who) + ": " + pair +
                                  ": expected two different completions, found a completion compared with itself");
    }
  }
}

// σ(x) = 1 / (1 + e^−x) without overflow: e^−|x| is in (0, 1].
double stable_sigmoid(double x) {
  const double e = std::exp(-std::fabs(x));
  return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// softplus(x) = log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|): finite for any finite x.
double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

}  // namespace

std::vector<int32_t> reward_sequence(const Tokenizer& tok, const Chat& prompt, const std::string& completion,
                                     int64_t max_T) {
  if (max_T < 1) throw std::invalid_argument("reward_sequence: max_T: expected ≥ 1, found " + std::to_string(max_T));
  Chat chat = prompt;
  chat.push_back({ChatRole::assistant, completion});
  std::vector<int32_t> ids = render_conversation(tok, chat).ids;  // … <|assistant|> ␠reply <|end|>
  if (static_cast<int64_t>(ids.size()) > max_T) ids.erase(ids.begin(), ids.end() - max_T);  // keep the end
  return ids;
}

RewardBatch make_reward_batch(const std::vector<std::vector<int32_t>>& sequences, int32_t pad_id) {
  const int64_t N = static_cast<int64_t>(sequences.size());
  if (N == 0) throw std::invalid_argument("make_reward_batch: sequences: expected at least one, found none");
  int64_t T = 0;
  for (int64_t n = 0; n < N; n++) {
    if (sequences[n].empty()) {
      throw std::invalid_argument("make_reward_batch: sequence " + std::to_string(n) +
                                  ": expected at least one token (its reward token), found an empty sequence");
    }
    T = std::max(T, static_cast<int64_t>(sequences[n].size()));
  }
  std::vector<int32_t> ids(N * T, pad_id), positions(N);
  for (int64_t n = 0; n < N; n++) {
    std::copy(sequences[n].begin(), sequences[n].end(), ids.begin() + n * T);
    positions[n] = static_cast<int32_t>(sequences[n].size()) - 1;
  }
  return {Tensor::from_ids({N, T}, ids), Tensor::from_ids({N}, positions)};
}

Tensor reward_scores(GPT& model, const ScalarHead& head, const RewardBatch& batch, Rng* dropout_rng) {
  Tensor hidden = model.hidden(batch.ids, dropout_rng);  // (N,T,C)
  return head.at_positions(hidden, batch.positions);     // (N)
}

Tensor pairwise_ranking_loss(const Tensor& scores, Pairs pairs) {
  const char* op = "pairwise_ranking_loss";
  require_cpu_f32(scores, op, "scores");
  require_ndim(scores, 1, op, "scores (K)");
  const int64_t K = scores.size(0), P = static_cast<int64_t>(pairs.size());
  check_pairs(pairs, K, op);
  const float* s = scores.f32();
  // Per pair σ(−d), d = s_b − s_w: −∂loss/∂s_b and +∂loss/∂s_w, before the 1/P.
  std::vector<double> sigmoid_neg_d(P);
  double total = 0.0;
  for (int64_t p = 0; p < P; p++) {
    const double d = static_cast<double>(s[pairs[p].first]) - s[pairs[p].second];
    total += softplus(-d);  // −log σ(d)
    sigmoid_neg_d[p] = stable_sigmoid(-d);
  }
  Tensor out = Tensor::full({1}, static_cast<float>(total / P));  // (1)
  if (should_record({&scores})) {
    std::vector<std::pair<int32_t, int32_t>> kept(pairs.begin(), pairs.end());
    record(op, out, [scores, kept = std::move(kept), sigmoid_neg_d = std::move(sigmoid_neg_d), K](const Tensor& dout) {
      const double g = static_cast<double>(dout.f32()[0]) / static_cast<double>(kept.size());
      std::vector<double> ds(K, 0.0);  // summed in double, added once
      for (size_t p = 0; p < kept.size(); p++) {
        ds[kept[p].first] -= sigmoid_neg_d[p] * g;
        ds[kept[p].second] += sigmoid_neg_d[p] * g;
      }
      float* dscores = scores.grad_ref().f32();
      for (int64_t k = 0; k < K; k++) dscores[k] += static_cast<float>(ds[k]);
    });
  }
  return out;
}

GroupLoss group_loss(GPT& model, const ScalarHead& head, const Tokenizer& tok, const Chat& prompt,
                     const std::vector<std::string>& completions, Pairs pairs, Rng* dropout_rng) {
  const int64_t K = static_cast<int64_t>(completions.size());
  check_pairs(pairs, K, "group_loss");  // before the forward, not after it
  std::vector<std::vector<int32_t>> sequences;
  sequences.reserve(K);
  for (const std::string& c : completions) sequences.push_back(reward_sequence(tok, prompt, c, model.config().max_T));
  Tensor scores = reward_scores(model, head, make_reward_batch(sequences, tok.eot_id()), dropout_rng);  // (K)
  GroupLoss out{pairwise_ranking_loss(scores, pairs), K, static_cast<int64_t>(pairs.size())};
  out.scores.assign(scores.f32(), scores.f32() + K);
  for (const auto& s : sequences) out.tokens += static_cast<int64_t>(s.size());
  return out;
}

double pairwise_accuracy(std::span<const float> scores, Pairs pairs) {
  check_pairs(pairs, static_cast<int64_t>(scores.size()), "pairwise_accuracy");
  int64_t right = 0;
  for (const auto& [b, w] : pairs) right += scores[b] > scores[w] ? 1 : 0;
  return static_cast<double>(right) / static_cast<double>(pairs.size());
}

HeadNormalization zero_mean_normalization(std::span<const float> raw_scores) {
  if (raw_scores.empty()) {
    throw std::invalid_argument("zero_mean_normalization: raw_scores: expected at least one score, found none "
                                "(score the SFT model's samples on the training prompts first)");
  }
  double sum = 0.0;
  for (float r : raw_scores) sum += r;
  return {1.0f, static_cast<float>(-sum / static_cast<double>(raw_scores.size()))};
}

std::vector<float> score_completions(GPT& model, const ScalarHead& head, const Tokenizer& tok,
                                     const std::vector<std::pair<Chat, std::string>>& items, int64_t batch_rows,
                                     bool normalized) {
  if (batch_rows < 1) {
    throw std::invalid_argument("score_completions: batch_rows: expected ≥ 1, found " + std::to_string(batch_rows));
  }
  NoGradGuard no_grad;
  const int64_t N = static_cast<int64_t>(items.size());
  std::vector<float> out;
  out.reserve(N);
  for (int64_t start = 0; start < N; start += batch_rows) {
    const int64_t end = std::min(N, start + batch_rows);
    std::vector<std::vector<int32_t>> sequences;
    for (int64_t i = start; i < end; i++) {
      sequences.push_back(reward_sequence(tok, items[i].first, items[i].second, model.config().max_T));
    }
    Tensor raw = reward_scores(model, head, make_reward_batch(sequences, tok.eot_id()));  // (rows)
    const Tensor scores = normalized ? head.normalized(raw) : raw;
    const std::vector<float> v = scores.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

int64_t best_of_first(std::span<const float> rewards, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n && i < static_cast<int64_t>(rewards.size()); i++)
    if (rewards[i] > rewards[best]) best = i;
  return best;
}

LoadedModel load_reward_model(const std::string& path, const Tokenizer& tok, const std::string& tokenizer_dir,
                              bool base_trainable) {
  LoadedModel rm = load_model(path, "", tok, tokenizer_dir);
  if (!rm.head) throw std::runtime_error(path + " has no scalar head: give a reward model folder (bin/reward train)");
  if (!base_trainable) rm.model->set_base_trainable(false);
  return rm;
}

}  // namespace sog
