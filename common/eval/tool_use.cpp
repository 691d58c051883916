#include "common/eval/tool_use.h"

#include <array>
#include <map>
#include <optional>

#include "common/tokenizer/special_tokens.h"
#include "common/world/tools.h"

namespace sog {

using json = nlohmann::json;

std::vector<std::string> tool_calls_in(std::string_view completion) {
  std::vector<std::string> calls;
  size_t at = 0;
  while ((at = completion.find(kToolCall, at)) != std::string_view::npos) {
    const size_t end = completion.find(kToolEnd, at + kToolCall.size());
    if (end == std::string_view::npos) break;
    // A result marker before the end means the model wrote a result itself: not a call.
    const size_t result = completion.find(kToolResult, at + kToolCall.size());
    if (result == std::string_view::npos || result > end) calls.emplace_back(completion.substr(at, end + kToolEnd.size() - at));
    at = end + kToolEnd.size();
  }
  return calls;
}

namespace {

// The call's result when it parses and runs without error.
std::optional<std::string> call_result(const std::string& call_text, std::span<const Person> people) {
  const std::optional<ToolCall> call = parse_tool_call(call_text);
  if (!call) return std::nullopt;
  std::string r = execute_tool_call(*call, people);
  if (r.starts_with("error")) return std::nullopt;
  return r;
}

json ratio(int num, int den) { return den ? json(static_cast<double>(num) / den) : json(nullptr); }

}  // namespace

json tool_use_json(const EvalReport& report, std::span<const Person> people) {
  int questions = 0, called = 0, calls = 0, parsed = 0, right_call = 0, right_call_correct = 0, no_call = 0,
      no_call_correct = 0;
  std::map<std::string, std::array<int, 3>> by_task;  // (n, called, right call)
  for (const QuestionResult& q : report.questions) {
    const SampleResult& s = q.samples.at(0);
    const std::vector<std::string> cs = tool_calls_in(s.completion);
    auto& t = by_task[q.question.task];
    questions++, t[0]++;
    calls += static_cast<int>(cs.size());
    for (const std::string& c : cs) parsed += parse_tool_call(c).has_value();
    if (cs.empty()) {
      no_call++, no_call_correct += s.correct;
      continue;
    }
    called++, t[1]++;
    const std::optional<std::string> r = call_result(cs.front(), people);
    if (r && *r == q.question.answer) right_call++, t[2]++, right_call_correct += s.correct;
  }
  json per_task = json::object();
  for (const auto& [task, t] : by_task)
    per_task[task] = {{"call_rate", ratio(t[1], t[0])}, {"right_call_rate", ratio(t[2], t[0])}, {"n", t[0]}};
  return {{"call_rate", ratio(called, questions)},
          {"calls_per_question", questions ? static_cast<double>(calls) / questions : 0.0},
          {"parse_rate", ratio(parsed, calls)},
          {"right_call_rate", ratio(right_call, questions)},
          {"accuracy_when_call_right", ratio(right_call_correct, right_call)},
          {"accuracy_without_call", ratio(no_call_correct, no_call)},
          {"per_task", per_task}};
}

}  // namespace sog
