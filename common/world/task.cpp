#include "common/world/task.h"

#include <stdexcept>
#include <string>

namespace sog {

std::string_view task_name(TaskKind kind) {
  switch (kind) {
    case TaskKind::age: return "age";
    case TaskKind::city: return "city";
    case TaskKind::job: return "job";
    case TaskKind::pet: return "pet";
    case TaskKind::color: return "color";
    case TaskKind::hobby: return "hobby";
    case TaskKind::add: return "add";
    case TaskKind::sub: return "sub";
    case TaskKind::mul: return "mul";
    case TaskKind::reverse: return "reverse";
    case TaskKind::count: return "count";
    case TaskKind::sort: return "sort";
    case TaskKind::palindrome: return "palindrome";
    case TaskKind::first: return "first";
    case TaskKind::last: return "last";
    case TaskKind::avoid: return "avoid";
  }
  throw std::logic_error("task_name: unknown TaskKind " + std::to_string(static_cast<int>(kind)));
}

TaskKind task_kind_from_name(std::string_view name) {
  for (TaskKind kind : all_task_kinds)
    if (task_name(kind) == name) return kind;
  throw std::invalid_argument("task_kind_from_name: unknown task \"" + std::string(name) +
                              "\" (expected age, city, job, pet, color, hobby, add, sub, mul, reverse, "
                              "count, sort, palindrome, first, last or avoid)");
}

bool is_fact_task(TaskKind kind) { return kind <= TaskKind::hobby; }
bool is_arithmetic_task(TaskKind kind) { return kind >= TaskKind::add && kind <= TaskKind::mul; }
bool is_string_task(TaskKind kind) { return kind >= TaskKind::reverse && kind <= TaskKind::last; }
bool is_constraint_task(TaskKind kind) { return kind == TaskKind::avoid; }

std::string_view format_name(AnswerFormat format) {
  switch (format) {
    case AnswerFormat::direct: return "direct";
    case AnswerFormat::worked: return "worked";
    case AnswerFormat::tool: return "tool";
  }
  throw std::logic_error("format_name: unknown AnswerFormat");
}

std::string self_check_prompt(std::string_view question, std::string_view proposed) {
  return "Question: " + std::string(question) + "\nProposed answer: " + std::string(proposed) +
         "\nIs the proposed answer correct?";
}

}  // namespace sog
