#include "common/eval/reflection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "common/eval/techniques.h"

namespace sog {

using json = nlohmann::json;

Kept kept_attempt(const std::vector<Attempt>& attempts, int tries) {
  if (tries < 1 || attempts.size() < static_cast<size_t>(tries))
    throw std::invalid_argument("kept_attempt: " + std::to_string(tries) + " tries of " +
                                std::to_string(attempts.size()) + " attempts");
  size_t best = 0;
  for (int t = 0; t < tries; t++) {
    if (attempts[t].p_yes >= kAcceptAbove) return {static_cast<size_t>(t), t + 1};
    if (attempts[t].p_yes > attempts[best].p_yes) best = t;
  }
  return {best, tries};
}

double yes_probability(double logp_yes, double logp_no) { return 1.0 / (1.0 + std::exp(logp_no - logp_yes)); }

double roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  if (scores.size() != positive.size()) throw std::invalid_argument("roc_auc: scores and labels differ in size");
  // Ranks of the scores (ties share their mean rank); AUC = (rank sum of positives − P(P+1)/2) / (P·N).
  std::vector<size_t> order(scores.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0, pos = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) j++;
    const double mean_rank = (i + 1 + j) / 2.0;  // ranks i+1 … j
    for (size_t k = i; k < j; k++)
      if (positive[order[k]]) rank_sum += mean_rank, pos++;
    i = j;
  }
  const double neg = static_cast<double>(scores.size()) - pos;
  if (pos == 0 || neg == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

// Agreement and AUC of a set of attempts.
static json agreement_of(const std::vector<const Attempt*>& attempts) {
  std::vector<double> scores;
  std::vector<bool> right;
  int agree = 0;
  for (const Attempt* a : attempts) {
    scores.push_back(a->p_yes), right.push_back(a->correct);
    agree += (a->p_yes >= kAcceptAbove) == a->correct;
  }
  const double auc = roc_auc(scores, right);
  return {{"n", attempts.size()}, {"agreement", attempts.empty() ? 0.0 : double(agree) / attempts.size()},
          {"auc", std::isnan(auc) ? json(nullptr) : json(auc)}};
}

json check_quality(const std::vector<QuestionAttempts>& questions) {
  std::vector<const Attempt*> all;
  std::map<std::string, std::vector<const Attempt*>> by_task;
  int yes = 0, right = 0, accepted_right = 0, wrong = 0, rejected_wrong = 0;
  for (const QuestionAttempts& q : questions)
    for (const Attempt& a : q.tries) {
      all.push_back(&a), by_task[q.task].push_back(&a);
      const bool accepted = a.p_yes >= kAcceptAbove;
      yes += accepted, right += a.correct, wrong += !a.correct;
      accepted_right += accepted && a.correct, rejected_wrong += !accepted && !a.correct;
    }
  json out = agreement_of(all);
  const double n = static_cast<double>(all.size());
  out["yes_rate"] = n ? yes / n : 0.0;
  out["right_rate"] = n ? right / n : 0.0;
  out["accepted_right"] = yes ? double(accepted_right) / yes : 0.0;
  out["rejected_wrong"] = wrong ? double(rejected_wrong) / wrong : 0.0;
  out["per_task"] = json::object();
  for (const auto& [task, attempts] : by_task) out["per_task"][task] = agreement_of(attempts);
  return out;
}

json retry_curve(const std::vector<QuestionAttempts>& questions, int max_tries) {
  if (max_tries < 1) throw std::invalid_argument("retry_curve: max_tries must be ≥ 1");
  json curve = json::array();
  for (int r = 1; r <= max_tries; r++) {
    AccuracyTally checked, oracle;
    int64_t tokens = 0, oracle_tokens = 0, made = 0;
    for (const QuestionAttempts& q : questions) {
      const Kept k = kept_attempt(q.tries, r);
      checked.add(q.task, q.tries[k.index].correct);
      made += k.made;
      for (int t = 0; t < k.made; t++) tokens += q.tries[t].tokens + 1;  // the attempt and its verdict
      bool any = false;
      for (int t = 0; t < r && !any; t++) oracle_tokens += q.tries[t].tokens, any = q.tries[t].correct;
      oracle.add(q.task, any);
    }
    const double n = questions.empty() ? 1.0 : static_cast<double>(questions.size());
    json point = checked.json();
    point["tries"] = r;
    point["tokens_per_question"] = tokens / n;
    point["tries_per_question"] = made / n;
    point["oracle_accuracy"] = oracle.json()["accuracy"];
    point["oracle_tokens_per_question"] = oracle_tokens / n;
    curve.push_back(point);
  }
  return curve;
}

}  // namespace sog
