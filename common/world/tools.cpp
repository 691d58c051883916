#include "common/world/tools.h"

#include <cctype>
#include <cstdint>
#include <stdexcept>

#include "common/tokenizer/special_tokens.h"

namespace sog {

static std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string render_tool_call(const ToolCall& call) {
  std::string s = std::string(kToolCall) + call.name + "(";
  for (size_t i = 0; i < call.args.size(); i++) s += (i ? ", " : "") + call.args[i];
  return s + ")" + std::string(kToolEnd);
}

std::optional<ToolCall> parse_tool_call(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<ToolCall> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  text = trim(text);
  if (!text.starts_with(kToolCall)) return fail("expected the call to start with <|tool_call|>");
  if (!text.ends_with(kToolEnd)) return fail("expected the call to end with <|tool_end|>");
  text.remove_prefix(kToolCall.size());
  text.remove_suffix(kToolEnd.size());
  text = trim(text);
  size_t i = 0;
  while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z') || text[i] == '_')) i++;
  if (i == 0) return fail("expected a tool name of lower-case letters, found \"" + std::string(text.substr(0, 20)) + "\"");
  ToolCall call{std::string(text.substr(0, i)), {}};
  std::string_view rest = trim(text.substr(i));
  if (rest.empty() || rest.front() != '(') return fail("expected '(' after the tool name " + call.name);
  if (rest.back() != ')') return fail("expected ')' at the end of the call to " + call.name);
  rest = rest.substr(1, rest.size() - 2);
  int depth = 0;
  size_t start = 0;
  for (size_t k = 0; k <= rest.size(); k++) {
    char c = k < rest.size() ? rest[k] : ',';
    if (c == '(') depth++;
    if (c == ')' && --depth < 0) return fail("unbalanced ')' in the arguments of " + call.name);
    if (c == ',' && depth == 0) {
      std::string_view arg = trim(rest.substr(start, k - start));
      if (arg.empty() && !(k == rest.size() && call.args.empty() && trim(rest).empty()))
        return fail("empty argument " + std::to_string(call.args.size() + 1) + " of " + call.name);
      if (!arg.empty()) call.args.emplace_back(arg);
      start = k + 1;
    }
    if (c == '<') return fail("a special token inside the arguments of " + call.name);
  }
  if (depth != 0) return fail("unbalanced '(' in the arguments of " + call.name);
  return call;
}

std::string tool_observation(std::string_view result) {
  return std::string(kToolResult) + std::string(result) + std::string(kToolEnd) + "\n";
}

std::optional<std::string> pending_tool_call(std::string_view generated) {
  if (!generated.ends_with(kToolEnd)) return std::nullopt;
  size_t call = generated.rfind(kToolCall);
  if (call == std::string_view::npos) return std::nullopt;
  std::string_view tail = generated.substr(call);
  // Exactly one <|tool_end|> after the call (its own), and no result yet.
  if (tail.find(kToolResult) != std::string_view::npos) return std::nullopt;
  if (tail.find(kToolEnd) != tail.size() - kToolEnd.size()) return std::nullopt;
  return std::string(tail);
}

// ---- the calculator: recursive descent, every operation checked ---------------------------------
//   expr   := term (('+' | '-') term)*
//   term   := factor (('*' | '/') factor)*
//   factor := '-' factor | '(' expr ')' | digits
// Work is bounded before parsing (kCalcMaxChars) and recursion while parsing (kCalcMaxDepth), so no
// input a model writes can exhaust the stack or the time of the runtime.
namespace {

constexpr std::string_view kCalcAlphabet = "0123456789+-*/() \t";

std::string describe_char(char c) {  // "'x'", or "byte 0x07" for what does not print
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char* hex = "0123456789abcdef";
  return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
}

std::string overflow(int64_t a, std::string_view op, int64_t b) {
  return "overflow: " + std::to_string(a) + " " + std::string(op) + " " + std::to_string(b) +
         " does not fit in a signed 64-bit integer";
}

struct Calc {
  std::string_view s;
  size_t i = 0;
  std::string error;
  int depth = 0;

  void skip() { while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++; }
  bool fail(std::string why) { if (error.empty()) error = std::move(why); return false; }
  std::string here() const {  // "'x' at position 3" or "the end of the expression"
    return i < s.size() ? describe_char(s[i]) + " at position " + std::to_string(i + 1) : "the end of the expression";
  }

  bool expr(int64_t& v) {
    if (!term(v)) return false;
    for (skip(); i < s.size() && (s[i] == '+' || s[i] == '-'); skip()) {
      const char op = s[i++];
      int64_t r, a = v;
      if (!term(r)) return false;
      if (op == '+' ? __builtin_add_overflow(a, r, &v) : __builtin_sub_overflow(a, r, &v))
        return fail(overflow(a, op == '+' ? "+" : "-", r));
    }
    return true;
  }
  bool term(int64_t& v) {
    if (!factor(v)) return false;
    for (skip(); i < s.size() && (s[i] == '*' || s[i] == '/'); skip()) {
      const char op = s[i++];
      int64_t r, a = v;
      if (!factor(r)) return false;
      if (op == '*') {
        if (__builtin_mul_overflow(a, r, &v)) return fail(overflow(a, "*", r));
      } else {
        if (r == 0) return fail("division by zero");
        if (a == INT64_MIN && r == -1) return fail(overflow(a, "/", r));
        v = a / r;  // C++ division truncates toward zero: 7/2 = 3, -7/2 = -3
      }
    }
    return true;
  }
  bool factor(int64_t& v) {
    skip();
    if (i < s.size() && (s[i] == '-' || s[i] == '(')) {  // one level deeper
      if (++depth > kCalcMaxDepth) {
        return fail("expression nested deeper than kCalcMaxDepth = " + std::to_string(kCalcMaxDepth) +
                    " (parentheses and unary minus) at position " + std::to_string(i + 1));
      }
      bool ok;
      if (s[i++] == '-') {
        ok = factor(v);
        if (ok && v == INT64_MIN) ok = fail("overflow: -(" + std::to_string(v) + ") does not fit in a signed 64-bit integer");
        if (ok) v = -v;
      } else {
        ok = expr(v);
        skip();
        if (ok && (i >= s.size() || s[i] != ')')) ok = fail("expected ')', found " + here());
        i++;
      }
      depth--;
      return ok;
    }
    if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      const size_t start = i;
      v = 0;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; i++) {
        if (__builtin_mul_overflow(v, int64_t{10}, &v) || __builtin_add_overflow(v, int64_t{s[i] - '0'}, &v))
          return fail("overflow: the number at position " + std::to_string(start + 1) +
                      " does not fit in a signed 64-bit integer");
      }
      return true;
    }
    return fail("expected a number, '(' or '-', found " + here());
  }
};

}  // namespace

std::optional<int64_t> evaluate_expression(std::string_view expr, std::string* error) {
  Calc c;
  c.s = expr;
  auto failed = [&](std::string why) -> std::optional<int64_t> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (expr.size() > kCalcMaxChars) {
    return failed("expression of " + std::to_string(expr.size()) + " characters, longer than kCalcMaxChars = " +
                  std::to_string(kCalcMaxChars));
  }
  for (size_t k = 0; k < expr.size(); k++) {
    if (kCalcAlphabet.find(expr[k]) == std::string_view::npos) {
      return failed("unexpected character " + describe_char(expr[k]) + " at position " + std::to_string(k + 1) +
                    " (the calculator reads digits, + - * /, parentheses and spaces)");
    }
  }
  if (trim(expr).empty()) return failed("empty expression");
  int64_t v = 0;
  bool ok = c.expr(v);
  c.skip();
  if (ok && c.i != expr.size()) ok = c.fail("unexpected " + c.here());
  if (!ok) return failed(c.error);
  return v;
}

std::string execute_tool_call(const ToolCall& call, std::span<const Person> people) {
  if (call.name == "calc") {
    if (call.args.size() != 1)
      return "error: calc takes 1 argument, got " + std::to_string(call.args.size());
    std::string why;
    auto v = evaluate_expression(call.args[0], &why);
    return v ? std::to_string(*v) : "error: " + why;
  }
  if (call.name == "lookup") {
    if (call.args.size() != 2)
      return "error: lookup takes 2 arguments (name, attribute), got " + std::to_string(call.args.size());
    if (people.empty()) return "error: no people are loaded for lookup";
    const Person* person = nullptr;
    for (const Person& p : people)
      if (p.name == call.args[0]) person = &p;
    if (!person) return "error: no person named " + call.args[0];
    for (TaskKind kind : all_task_kinds)
      if (is_fact_task(kind) && attribute_name(kind) == call.args[1]) return fact_value(*person, kind);
    return "error: unknown attribute " + call.args[1] + " (expected age, city, job, pet, color or hobby)";
  }
  return "error: unknown tool " + call.name + " (expected calc or lookup)";
}

std::string run_tool_call(std::string_view call_text, std::span<const Person> people) {
  std::string why;
  auto call = parse_tool_call(call_text, &why);
  return call ? execute_tool_call(*call, people) : "error: " + why;
}

static std::string compact_expression(const ArithProblem& p) {  // "478*56"
  std::string e = arith_expression(p);
  std::string out;
  for (char c : e) if (c != ' ') out += c;
  return out;
}

std::string calc_tool_trace(const ArithProblem& p) {
  const std::string result = std::to_string(arith_answer(p));
  return "Thought: I will use the calculator.\n" +
         render_tool_call(ToolCall{"calc", {compact_expression(p)}}) + tool_observation(result) +
         "Answer: " + result;
}

std::string fact_tool_trace(const Person& p, TaskKind kind) {
  const std::string attribute(attribute_name(kind)), value = fact_value(p, kind);
  return "Thought: I will look up " + p.name + "'s " + attribute + ".\n" +
         render_tool_call(ToolCall{"lookup", {p.name, attribute}}) + tool_observation(value) + "Answer: " + value;
}

}  // namespace sog
