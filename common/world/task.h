// A task of the world: one question (the prompt), its gold answer, what kind of question it is
// and the answer format a completion is expected to follow. Every generator of the world returns
// Tasks; the grader and the labeler read them.
//
//   Task{"How old is Catherine?", "54", TaskKind::age, AnswerFormat::direct}
//   Task{"What is 478 + 56? Think step by step.", "534", TaskKind::add, AnswerFormat::worked}
#pragma once
#include <array>
#include <string>
#include <string_view>

namespace sog {

enum class TaskKind { age, city, job, pet, color, hobby,   // facts about people
                      add, sub, mul,                       // arithmetic
                      reverse, count, sort, palindrome, first, last,  // string tasks
                      avoid };  // a constraint: "Write five different words without the letter 'e'."

inline constexpr std::array<TaskKind, 16> all_task_kinds = {
    TaskKind::age, TaskKind::city, TaskKind::job, TaskKind::pet, TaskKind::color, TaskKind::hobby,
    TaskKind::add, TaskKind::sub, TaskKind::mul,
    TaskKind::reverse, TaskKind::count, TaskKind::sort, TaskKind::palindrome, TaskKind::first, TaskKind::last,
    TaskKind::avoid};

// "age", "city", …, "add", …, "last", "avoid": the `task` field of every JSONL row.
std::string_view task_name(TaskKind kind);
// The inverse; throws std::invalid_argument naming the unknown name.
TaskKind task_kind_from_name(std::string_view name);
bool is_fact_task(TaskKind kind);
bool is_arithmetic_task(TaskKind kind);
bool is_string_task(TaskKind kind);     // reverse … last (one word, one exact answer)
bool is_constraint_task(TaskKind kind);  // avoid: many right answers, checked by a rule (constraint.h)

// How a completion should look (see grader.h for the exact rules):
//   direct  "54"                                  — the answer alone on one line
//   worked  "ones: 8 + 6 = 14, …\nAnswer: 534"     — steps, then a final "Answer: N" line
//   tool    "Thought: …\n<|tool_call|>…<|tool_end|><|tool_result|>…<|tool_end|>\nAnswer: N"
enum class AnswerFormat { direct, worked, tool };
std::string_view format_name(AnswerFormat format);

struct Task {
  std::string prompt;  // the question as a user would type it
  std::string answer;  // the gold answer, exactly as the grader expects it (avoid: one right answer of many)
  TaskKind kind = TaskKind::age;
  AnswerFormat format = AnswerFormat::direct;
};

// What a user appends to a question to ask for a worked solution, and the system prompt that
// offers the tools (SFT conversations use both; chapter 06 reuses them).
inline constexpr std::string_view step_by_step_suffix = " Think step by step.";
inline constexpr std::string_view tools_system_prompt =
    "You can use tools. calc(expression) computes + - * on integers. "
    "lookup(name, attribute) returns a person's age, city, job, pet, color or hobby.";

// Self-check (chapter 06's reflection): the assistant is shown a question and a proposed answer,
// right or wrong, and says whether it is right. The SFT data holds a share of these conversations
// (WorldConfig::sft_self_check), so the skill exists to be measured:
//
//   user       Question: What is 47 + 38?
//              Proposed answer: 75
//              Is the proposed answer correct?
//   assistant  no
std::string self_check_prompt(std::string_view question, std::string_view proposed);
inline constexpr std::string_view kCheckYes = "yes", kCheckNo = "no";

}  // namespace sog
