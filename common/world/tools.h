// Tools: ONE call syntax for the calculator and the fact lookup, its parser and renderer, an
// executor, and the ReAct-style traces the world trains on.
//
// Syntax (the tokens are the project's special tokens, common/tokenizer/special_tokens.h):
//   call         <|tool_call|>NAME(ARG, ARG, …)<|tool_end|>
//   observation  <|tool_result|>RESULT<|tool_end|>\n
//   NAME is [a-z_]+; arguments are split at top-level commas and trimmed. Two tools:
//     calc(EXPR)               integers, + - * /, parentheses, unary minus, spaces: calc(123*45) → 5535
//     lookup(NAME, ATTRIBUTE)  ATTRIBUTE ∈ age city job pet color hobby: lookup(Catherine, age) → 54
//   A bad call (unparsable, unknown tool or person, overflow, …) gives the observation
//   "error: <why>" — never an exception — so a model's mistake is something it can read.
//
// The calculator is a parser, never a shell: it reads only digits, + - * /, parentheses and
// spaces, in signed 64-bit integers where every operation is checked (an overflow is an error,
// unary minus of INT64_MIN and INT64_MIN / -1 included). `/` is integer division truncating toward
// zero, as in C++ (7/2 = 3, -7/2 = -3); dividing by zero is the error "division by zero". Input
// size and nesting depth are bounded (kCalcMaxChars, kCalcMaxDepth below). Errors name what and
// where: "unexpected character 'x' at position 3 (…)", "overflow: 99999999999 * 99999999999 does
// not fit in a signed 64-bit integer".
//
// A trace (training text; at inference the runtime — common/generate/tool_generate.h — runs the
// call as soon as the model writes its <|tool_end|>, and appends tool_observation(result)):
//   Thought: I will use the calculator.
//   <|tool_call|>calc(478*56)<|tool_end|><|tool_result|>26768<|tool_end|>
//   Answer: 26768
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/world/arithmetic.h"
#include "common/world/people.h"

namespace sog {

struct ToolCall {
  std::string name;               // "calc" or "lookup" (the parser accepts any [a-z_]+ name)
  std::vector<std::string> args;  // trimmed
  bool operator==(const ToolCall&) const = default;
};

// "<|tool_call|>lookup(Catherine, age)<|tool_end|>" (arguments joined by ", ").
std::string render_tool_call(const ToolCall& call);
// The inverse of render_tool_call: the whole text must be one call. On failure returns nullopt
// and, if error is given, writes why ("expected '(' after the tool name", …).
std::optional<ToolCall> parse_tool_call(std::string_view text, std::string* error = nullptr);
// "<|tool_result|>54<|tool_end|>\n": what the runtime appends after a call.
std::string tool_observation(std::string_view result);

// If generated text ends with a call that has no observation yet (its last <|tool_call|> is
// followed by <|tool_end|> at the very end), that call's text from <|tool_call|> on; else nullopt.
std::optional<std::string> pending_tool_call(std::string_view generated);

// The calculator's limits: the longest expression (characters, spaces included) and the deepest
// nesting of parentheses and unary minus ("((1))" is depth 2, "-(-1)" depth 3).
inline constexpr size_t kCalcMaxChars = 256;
inline constexpr int kCalcMaxDepth = 32;

// The calculator on its own: evaluates EXPR, or nullopt with *error set (the text after "error: ").
std::optional<int64_t> evaluate_expression(std::string_view expr, std::string* error = nullptr);

// Executes a call: the result string ("5535", "Paris") or "error: …". lookup searches people by
// exact name (library-only people included); with no people at all it answers
// "error: no people are loaded for lookup".
std::string execute_tool_call(const ToolCall& call, std::span<const Person> people);
// Parses then executes the text of a call ("<|tool_call|>…<|tool_end|>").
std::string run_tool_call(std::string_view call_text, std::span<const Person> people);

// The traces (no trailing newline): a calculator trace for an arithmetic problem, a lookup trace
// for a fact question.
std::string calc_tool_trace(const ArithProblem& p);
std::string fact_tool_trace(const Person& p, TaskKind kind);

}  // namespace sog
