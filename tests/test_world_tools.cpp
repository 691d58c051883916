// Tools: the call syntax (parse ↔ render), the calculator, the lookup, bad calls, the runtime
// helper that spots a pending call, and the traces.
#include <gtest/gtest.h>

#include "common/world/grader.h"
#include "common/world/tools.h"

using namespace sog;

namespace {
std::vector<Person> two_people() {
  Person a{"Catherine", 54, "Paris", "baker", "cat", "green", "chess", Split::train};
  Person b{"Hiroshi", 31, "Tokyo", "pilot", "dog", "blue", "hiking", Split::test};  // library-only
  return {a, b};
}
}  // namespace

TEST(WorldTools, RenderAndParseRoundTrip) {
  ToolCall calc{"calc", {"123*45"}};
  EXPECT_EQ(render_tool_call(calc), "<|tool_call|>calc(123*45)<|tool_end|>");
  ToolCall lookup{"lookup", {"Catherine", "age"}};
  EXPECT_EQ(render_tool_call(lookup), "<|tool_call|>lookup(Catherine, age)<|tool_end|>");
  for (const ToolCall& c : {calc, lookup, ToolCall{"calc", {"(1+2)*-3"}}, ToolCall{"noargs", {}}}) {
    auto parsed = parse_tool_call(render_tool_call(c));
    ASSERT_TRUE(parsed.has_value()) << render_tool_call(c);
    EXPECT_EQ(*parsed, c);
    EXPECT_EQ(render_tool_call(*parsed), render_tool_call(c));
  }
  // Spaces are forgiven and normalised.
  auto loose = parse_tool_call("<|tool_call|> lookup( Catherine ,age ) <|tool_end|>");
  ASSERT_TRUE(loose);
  EXPECT_EQ(*loose, lookup);
}

TEST(WorldTools, ParseRejectsMalformedCalls) {
  for (const char* bad : {"", "calc(1+2)", "<|tool_call|>calc(1+2)", "<|tool_call|>calc 1+2<|tool_end|>",
                          "<|tool_call|>(1+2)<|tool_end|>", "<|tool_call|>calc(1+2<|tool_end|>",
                          "<|tool_call|>calc((1+2)<|tool_end|>", "<|tool_call|>calc(1+2))<|tool_end|>",
                          "<|tool_call|>lookup(Catherine,)<|tool_end|>", "<|tool_call|>Calc(1)<|tool_end|>",
                          "<|tool_call|>calc(<|tool_result|>)<|tool_end|>"}) {
    std::string why;
    EXPECT_FALSE(parse_tool_call(bad, &why).has_value()) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(WorldTools, Calculator) {
  EXPECT_EQ(evaluate_expression("123*45"), 5535);
  EXPECT_EQ(evaluate_expression("2 + 3 * 4"), 14);  // precedence
  EXPECT_EQ(evaluate_expression("(2 + 3) * 4"), 20);
  EXPECT_EQ(evaluate_expression("10 - 4 - 3"), 3);  // left associative
  EXPECT_EQ(evaluate_expression("-5 * -5"), 25);
  EXPECT_EQ(evaluate_expression("0"), 0);
  EXPECT_EQ(evaluate_expression("478*56"), 26768);
  EXPECT_EQ(evaluate_expression("\t1 +\t2 "), 3);  // spaces and tabs anywhere between tokens
  EXPECT_EQ(evaluate_expression("-(-(-7))"), -7);
  EXPECT_EQ(evaluate_expression("2--3"), 5);      // minus a negative
  // Integer division truncates toward zero, and binds like *: left to right.
  EXPECT_EQ(evaluate_expression("7/2"), 3);
  EXPECT_EQ(evaluate_expression("-7/2"), -3);
  EXPECT_EQ(evaluate_expression("7/-2"), -3);
  EXPECT_EQ(evaluate_expression("1 / 2"), 0);
  EXPECT_EQ(evaluate_expression("100 / 10 / 5"), 2);
  EXPECT_EQ(evaluate_expression("2 + 12 / 4 * 3"), 11);
  // The extremes of int64 are reachable, one step beyond is not.
  EXPECT_EQ(evaluate_expression("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(evaluate_expression("-9223372036854775807 - 1"), INT64_MIN);
  EXPECT_EQ(evaluate_expression("(-9223372036854775807 - 1) / 1"), INT64_MIN);
}

// Every error: the message names what went wrong and where.
TEST(WorldTools, CalculatorErrors) {
  auto error_of = [](std::string_view expr) {
    std::string why;
    auto v = evaluate_expression(expr, &why);
    EXPECT_FALSE(v.has_value()) << expr << " gave " << *v;
    EXPECT_FALSE(why.empty()) << expr;
    return why;
  };
  EXPECT_EQ(error_of(""), "empty expression");
  EXPECT_EQ(error_of("   "), "empty expression");
  EXPECT_EQ(error_of("1 +"), "expected a number, '(' or '-', found the end of the expression");
  EXPECT_EQ(error_of("1 + * 2"), "expected a number, '(' or '-', found '*' at position 5");
  EXPECT_EQ(error_of("(1 + 2"), "expected ')', found the end of the expression");
  EXPECT_EQ(error_of("1 + 2)"), "unexpected ')' at position 6");
  EXPECT_EQ(error_of("12 34"), "unexpected '3' at position 4");
  // Division by zero, directly and by a value that evaluates to zero.
  EXPECT_EQ(error_of("1/0"), "division by zero");
  EXPECT_EQ(error_of("5 / (3 - 3)"), "division by zero");
  // Overflow: every operation is checked.
  EXPECT_EQ(error_of("99999999999 * 99999999999"),
            "overflow: 99999999999 * 99999999999 does not fit in a signed 64-bit integer");
  EXPECT_EQ(error_of("9223372036854775807 + 1"), "overflow: 9223372036854775807 + 1 does not fit in a signed 64-bit integer");
  EXPECT_EQ(error_of("-9223372036854775807 - 2"), "overflow: -9223372036854775807 - 2 does not fit in a signed 64-bit integer");
  EXPECT_EQ(error_of("-(-9223372036854775807 - 1)"), "overflow: -(-9223372036854775808) does not fit in a signed 64-bit integer");
  EXPECT_EQ(error_of("(-9223372036854775807 - 1) / -1"),
            "overflow: -9223372036854775808 / -1 does not fit in a signed 64-bit integer");
  EXPECT_EQ(error_of("(-9223372036854775807 - 1) * -1"),
            "overflow: -9223372036854775808 * -1 does not fit in a signed 64-bit integer");
  EXPECT_EQ(error_of("1 + 123456789012345678901234567890"),
            "overflow: the number at position 5 does not fit in a signed 64-bit integer");
  // Garbage characters: named, with their position; no shell, no letters, no other operators.
  EXPECT_EQ(error_of("2 x 3"), "unexpected character 'x' at position 3 (the calculator reads digits, + - * /, parentheses and spaces)");
  EXPECT_EQ(error_of("1; rm -rf /").substr(0, 40), "unexpected character ';' at position 2 (");
  EXPECT_EQ(error_of("$(echo 1)").substr(0, 40), "unexpected character '$' at position 1 (");
  EXPECT_EQ(error_of("2 % 3").substr(0, 40), "unexpected character '%' at position 3 (");
  EXPECT_EQ(error_of(std::string("1+\x07")).substr(0, 46), "unexpected character byte 0x07 at position 3 (");
  // Bounded input: the limits are named in the message.
  EXPECT_EQ(error_of(std::string(kCalcMaxChars + 1, '1')),
            "expression of " + std::to_string(kCalcMaxChars + 1) + " characters, longer than kCalcMaxChars = " +
                std::to_string(kCalcMaxChars));
  EXPECT_TRUE(evaluate_expression(std::string(kCalcMaxChars - 2, ' ') + "42").has_value());  // at the limit: fine
  std::string deep = std::string(kCalcMaxDepth, '(') + "1" + std::string(kCalcMaxDepth, ')');
  EXPECT_EQ(evaluate_expression(deep), 1);  // exactly the limit
  EXPECT_EQ(error_of("(" + deep + ")"), "expression nested deeper than kCalcMaxDepth = " + std::to_string(kCalcMaxDepth) +
                                          " (parentheses and unary minus) at position " + std::to_string(kCalcMaxDepth + 1));
  EXPECT_NE(error_of(std::string(kCalcMaxDepth + 1, '-') + "1").find("kCalcMaxDepth"), std::string::npos);
  EXPECT_NE(error_of(std::string(kCalcMaxChars, '(')).find("kCalcMaxDepth"), std::string::npos);  // no stack overflow
}

TEST(WorldTools, ExecutorAnswersAndReportsErrors) {
  const auto people = two_people();
  EXPECT_EQ(run_tool_call("<|tool_call|>calc(123*45)<|tool_end|>", people), "5535");
  EXPECT_EQ(run_tool_call("<|tool_call|>lookup(Catherine, age)<|tool_end|>", people), "54");
  EXPECT_EQ(run_tool_call("<|tool_call|>lookup(Hiroshi, city)<|tool_end|>", people), "Tokyo");  // library-only
  EXPECT_EQ(run_tool_call("<|tool_call|>lookup(Catherine, hobby)<|tool_end|>", people), "chess");
  // Bad calls: an error observation, never an exception.
  for (const char* bad : {"<|tool_call|>lookup(Nobody, age)<|tool_end|>", "<|tool_call|>lookup(Catherine, shoe)<|tool_end|>",
                          "<|tool_call|>lookup(Catherine)<|tool_end|>", "<|tool_call|>calc(1, 2)<|tool_end|>",
                          "<|tool_call|>calc(1/0)<|tool_end|>", "<|tool_call|>search(cats)<|tool_end|>",
                          "<|tool_call|>calc(<|tool_end|>", "<|tool_call|>calc(2 x 3)<|tool_end|>",
                          "<|tool_call|>calc(9223372036854775807+1)<|tool_end|>", "garbage"}) {
    std::string result;
    ASSERT_NO_THROW(result = run_tool_call(bad, people)) << bad;
    EXPECT_TRUE(result.starts_with("error: ")) << bad << " → " << result;
  }
  EXPECT_EQ(run_tool_call("<|tool_call|>calc(1/0)<|tool_end|>", people), "error: division by zero");
  EXPECT_EQ(run_tool_call("<|tool_call|>calc(7/2)<|tool_end|>", people), "3");
  // No people loaded: lookup says so instead of "no person named …".
  EXPECT_EQ(run_tool_call("<|tool_call|>lookup(Catherine, age)<|tool_end|>", {}), "error: no people are loaded for lookup");
  EXPECT_EQ(run_tool_call("<|tool_call|>calc(2*3)<|tool_end|>", {}), "6");
}

TEST(WorldTools, PendingCall) {
  const std::string prefix = "Thought: I will use the calculator.\n";
  EXPECT_EQ(pending_tool_call(prefix + "<|tool_call|>calc(2*3)<|tool_end|>"), "<|tool_call|>calc(2*3)<|tool_end|>");
  EXPECT_FALSE(pending_tool_call(prefix + "<|tool_call|>calc(2*3)"));  // not finished
  EXPECT_FALSE(pending_tool_call(prefix + "<|tool_call|>calc(2*3)<|tool_end|><|tool_result|>6<|tool_end|>"));
  EXPECT_FALSE(pending_tool_call(prefix));
  EXPECT_EQ(tool_observation("6"), "<|tool_result|>6<|tool_end|>\n");
}

TEST(WorldTools, TracesAreCorrectAndWellFormed) {
  const auto people = two_people();
  std::string calc = calc_tool_trace({TaskKind::mul, 478, 56});
  EXPECT_EQ(calc, "Thought: I will use the calculator.\n<|tool_call|>calc(478*56)<|tool_end|>"
                  "<|tool_result|>26768<|tool_end|>\nAnswer: 26768");
  EXPECT_TRUE(is_correct(calc, "26768"));
  EXPECT_TRUE(is_well_formed(calc, AnswerFormat::tool));
  std::string fact = fact_tool_trace(people[0], TaskKind::city);
  EXPECT_EQ(fact, "Thought: I will look up Catherine's city.\n<|tool_call|>lookup(Catherine, city)<|tool_end|>"
                  "<|tool_result|>Paris<|tool_end|>\nAnswer: Paris");
  EXPECT_TRUE(is_correct(fact, "Paris"));
  EXPECT_TRUE(is_well_formed(fact, AnswerFormat::tool));
  // What the runtime would insert is what the trace contains.
  const size_t end = fact.find("<|tool_end|>") + std::string("<|tool_end|>").size();
  auto call = pending_tool_call(fact.substr(0, end));
  ASSERT_TRUE(call);
  EXPECT_EQ(fact.substr(end, tool_observation("Paris").size()), tool_observation(run_tool_call(*call, people)));
}
