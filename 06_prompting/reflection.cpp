#include "06_prompting/reflection.h"

#include <map>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/chat/chat_template.h"
#include "common/eval/generate_answers.h"
#include "common/eval/reflection.h"
#include "common/eval/techniques.h"
#include "common/io/progress.h"
#include "common/nn/response_logprobs.h"

namespace sog {

using json = nlohmann::json;

// log p(reply | prompt) for every (prompt, reply) pair, in batches of `batch` rows.
static std::vector<double> reply_logprobs(GPT& model, const std::vector<std::vector<int32_t>>& prompts,
                                          const std::vector<std::vector<int32_t>>& replies, size_t batch = 64) {
  std::vector<double> out;
  for (size_t begin = 0; begin < prompts.size(); begin += batch) {
    const size_t end = std::min(prompts.size(), begin + batch);
    const std::vector<std::vector<int32_t>> p(prompts.begin() + begin, prompts.begin() + end);
    const std::vector<std::vector<int32_t>> r(replies.begin() + begin, replies.begin() + end);
    const ResponseLogprobs lp = response_logprobs(model, p, r);
    for (size_t b = 0; b < p.size(); b++) {
      double sum = 0;
      for (float v : response_values(lp.logprobs, b, p[b].size(), r[b].size())) sum += v;
      out.push_back(sum);
    }
  }
  return out;
}

json evaluate_reflection(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                         const ReflectionEvalOptions& o) {
  if (o.tries < 1) throw std::invalid_argument("--tries must be ≥ 1");
  if (o.repeats < 1) throw std::invalid_argument("--repeats must be ≥ 1");
  NoGradGuard no_grad;
  const double t0 = steady_seconds();

  // 1. The attempts: `tries` samples of each question (the self-consistency spec without its vote).
  TechniqueOptions to;
  to.technique = Technique::self_consistency;
  to.samples = o.tries, to.temperature = o.temperature, to.cot = o.cot, to.seed = o.seed;
  to.max_new_tokens = o.max_new_tokens;
  const EvalSpec spec = technique_spec(to, model.config().max_T);
  std::map<uint64_t, int64_t> tokens_of_seed;  // each request's seed is unique (sample_seed)
  const AnswerGenerator inner = model_answer_generator(model, tok);
  const AnswerGenerator counted = [&](const std::vector<AnswerRequest>& requests, const AnswerSettings& settings) {
    std::vector<Answer> answers = inner(requests, settings);
    for (size_t i = 0; i < answers.size(); i++) tokens_of_seed[requests[i].seed] = static_cast<int64_t>(answers[i].ids.size());
    return answers;
  };
  std::vector<QuestionRow> asked;
  for (int r = 0; r < o.repeats; r++) asked.insert(asked.end(), questions.begin(), questions.end());
  const EvalReport report = run_evaluation(asked, ShotPool(questions), tok, spec, counted);

  // 2. The checks: the question and the attempt's answer shown back; P(yes) from the two replies.
  const std::vector<int32_t> yes = tok.encode(std::string(kTextLead) + std::string(kCheckYes));
  const std::vector<int32_t> no = tok.encode(std::string(kTextLead) + std::string(kCheckNo));
  std::vector<std::vector<int32_t>> prompts, replies;
  for (const QuestionResult& q : report.questions)
    for (const SampleResult& s : q.samples) {
      const Chat chat = {{ChatRole::user, self_check_prompt(q.question.prompt, s.extracted.value_or(""))}};
      const std::vector<int32_t> prompt = render_for_completion(tok, chat);
      prompts.push_back(prompt), replies.push_back(yes);
      prompts.push_back(prompt), replies.push_back(no);
    }
  const std::vector<double> logp = reply_logprobs(model, prompts, replies);

  std::vector<QuestionAttempts> attempts;
  json examples = json::array();
  size_t k = 0;
  for (const QuestionResult& q : report.questions) {
    QuestionAttempts qa{q.question.task, {}};
    for (size_t s = 0; s < q.samples.size(); s++, k += 2) {
      const Attempt a{q.samples[s].correct, yes_probability(logp[k], logp[k + 1]),
                      tokens_of_seed.at(sample_seed(spec.seed, q.row, s))};
      qa.tries.push_back(a);
      if (examples.size() < 8 && s == 0 && (examples.size() % 2 == 0) != a.correct)  // wrong and right in turn
        examples.push_back({{"prompt", q.question.prompt}, {"answer", q.samples[s].extracted.value_or("")},
                            {"correct", a.correct}, {"p_yes", a.p_yes}});
    }
    attempts.push_back(std::move(qa));
  }

  const json curve = retry_curve(attempts, o.tries);
  json row = curve.back();
  row.erase("tries");
  row["technique"] = "reflect";
  row["first_attempt"] = curve.front()["accuracy"];
  row["tries"] = curve;
  row["check"] = check_quality(attempts);
  row["examples"] = examples;
  row["wall_time_s"] = steady_seconds() - t0;
  row["settings"] = {{"tries", o.tries}, {"temperature", o.temperature}, {"chain_of_thought", o.cot},
                     {"repeats", o.repeats}, {"max_new_tokens", spec.max_new_tokens}, {"seed", o.seed},
                     {"accept_above", kAcceptAbove}};
  return row;
}

}  // namespace sog
