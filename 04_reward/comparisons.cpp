#include "04_reward/comparisons.h"

#include "common/chat/chat_template.h"
#include "common/eval/evaluator.h"

namespace sog {

std::vector<std::vector<std::string>> sample_replies(const std::vector<QuestionRow>& questions, const Tokenizer& tok,
                                                     const AnswerGenerator& generate, const SampleOptions& options) {
  EvalSpec spec;
  spec.prompt.format = PromptFormat::chat;
  spec.samples = options.k;
  spec.sampling = {options.temperature, 0, 1.0f};
  spec.max_new_tokens = options.max_new_tokens;
  spec.context_length = options.context_length;
  spec.seed = options.seed;
  validate(spec);
  // The evaluator asks every question K times in the chat format, each sample with its own seed;
  // its grades are not needed here (the labeler grades the groups again).
  const EvalReport report = run_evaluation(questions, ShotPool(questions), tok, spec, generate);
  std::vector<std::vector<std::string>> replies;
  for (const QuestionResult& q : report.questions) {
    std::vector<std::string> texts;
    for (const SampleResult& s : q.samples) texts.push_back(reply_of_completion(s.completion));
    replies.push_back(std::move(texts));
  }
  return replies;
}

std::vector<ComparisonGroup> rank_replies(const std::vector<QuestionRow>& questions,
                                          const std::vector<std::vector<std::string>>& replies) {
  std::vector<ComparisonGroup> groups;
  for (size_t i = 0; i < questions.size(); i++) groups.push_back(rank_into_group(task_of(questions[i]), replies[i]));
  return groups;
}

}  // namespace sog
