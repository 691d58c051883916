// `reward data`: the comparisons a reward model learns from, made InstructGPT's way — K replies
// to each prompt sampled from the SFT assistant itself, ranked by a labeler.
//
//   prompts (the world's ppo_prompts.jsonl: {prompt, answer, task})
//     │  the chat format, K samples each at a temperature (the evaluator: common/eval)
//     ▼
//   K replies per prompt ──the world's labeler──▶ a ranking: correct before wrong, then
//     │                                            well-formed, then shorter (labeler.h)
//     ▼
//   a comparison group: the distinct replies in rank order, and every pair the labeler orders
//   strictly (ties are not pairs; a prompt whose replies are all alike gives none)
//     │  --label-noise p: each pair flipped with probability p (people disagree: InstructGPT's
//     ▼  labelers agreed with each other about 73% of the time)
//   rankings.jsonl (the groups) and pairs.jsonl (TRL's {"prompt", "chosen", "rejected"} + task)
#pragma once
#include <cstdint>
#include <vector>

#include "common/eval/generate_answers.h"
#include "common/reward/preferences.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/question_set.h"

namespace sog {

struct SampleOptions {
  int k = 4;                    // replies per prompt (InstructGPT: 4 to 9)
  float temperature = 1.0f;
  int64_t max_new_tokens = 48;  // a direct answer is a few tokens; a worked one needs more
  int64_t context_length = 0;   // the model's maxT
  uint64_t seed = 1337;
};

// K replies to each question, each as reply text: what the model wrote after <|assistant|>, without
// the template's space and without the <|end|> that closed it. replies[q][s]: sample s of question q.
std::vector<std::vector<std::string>> sample_replies(const std::vector<QuestionRow>& questions, const Tokenizer& tok,
                                                     const AnswerGenerator& generate, const SampleOptions& options);

// Each question's replies ranked into a comparison group (rank_into_group).
std::vector<ComparisonGroup> rank_replies(const std::vector<QuestionRow>& questions,
                                          const std::vector<std::vector<std::string>>& replies);

}  // namespace sog
