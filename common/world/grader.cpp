#include "common/world/grader.h"

#include <vector>

#include "common/world/constraint.h"
#include "common/world/tools.h"
#include "common/tokenizer/special_tokens.h"

namespace sog {

std::string_view trim_blank(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

static std::string_view cut_at_end_tokens(std::string_view s) {
  for (std::string_view stop : {kEnd, kEndOfText}) {
    size_t k = s.find(stop);
    if (k != std::string_view::npos) s = s.substr(0, k);
  }
  return s;
}

static std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) nl = s.size();
    lines.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

static std::string clean(std::string_view s) {
  s = trim_blank(s);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return std::string(trim_blank(s));
}

static constexpr std::string_view kAnswerTag = "Answer:";

std::optional<std::string> extract_answer(std::string_view completion) {
  completion = cut_at_end_tokens(completion);
  std::optional<std::string> answer;
  bool any_tag = false;
  for (std::string_view line : lines_of(completion)) {
    size_t k = line.rfind(kAnswerTag);
    if (k == std::string_view::npos) continue;
    std::string value = clean(line.substr(k + kAnswerTag.size()));
    if (any_tag && value != *answer) return std::nullopt;  // hedging: two different answers
    any_tag = true;
    answer = value;
  }
  if (any_tag) return answer->empty() ? std::nullopt : answer;
  for (std::string_view line : lines_of(completion)) {
    if (!trim_blank(line).empty()) return clean(line);
  }
  return std::nullopt;
}

bool is_correct(std::string_view completion, std::string_view gold) {
  auto answer = extract_answer(completion);
  return answer && *answer == gold;
}

// Non-empty lines of the cut completion.
static std::vector<std::string_view> content_lines(std::string_view completion) {
  std::vector<std::string_view> out;
  for (std::string_view line : lines_of(cut_at_end_tokens(completion)))
    if (!trim_blank(line).empty()) out.push_back(trim_blank(line));
  return out;
}

static int count_answer_lines(const std::vector<std::string_view>& lines) {
  int n = 0;
  for (std::string_view line : lines) n += line.find(kAnswerTag) != std::string_view::npos;
  return n;
}

// The last line is "Answer: X" with X non-empty, and it is the only "Answer:" line.
static bool ends_with_single_answer(const std::vector<std::string_view>& lines) {
  if (lines.empty() || count_answer_lines(lines) != 1) return false;
  std::string_view last = lines.back();
  return last.starts_with(kAnswerTag) && !trim_blank(last.substr(kAnswerTag.size())).empty();
}

static bool has_tool_token(std::string_view s) {
  return s.find(kToolCall) != std::string_view::npos ||
         s.find(kToolResult) != std::string_view::npos ||
         s.find(kToolEnd) != std::string_view::npos;
}

// Every <|tool_call|>…<|tool_end|> parses and is directly followed by <|tool_result|>…<|tool_end|>.
static bool tool_calls_well_formed(std::string_view s) {
  int calls = 0;
  size_t pos = 0;
  while (true) {
    size_t call = s.find(kToolCall, pos);
    if (call == std::string_view::npos) break;
    size_t call_end = s.find(kToolEnd, call);
    if (call_end == std::string_view::npos) return false;
    call_end += kToolEnd.size();
    if (!parse_tool_call(s.substr(call, call_end - call))) return false;
    if (s.substr(call_end).find(kToolResult) != 0) return false;
    size_t result_end = s.find(kToolEnd, call_end);
    if (result_end == std::string_view::npos) return false;
    pos = result_end + kToolEnd.size();
    calls++;
  }
  // No stray result outside a call/result pair.
  size_t results = 0;
  for (size_t k = s.find(kToolResult); k != std::string_view::npos; k = s.find(kToolResult, k + 1)) results++;
  return calls > 0 && results == static_cast<size_t>(calls);
}

bool is_well_formed(std::string_view completion, AnswerFormat format) {
  const auto lines = content_lines(completion);
  const std::string_view cut = cut_at_end_tokens(completion);
  switch (format) {
    case AnswerFormat::direct:
      return lines.size() == 1 && count_answer_lines(lines) == 0 && !has_tool_token(cut);
    case AnswerFormat::worked:
      return lines.size() >= 2 && ends_with_single_answer(lines) && !has_tool_token(cut);
    case AnswerFormat::tool:
      return lines.size() >= 2 && ends_with_single_answer(lines) && tool_calls_well_formed(cut);
  }
  return false;
}

bool answer_matches(const Task& task, std::string_view extracted) {
  if (!is_constraint_task(task.kind)) return extracted == task.answer;
  const std::optional<ConstraintProblem> p = parse_constraint_prompt(task.prompt);
  return p && !constraint_violation(extracted, *p);
}

Grade grade(const Task& task, std::string_view completion) {
  Grade g;
  g.extracted = extract_answer(completion);
  g.correct = g.extracted && answer_matches(task, *g.extracted);
  g.well_formed = is_well_formed(completion, task.format);
  return g;
}

}  // namespace sog
