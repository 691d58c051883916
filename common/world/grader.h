// The grader: extracts the answer from any completion and scores it exactly.
//
// Extraction rule (in this order):
//   1. Cut the completion at the first <|end|> or <|endoftext|> (what a chat model stops on).
//   2. If it contains "Answer:", the answer is the rest of the line after the LAST "Answer:".
//      Every "Answer:" line must give the same answer; if two disagree ("Answer: 54\nAnswer: 55"),
//      the completion is hedging and has no answer.
//   3. Otherwise the answer is the first non-empty line (a few-shot "A:" completion such as
//      "54\nQ: How old is Bob?" answers "54").
//   4. Trim spaces and tabs, then drop one trailing '.' ("Paris." → "Paris").
// Scoring: the extracted answer must equal the gold answer exactly (case-sensitive), so extra
// content is wrong: "54 or 55", "54 years", "Answer: 54 because …" all fail for gold "54".
// The constraint task (avoid, constraint.h) has many right answers: there the extracted answer must
// meet the rule its prompt states, checked exactly; the gold answer is only one example.
//
// Well-formedness (the labeler's second rule) depends on the format the prompt asks for:
//   direct  the completion (cut as in 1, trimmed) is exactly one non-empty line with no "Answer:"
//   worked  at least one step line, then a last non-empty line "Answer: X", the only "Answer:"
//           line, and no tool tokens
//   tool    at least one call, every call parses (tools.h) and is followed by its observation,
//           and the last non-empty line is "Answer: X", the only "Answer:" line
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "common/world/task.h"

namespace sog {

// The answer extracted by the rule above; nullopt when there is none (empty completion, or
// disagreeing "Answer:" lines).
std::optional<std::string> extract_answer(std::string_view completion);

// s without leading and trailing spaces, tabs, carriage returns and newlines: the grader's blank
// (documents.h trims the documents it stuffs into a prompt the same way).
std::string_view trim_blank(std::string_view s);

struct Grade {
  bool correct = false;
  bool well_formed = false;
  std::optional<std::string> extracted;
};

bool is_correct(std::string_view completion, std::string_view gold);
// Whether an extracted answer is right for the task: equal to gold, or for avoid meeting the rule.
bool answer_matches(const Task& task, std::string_view extracted);
bool is_well_formed(std::string_view completion, AnswerFormat format);
Grade grade(const Task& task, std::string_view completion);

}  // namespace sog
