#include "common/world/question_set.h"

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/io/metrics.h"

namespace sog {

std::vector<QuestionRow> first_per_task(std::vector<QuestionRow> questions, int max_per_task) {
  if (max_per_task <= 0) return questions;
  std::map<std::string, int> taken;
  std::vector<QuestionRow> kept;
  for (auto& q : questions)
    if (taken[q.task]++ < max_per_task) kept.push_back(std::move(q));
  return kept;
}

Task task_of(const QuestionRow& q) {
  const bool worked = std::string_view(q.prompt).ends_with(step_by_step_suffix);
  return Task{q.prompt, q.answer, task_kind_from_name(q.task), worked ? AnswerFormat::worked : AnswerFormat::direct};
}

std::vector<QuestionRow> read_question_rows(const std::string& path) {
  std::vector<QuestionRow> out;
  int64_t line = 0;
  for (const nlohmann::json& r : read_jsonl(path)) {
    line++;
    for (const char* field : {"prompt", "answer", "task"}) {
      if (!r.contains(field) || !r[field].is_string()) {
        throw std::runtime_error(path + ":" + std::to_string(line) + ": expected a string field \"" + field + "\"");
      }
    }
    out.push_back({r["prompt"].get<std::string>(), r["answer"].get<std::string>(), r["task"].get<std::string>()});
  }
  if (out.empty()) throw std::runtime_error(path + ": no questions");
  return out;
}

ShotPool::ShotPool(std::vector<QuestionRow> rows) : rows_(std::move(rows)) {
  for (size_t i = 0; i < rows_.size(); i++) by_task_[rows_[i].task].push_back(i);
}

SolvedExamples ShotPool::draw(const QuestionRow& q, int shots, Rng& rng) const {
  SolvedExamples out;
  auto it = by_task_.find(q.task);
  if (it == by_task_.end()) return out;
  const std::vector<size_t>& same = it->second;
  for (int k = 0, tries = 0; k < shots && tries < 10 * shots; tries++) {
    const QuestionRow& ex = rows_[same[rng.below(same.size())]];
    if (ex.prompt == q.prompt) continue;  // never show the answer itself
    out.push_back({ex.prompt, ex.answer});
    k++;
  }
  return out;
}

std::string qa_sheet(const SolvedExamples& examples, const std::string& prompt) {
  std::string page;
  for (const auto& [p, a] : examples) page += "Q: " + p + "\nA: " + a + "\n";
  return page + "Q: " + prompt + "\nA:";
}

}  // namespace sog
