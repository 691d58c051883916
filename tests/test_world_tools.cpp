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
  std::string why;
  EXPECT_FALSE(evaluate_expression("", &why));
  EXPECT_FALSE(evaluate_expression("1 +", &why));
  EXPECT_FALSE(evaluate_expression("1 / 2", &why));
  EXPECT_NE(why.find("'/'"), std::string::npos) << why;
  EXPECT_FALSE(evaluate_expression("99999999999 * 99999999999", &why));
  EXPECT_EQ(why, "overflow");
  EXPECT_FALSE(evaluate_expression("123456789012345678901234567890", &why));
  EXPECT_FALSE(evaluate_expression(std::string(1000, '('), &why));  // nesting limit, no stack overflow
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
                          "<|tool_call|>calc(<|tool_end|>", "garbage"}) {
    std::string result;
    ASSERT_NO_THROW(result = run_tool_call(bad, people)) << bad;
    EXPECT_TRUE(result.starts_with("error: ")) << bad << " → " << result;
  }
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
