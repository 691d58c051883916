// common/eval/tool_use.h: the calls read from a completion, and the tool-use row of a hand-made
// report whose every figure is counted by hand below.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/eval/tool_use.h"

using namespace sog;
using json = nlohmann::json;

namespace {

const std::string kCall = "<|tool_call|>", kEnd = "<|tool_end|>", kResult = "<|tool_result|>";

// A call the runtime ran: the call, then its observation.
std::string ran(const std::string& call, const std::string& result) {
  return kCall + call + kEnd + kResult + result + kEnd + "\n";
}

QuestionResult question(const std::string& task, const std::string& answer, const std::string& completion, bool correct) {
  QuestionResult q;
  q.question = {"Q?", answer, task};
  SampleResult s;
  s.completion = completion;
  s.correct = correct;
  q.samples.push_back(s);
  return q;
}

const std::vector<Person> kPeople = {{"Nils", 46, "Paris", "baker", "cat", "green", "chess"},
                                     {"Goran", 78, "Oslo", "nurse", "dog", "red", "golf"}};

// Ten questions (first samples):
//   #  task  calls (parse)  first call right  correct
//   1  mul   1 (1)          yes               yes
//   2  mul   1 (1)          yes               no
//   3  mul   1 (1)          no: 48*37 ≠ gold   no
//   4  add   2 (1)          no: first malformed   yes
//   5  add   0              —                 yes   (a second sample with a call does not count)
//   6  age   1 (1)          yes (lookup)      yes
//   7  age   1 (1)          no: unknown person  no
//   8  city  0              —                 no
//   9  add   0: it wrote the result itself     yes
//  10  add   0: the call is never closed       no
EvalReport hand_made_report() {
  EvalReport r;
  r.questions = {
      question("mul", "3504", "Thought: I will use the calculator.\n" + ran("calc(48*73)", "3504") + "Answer: 3504", true),
      question("mul", "3504", ran("calc(48*73)", "3504") + "Answer: 3500", false),
      question("mul", "3504", ran("calc(48*37)", "1776") + "Answer: 1776", false),
      question("add", "5", ran("calc 2+3)", "error: expected '('") + ran("calc(2+3)", "5") + "Answer: 5", true),
      question("add", "7", "7", true),
      question("age", "46", ran("lookup(Nils, age)", "46") + "Answer: 46", true),
      question("age", "54", ran("lookup(Zed, age)", "error: no person named Zed") + "Answer: 40", false),
      question("city", "Paris", "Tokyo", false),
      question("add", "9", kCall + "calc(4+5)" + kResult + "9" + kEnd + "\nAnswer: 9", true),
      question("add", "2", kCall + "calc(1+1", false),
  };
  SampleResult second;
  second.completion = ran("calc(3+4)", "7");
  second.correct = true;
  r.questions[4].samples.push_back(second);
  return r;
}

}  // namespace

TEST(ToolUse, CallsInACompletion) {
  EXPECT_TRUE(tool_calls_in("").empty());
  EXPECT_TRUE(tool_calls_in("Answer: 5").empty());
  // Calls the runtime answered, in order, markers included, results left out.
  EXPECT_EQ(tool_calls_in("Thought: x\n" + ran("calc(48*73)", "3504") + ran("lookup(Nils, age)", "46") + "Answer: 46"),
            (std::vector<std::string>{"<|tool_call|>calc(48*73)<|tool_end|>", "<|tool_call|>lookup(Nils, age)<|tool_end|>"}));
  // A call waiting for its result (the runtime's view mid-generation) is a call.
  EXPECT_EQ(tool_calls_in("x <|tool_call|>calc(1+1)<|tool_end|>"), (std::vector<std::string>{"<|tool_call|>calc(1+1)<|tool_end|>"}));
  // A malformed call that is closed is still a call (it just does not parse).
  EXPECT_EQ(tool_calls_in(ran("calc 2+3)", "error")), (std::vector<std::string>{"<|tool_call|>calc 2+3)<|tool_end|>"}));
  // The model wrote the result itself: no call; a real call after it still counts.
  EXPECT_TRUE(tool_calls_in("<|tool_call|>calc(4+5)<|tool_result|>9<|tool_end|>\nAnswer: 9").empty());
  EXPECT_EQ(tool_calls_in("<|tool_call|>calc(4+5)<|tool_result|>9<|tool_end|>" + ran("calc(1+2)", "3")),
            (std::vector<std::string>{"<|tool_call|>calc(1+2)<|tool_end|>"}));
  // Never closed: not a call, whether alone or after a closed one.
  EXPECT_TRUE(tool_calls_in("<|tool_call|>calc(1+1").empty());
  EXPECT_EQ(tool_calls_in(ran("calc(1+1)", "2") + "<|tool_call|>calc(2"),
            (std::vector<std::string>{"<|tool_call|>calc(1+1)<|tool_end|>"}));
}

TEST(ToolUse, EveryFigureOfTheRowByHand) {
  const json row = tool_use_json(hand_made_report(), kPeople);
  // 10 questions; 6 with a call (1, 2, 3, 4, 6, 7); 7 calls of which 6 parse; right first calls:
  // 1, 2, 6, of which 1 and 6 answered right; no call: 5, 8, 9, 10, of which 5 and 9 right.
  EXPECT_DOUBLE_EQ(row["call_rate"].get<double>(), 6.0 / 10);
  EXPECT_DOUBLE_EQ(row["calls_per_question"].get<double>(), 7.0 / 10);
  EXPECT_DOUBLE_EQ(row["parse_rate"].get<double>(), 6.0 / 7);
  EXPECT_DOUBLE_EQ(row["right_call_rate"].get<double>(), 3.0 / 10);
  EXPECT_DOUBLE_EQ(row["accuracy_when_call_right"].get<double>(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(row["accuracy_without_call"].get<double>(), 2.0 / 4);
  const json& t = row["per_task"];
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t["mul"]["n"], 3);
  EXPECT_DOUBLE_EQ(t["mul"]["call_rate"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(t["mul"]["right_call_rate"].get<double>(), 2.0 / 3);
  EXPECT_EQ(t["add"]["n"], 4);
  EXPECT_DOUBLE_EQ(t["add"]["call_rate"].get<double>(), 1.0 / 4);
  EXPECT_DOUBLE_EQ(t["add"]["right_call_rate"].get<double>(), 0.0);
  EXPECT_EQ(t["age"]["n"], 2);
  EXPECT_DOUBLE_EQ(t["age"]["call_rate"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(t["age"]["right_call_rate"].get<double>(), 0.5);
  EXPECT_EQ(t["city"]["n"], 1);
  EXPECT_DOUBLE_EQ(t["city"]["call_rate"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(t["city"]["right_call_rate"].get<double>(), 0.0);
  std::set<std::string> keys;
  for (const auto& [k, v] : row.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"call_rate", "calls_per_question", "parse_rate", "right_call_rate",
                                         "accuracy_when_call_right", "accuracy_without_call", "per_task"}));
}

TEST(ToolUse, LookupNeedsThePeople) {
  // Without people every lookup errs: question 6's call is no longer right.
  const json row = tool_use_json(hand_made_report(), {});
  EXPECT_DOUBLE_EQ(row["right_call_rate"].get<double>(), 2.0 / 10);
  EXPECT_DOUBLE_EQ(row["accuracy_when_call_right"].get<double>(), 1.0 / 2);
  EXPECT_DOUBLE_EQ(row["per_task"]["age"]["right_call_rate"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(row["parse_rate"].get<double>(), 6.0 / 7) << "parsing does not depend on the people";
}

TEST(ToolUse, RatesWithNothingToCountAreNull) {
  const json empty = tool_use_json(EvalReport{}, kPeople);
  EXPECT_TRUE(empty["call_rate"].is_null());
  EXPECT_EQ(empty["calls_per_question"].get<double>(), 0.0);
  EXPECT_TRUE(empty["parse_rate"].is_null());
  EXPECT_TRUE(empty["right_call_rate"].is_null());
  EXPECT_TRUE(empty["accuracy_when_call_right"].is_null());
  EXPECT_TRUE(empty["accuracy_without_call"].is_null());
  EXPECT_TRUE(empty["per_task"].empty());
  // No call at all: the call rates are 0, what needs a call is null.
  EvalReport r;
  r.questions = {question("add", "7", "7", true), question("add", "8", "9", false)};
  const json none = tool_use_json(r, kPeople);
  EXPECT_EQ(none["call_rate"].get<double>(), 0.0);
  EXPECT_TRUE(none["parse_rate"].is_null());
  EXPECT_EQ(none["right_call_rate"].get<double>(), 0.0);
  EXPECT_TRUE(none["accuracy_when_call_right"].is_null());
  EXPECT_DOUBLE_EQ(none["accuracy_without_call"].get<double>(), 0.5);
  // Every call right: nothing is without a call.
  r.questions = {question("mul", "6", ran("calc(2*3)", "6") + "Answer: 6", true)};
  const json all = tool_use_json(r, kPeople);
  EXPECT_EQ(all["accuracy_when_call_right"].get<double>(), 1.0);
  EXPECT_TRUE(all["accuracy_without_call"].is_null());
}
