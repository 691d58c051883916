// The evaluator every chapter calls: a question set in, a per-task table out.
//
//   question set (JSONL rows {prompt, answer, task}: common/world/question_set.h)
//        │  at most max_per_task per task, in file order
//        ▼
//   prompt in a named format (prompt_format.h)           K examples drawn from the shot pool with
//        │  qa-fewshot | fewshot-doc | chat               ONE Rng(seed), question after question
//        │  + system prompt, chain of thought, tools      (the draws of the chapters' old commands)
//        │  cut to the model's last (context − max_new_tokens) tokens: the question stays
//        ▼
//   generation (generate_answers.h: the one seam)         greedy, or N samples per question at a
//        │  stop rules of the format                      temperature, sample s of the question in
//        ▼                                                row r seeded by sample_seed(seed, r, s)
//   the world's grader (common/world/grader.h)            extracted answer, exact match; well-formed
//        │                                                (prompt_format.h); N > 1: majority vote
//        ▼
//   per-task table: questions, accuracy with its 95% interval (Wilson score), well-formed rate,
//   chance level (from the world's manifest.json, when given), majority-vote accuracy (N > 1)
//        → Markdown and JSON (eval_report.h)
//
// The formats, for the question "What is 40 + 2?" with one example ("What is 12 + 7?", "19"):
//
//   qa-fewshot    <|endoftext|>Q: What is 12 + 7?\nA: 19\nQ: What is 40 + 2?\nA:
//                 → " 42\n"                     (the reply runs to the end of the line)
//   fewshot-doc   <|endoftext|>The following is a conversation between a user and a helpful,
//                 accurate assistant. The assistant gives the answer alone, on one line.\n\n
//                 User: What is 12 + 7?\nAssistant: 19\n\nUser: What is 40 + 2?\nAssistant:
//                 → " 42\n"                     (the end of the line)
//   chat          <|endoftext|><|user|> What is 40 + 2?<|end|><|assistant|>
//                 → " 42<|end|>"                (to <|end|>; no examples; the space is the
//                                                template's: chat_template.h)
//   chain of thought: "… What is 40 + 2? Think step by step." → "…\nAnswer: 42\n" (graded on the
//                 last "Answer:" line, well-formed as a worked solution)
//
// Accuracy is that of the first sample (greedy: the only one); with N samples the majority vote
// over the N extracted answers (self-consistency) is reported beside it. Determinism: the same
// questions, options and seed give the same prompts and seeds, so the same table.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/eval/generate_answers.h"
#include "common/eval/prompt_format.h"
#include "common/generate/sampler.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/question_set.h"

namespace sog {

struct EvalSpec {
  PromptOptions prompt;
  int max_per_task = 0;                    // 0: every question
  int64_t max_new_tokens = 24;
  int64_t context_length = 0;              // the model's max_T (prompts are cut to fit the reply)
  int samples = 1;                         // N answers per question
  SamplingConfig sampling{0.0f, 0, 1.0f};  // temperature 0: greedy (then N must be 1)
  uint64_t seed = 1337;                    // the examples' draws and every sample's seed
  int examples_kept = 12;                  // right and wrong answers kept whole in the report
};
// Throws std::invalid_argument naming the option: samples < 1, N > 1 when greedy, max_new_tokens
// < 1, a context that leaves no room for the prompt, or a bad PromptOptions.
void validate(const EvalSpec& spec);

// The seed of sample s of the question in row r (0-based line of the question set): a splitmix64
// hash of (seed, r, s), the same whatever other questions are asked.
uint64_t sample_seed(uint64_t seed, uint64_t row, uint64_t sample);

// Whether an extracted answer is right for a question: equal to its answer, or for the constraint
// task (task "avoid") meeting the rule its prompt states (grader.h's answer_matches). Any task name
// the world does not know is graded exactly.
bool answer_right(const QuestionRow& q, const std::optional<std::string>& answer);

struct SampleResult {
  std::string completion;
  std::optional<std::string> extracted;  // the grader's answer (none: empty or hedging)
  bool correct = false, well_formed = false;
};

struct QuestionResult {
  QuestionRow question;
  size_t row = 0;                      // its line in the question set, 0-based
  std::string page;                    // the prompt as text (prompt_format.h), before any cut
  size_t prompt_tokens = 0;            // the prompt's ids before any cut, <|endoftext|> and chat
                                       // markers one token each (encoding `page` again is not it)
  std::vector<SampleResult> samples;   // N, in sampling order
  std::optional<std::string> vote;     // the majority answer (majority_vote, eval_report.h)
  bool vote_correct = false;
};

struct TaskResult {
  std::string task;                   // "all" for the total row
  int total = 0, correct = 0, well_formed = 0, vote_correct = 0;  // first sample; vote: majority
  std::optional<double> chance;       // the all row: the question-weighted mean, when every task has one
};

struct EvalReport {
  EvalSpec spec;
  std::vector<QuestionResult> questions;  // in file order
  std::vector<TaskResult> tasks;          // sorted by task name
  TaskResult all;
};

// chance: task → the chance level of guessing (read_chance_levels, common/world/render.h); may be
// empty. Prints progress to stderr.
EvalReport run_evaluation(const std::vector<QuestionRow>& questions, const ShotPool& pool, const Tokenizer& tok,
                          const EvalSpec& spec, const AnswerGenerator& generate,
                          const std::map<std::string, double>& chance = {});

}  // namespace sog
