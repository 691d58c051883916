#include "common/world/tools.h"

#include <cctype>
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

// ---- the calculator: recursive descent, checked int64 ------------------------------------------
//   expr   := term (('+' | '-') term)*
//   term   := factor ('*' factor)*
//   factor := '-' factor | '(' expr ')' | digits
namespace {
struct Calc {
  std::string_view s;
  size_t i = 0;
  std::string error;
  int depth = 0;

  void skip() { while (i < s.size() && s[i] == ' ') i++; }
  bool fail(std::string why) { if (error.empty()) error = std::move(why); return false; }

  bool expr(int64_t& v) {
    if (!term(v)) return false;
    for (skip(); i < s.size() && (s[i] == '+' || s[i] == '-'); skip()) {
      char op = s[i++];
      int64_t r;
      if (!term(r)) return false;
      if (op == '+' ? __builtin_add_overflow(v, r, &v) : __builtin_sub_overflow(v, r, &v)) return fail("overflow");
    }
    return true;
  }
  bool term(int64_t& v) {
    if (!factor(v)) return false;
    for (skip(); i < s.size() && s[i] == '*'; skip()) {
      i++;
      int64_t r;
      if (!factor(r)) return false;
      if (__builtin_mul_overflow(v, r, &v)) return fail("overflow");
    }
    return true;
  }
  bool factor(int64_t& v) {
    skip();
    if (++depth > 64) return fail("expression nested too deeply");
    if (i >= s.size()) return fail("expected a number at the end of the expression");
    bool ok;
    if (s[i] == '-') {
      i++;
      ok = factor(v) && !__builtin_sub_overflow(int64_t{0}, v, &v);
      if (!ok) fail("overflow");
    } else if (s[i] == '(') {
      i++;
      ok = expr(v);
      skip();
      if (ok && (i >= s.size() || s[i] != ')')) ok = fail("expected ')' at position " + std::to_string(i + 1));
      i++;
    } else if (s[i] >= '0' && s[i] <= '9') {
      v = 0;
      ok = true;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (__builtin_mul_overflow(v, int64_t{10}, &v) || __builtin_add_overflow(v, int64_t{s[i] - '0'}, &v)) {
          ok = fail("number too large");
          break;
        }
        i++;
      }
    } else {
      ok = fail(std::string("unexpected '") + s[i] + "' at position " + std::to_string(i + 1));
    }
    depth--;
    return ok;
  }
};
}  // namespace

std::optional<int64_t> evaluate_expression(std::string_view expr, std::string* error) {
  Calc c;
  c.s = expr;
  int64_t v = 0;
  bool ok = !trim(expr).empty() ? c.expr(v) : c.fail("empty expression");
  if (ok) {
    c.skip();
    if (c.i != expr.size()) ok = c.fail(std::string("unexpected '") + expr[c.i] + "' at position " + std::to_string(c.i + 1));
  }
  if (!ok) {
    if (error) *error = c.error;
    return std::nullopt;
  }
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
