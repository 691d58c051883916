// The prompting techniques of the talk's second half, each one an EvalSpec for the one evaluator
// (common/eval/evaluator.h) and a row of chapter 06's table:
//
//   fewshot            the base model's Q/A sheet with k solved examples of the same task
//                        <|endoftext|>Q: What is 12 + 7?\nA: 19\nQ: What is 40 + 2?\nA:
//   direct             the assistant asked in the chat format, greedy
//                        <|endoftext|><|user|> What is 40 + 2?<|end|><|assistant|>
//   cot                the same with " Think step by step." (the SFT data trains both formats); graded
//                      on the worked solution's "Answer:" line
//   self-consistency   N samples at a temperature, the majority of the extracted answers
//                      (Wang et al. 2022); with --cot each sample is a worked solution
//   expert             the base model's worked-solution document, conditioned on who solves:
//                        <|endoftext|>Q: What is 40 + 2?\nExpert solution:\n    (or Student, or no one)
//   tools              the assistant in the chat format with the tool runtime on: a call it writes
//                      (calc, lookup) runs inside generation (common/generate/tool_generate.h);
//                      the system message is `system` ("tools": the world's tools prompt, "none":
//                      no system message, anything else: that text)
//
// Every row: accuracy with its 95% interval (Wilson), per task and over all, the tokens generated
// per question (what the technique costs), and the wall time.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "common/eval/evaluator.h"
#include "common/nn/gpt.h"
#include "common/world/people.h"

namespace sog {

enum class Technique { fewshot, direct, cot, self_consistency, expert, tools };
Technique technique_from_name(const std::string& name);  // throws naming the valid names
const char* technique_name(Technique t);

struct TechniqueOptions {
  Technique technique = Technique::direct;
  int shots = 4;                 // fewshot
  int samples = 5;               // self-consistency: N
  float temperature = 0.7f;      // self-consistency
  bool cot = false;              // self-consistency: each sample works step by step
  std::string persona = "expert";  // expert: expert | student | none
  std::string system = "tools";    // tools: tools | none | the system message's text
  int max_per_task = 0;
  int64_t max_new_tokens = 0;    // 0: 24 for a direct answer, 64 for a worked one
  uint64_t seed = 1337;
};

// The evaluator's spec for a technique on a model of context `context_length`. Throws
// std::invalid_argument naming a bad option (shots < 0, samples < 1, temperature ≤ 0 with N > 1,
// a persona other than expert/student/none).
EvalSpec technique_spec(const TechniqueOptions& o, int64_t context_length);

// One evaluation on a model, with what it cost: the evaluator's report, every token generated, the
// wall time, and the prompts the evaluator had to cut (their start dropped to leave room for the
// reply: prompt_tokens > context − max_new_tokens). people: lookup's table when spec runs tools.
struct MeasuredRun {
  EvalReport report;
  int64_t tokens = 0;
  double wall_s = 0;
  int prompts_cut = 0;
};
MeasuredRun run_measured(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                         const ShotPool& pool, const EvalSpec& spec, std::span<const Person> people = {});

// Right answers counted per task and over all, the accuracy fields every row of the table shares:
//   {"accuracy", "accuracy_interval" (Wilson, 95%), "n", "per_task": {task: {"accuracy",
//    "accuracy_interval", "n"}}}
class AccuracyTally {
 public:
  void add(const std::string& task, bool right);
  int correct() const { return correct_; }
  int total() const { return total_; }
  nlohmann::json json() const;

 private:
  std::map<std::string, std::pair<int, int>> by_task_;  // (right, asked)
  int correct_ = 0, total_ = 0;
};

// The row's JSON — the command's contract, read by the table and by other programs:
//   {"technique", "accuracy", "accuracy_interval", "n", "tokens_per_question", "wall_time_s",
//    "per_task": {task: {"accuracy", "n"}}, "settings": {…}}
// For self-consistency "accuracy" is the majority vote's (over the N samples) and "first_sample"
// the first sample's. tokens: every token generated for the report's questions.
nlohmann::json technique_row(const TechniqueOptions& o, const EvalReport& report, int64_t tokens, double wall_s);

// Self-consistency for every n in ns (each ≤ the report's samples) from ONE set of N samples: the
// vote over each question's first n samples — the accuracy a run with n samples would have had
// (sample s of a question has the same seed whatever N is: evaluator.h's sample_seed).
//   [{"n", "accuracy", "accuracy_interval", "tokens_per_question", "per_task": {task: accuracy}}]
nlohmann::json vote_curve(const EvalReport& report, const std::vector<int>& ns, double tokens_per_sample);

}  // namespace sog
