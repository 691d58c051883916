// How an assistant used its tools on a question set: read from the evaluator's completions, which
// hold the calls the model wrote and the runtime's results ("…<|tool_call|>calc(48*73)<|tool_end|>
// <|tool_result|>3504<|tool_end|>\nAnswer: 3504").
//
// Per question (its first sample):
//   called      the reply holds at least one call
//   parses      every call of the reply is well-formed (parse_tool_call, common/world/tools.h)
//   call right  the first call parses and running it gives the gold answer — the calculator's value
//               of its expression, or lookup's value on `people` — so the question was asked of the
//               tool correctly; what is left is copying the result
//
// The row: {"call_rate", "calls_per_question", "parse_rate" (calls that parse / calls),
//           "right_call_rate" (questions with a right first call / questions),
//           "accuracy_when_call_right" (right answers among those; null when there are none),
//           "accuracy_without_call" (right answers among questions with no call; null if none),
//           "per_task": {task: {"call_rate", "right_call_rate", "n"}}}
#pragma once
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/eval/evaluator.h"
#include "common/world/people.h"

namespace sog {

// The text of every call in a completion, markers included, in order:
// "<|tool_call|>calc(48*73)<|tool_end|>". A call never closed is not one.
std::vector<std::string> tool_calls_in(std::string_view completion);

nlohmann::json tool_use_json(const EvalReport& report, std::span<const Person> people);

}  // namespace sog
