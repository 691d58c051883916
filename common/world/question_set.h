// The world's question sets read back — eval_*.jsonl and ppo_prompts.jsonl, or a user's own JSONL
// with the same three string fields {"prompt", "answer", "task"} — and the few-shot prompt built
// from them: K solved questions of the same task, then the question (chapters 02, 03 and 06).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/tensor/random.h"
#include "common/world/task.h"

namespace sog {

struct QuestionRow {
  std::string prompt, answer, task;
};

// Every line of a question set; a line without one of the three string fields, or a file without
// a question, is an error naming the file (and line).
std::vector<QuestionRow> read_question_rows(const std::string& path);

// The first max_per_task questions of each task, in file order (0: all of them).
std::vector<QuestionRow> first_per_task(std::vector<QuestionRow> questions, int max_per_task);

// The world's Task of a question row: direct, or worked when it asks to think step by step.
Task task_of(const QuestionRow& q);

// (prompt, answer) pairs: the solved examples of a few-shot prompt.
using SolvedExamples = std::vector<std::pair<std::string, std::string>>;

// The pool the examples are drawn from, indexed by task.
class ShotPool {
 public:
  explicit ShotPool(std::vector<QuestionRow> rows);
  // Up to `shots` questions of q's task, drawn uniformly with rng (at most 10·shots draws), never
  // q itself — the answer must not be shown.
  SolvedExamples draw(const QuestionRow& q, int shots, Rng& rng) const;

 private:
  std::vector<QuestionRow> rows_;
  std::map<std::string, std::vector<size_t>> by_task_;  // task → indices into rows_
};

// The Q/A sheet a base model completes:
//   Q: What is 12 + 7?     ← one pair of lines per example
//   A: 19
//   Q: How old is Cara?    ← the question
//   A:
std::string qa_sheet(const SolvedExamples& examples, const std::string& prompt);

}  // namespace sog
