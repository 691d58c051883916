#include "common/eval/evaluator.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "common/eval/eval_report.h"
#include "common/tensor/random.h"
#include "common/world/grader.h"

namespace sog {

void validate(const EvalSpec& spec) {
  validate(spec.prompt);
  if (spec.samples < 1) throw std::invalid_argument("--samples " + std::to_string(spec.samples) + ": expected 1 or more");
  if (spec.samples > 1 && spec.sampling.temperature <= 0.0f) {
    throw std::invalid_argument("--samples " + std::to_string(spec.samples) +
                                " with --temperature 0: every sample would be the same greedy answer; "
                                "give a temperature > 0 (e.g. 0.8)");
  }
  if (spec.max_new_tokens < 1) {
    throw std::invalid_argument("--max-new-tokens " + std::to_string(spec.max_new_tokens) + ": expected 1 or more");
  }
  if (spec.context_length <= spec.max_new_tokens) {
    throw std::invalid_argument("--max-new-tokens " + std::to_string(spec.max_new_tokens) +
                                " leaves no room for the prompt in the model's context of " +
                                std::to_string(spec.context_length) + " tokens");
  }
}

uint64_t sample_seed(uint64_t seed, uint64_t row, uint64_t sample) {
  return splitmix64(splitmix64(splitmix64(seed) ^ row) ^ sample);
}

namespace {

// Adds one graded question to a row of the table.
void count(TaskResult& t, const QuestionResult& q) {
  t.total += 1;
  t.correct += q.samples.front().correct;
  t.well_formed += q.samples.front().well_formed;
  t.vote_correct += q.vote_correct;
}

// The questions asked (at most max_per_task per task, in file order) with their prompts: the
// examples are drawn here, question after question, from one Rng(seed).
std::vector<QuestionResult> pose_questions(const std::vector<QuestionRow>& questions, const ShotPool& pool,
                                           const Tokenizer& tok, const EvalSpec& spec,
                                           std::vector<std::vector<int32_t>>& prompts) {
  Rng rng(spec.seed);
  std::map<std::string, int> asked;
  std::vector<QuestionResult> out;
  const size_t room = static_cast<size_t>(spec.context_length - spec.max_new_tokens);
  const int shots = shots_in_prompt(spec.prompt);
  for (size_t row = 0; row < questions.size(); row++) {
    const QuestionRow& q = questions[row];
    if (spec.max_per_task > 0 && asked[q.task] >= spec.max_per_task) continue;
    asked[q.task]++;
    const SolvedExamples examples = shots > 0 ? pool.draw(q, shots, rng) : SolvedExamples{};
    EvalPrompt prompt = build_prompt(tok, spec.prompt, examples, q.prompt);
    const size_t prompt_tokens = prompt.ids.size();
    if (prompt.ids.size() > room) prompt.ids.erase(prompt.ids.begin(), prompt.ids.end() - room);  // the oldest go
    out.push_back({q, row, std::move(prompt.page), prompt_tokens, {}, std::nullopt, false});
    prompts.push_back(std::move(prompt.ids));
  }
  return out;
}

}  // namespace

bool answer_right(const QuestionRow& q, const std::optional<std::string>& answer) {
  if (!answer) return false;
  if (q.task == task_name(TaskKind::avoid)) return answer_matches(task_of(q), *answer);
  return *answer == q.answer;
}

EvalReport run_evaluation(const std::vector<QuestionRow>& questions, const ShotPool& pool, const Tokenizer& tok,
                          const EvalSpec& spec, const AnswerGenerator& generate,
                          const std::map<std::string, double>& chance) {
  validate(spec);
  EvalReport report;
  report.spec = spec;
  std::vector<std::vector<int32_t>> prompts;
  report.questions = pose_questions(questions, pool, tok, spec, prompts);

  const ReplyRules rules = reply_rules(tok, spec.prompt, spec.max_new_tokens);
  AnswerSettings settings;
  settings.stop = rules.stop;
  settings.sampling = spec.sampling;
  settings.tools = spec.prompt.tools;

  // The generation step, a chunk of questions (all their samples) at a time.
  const size_t chunk = 64, n = report.questions.size();
  for (size_t begin = 0; begin < n; begin += chunk) {
    const size_t end = std::min(n, begin + chunk);
    std::vector<AnswerRequest> requests;
    for (size_t i = begin; i < end; i++)
      for (int s = 0; s < spec.samples; s++)
        requests.push_back({prompts[i], sample_seed(spec.seed, report.questions[i].row, static_cast<uint64_t>(s))});
    const std::vector<Answer> answers = generate(requests, settings);
    if (answers.size() != requests.size()) {
      throw std::logic_error("generation returned " + std::to_string(answers.size()) + " answers for " +
                             std::to_string(requests.size()) + " prompts");
    }
    for (size_t i = begin, k = 0; i < end; i++) {
      QuestionResult& q = report.questions[i];
      std::vector<std::optional<std::string>> extracted;
      for (int s = 0; s < spec.samples; s++, k++) {
        const Answer& a = answers[k];
        SampleResult r{a.text, extract_answer(a.text), false, rules.well_formed(a)};
        r.correct = answer_right(q.question, r.extracted);  // grade(), sharing the extraction
        extracted.push_back(r.extracted);
        q.samples.push_back(std::move(r));
      }
      q.vote = majority_vote(extracted);
      q.vote_correct = answer_right(q.question, q.vote);
    }
    std::fprintf(stderr, "eval: %zu/%zu questions\n", end, n);
  }

  std::map<std::string, TaskResult> per_task;
  report.all.task = "all";
  for (const QuestionResult& q : report.questions) {
    TaskResult& t = per_task[q.question.task];
    t.task = q.question.task;
    count(t, q);
    count(report.all, q);
  }
  double weighted_chance = 0;
  bool every_chance = !per_task.empty();
  for (auto& [name, t] : per_task) {
    if (auto it = chance.find(name); it != chance.end()) {
      t.chance = it->second;
      weighted_chance += it->second * t.total;
    } else {
      every_chance = false;
    }
    report.tasks.push_back(t);
  }
  if (every_chance && report.all.total > 0) report.all.chance = weighted_chance / report.all.total;
  return report;
}

}  // namespace sog
