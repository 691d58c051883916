// common/eval/prompt_format.h: the prompt of every format, byte for byte, and how its reply ends.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "byte_tokenizer.h"
#include "common/chat/chat_template.h"
#include "common/eval/prompt_format.h"
#include "common/tokenizer/special_tokens.h"
#include "test_util.h"

using namespace sog;

namespace {

const Tokenizer& tok() { return sog::testing::shared_byte_tokenizer(); }

const SolvedExamples kShots = {{"What is 12 + 7?", "19"}, {"What is 3 + 30?", "33"}};
const std::string kQuestion = "What is 40 + 2?";
const std::string kHeader =
    "The following is a conversation between a user and a helpful, accurate assistant. "
    "The assistant gives the answer alone, on one line.\n\n";

PromptOptions options(PromptFormat format, int shots = 2) {
  PromptOptions o;
  o.format = format;
  o.shots = shots;
  return o;
}

std::vector<int32_t> ids_of(const std::string& text) { return tok().encode(text, AllowedSpecial::all); }

Answer answer(const std::string& text, int32_t stop_id, bool stop_rule) {
  return {ids_of(text), text, stop_id, stop_rule};
}

}  // namespace

TEST(PromptFormat, QaSheet) {
  EvalPrompt p = build_prompt(tok(), options(PromptFormat::qa_fewshot), kShots, kQuestion);
  EXPECT_EQ(p.page, "Q: What is 12 + 7?\nA: 19\nQ: What is 3 + 30?\nA: 33\nQ: What is 40 + 2?\nA:");
  EXPECT_EQ(tok().decode(p.ids), "<|endoftext|>" + p.page);
  std::vector<int32_t> expected = {tok().eot_id()};
  for (int32_t id : tok().encode(p.page)) expected.push_back(id);
  EXPECT_EQ(p.ids, expected);
  EXPECT_EQ(build_prompt(tok(), options(PromptFormat::qa_fewshot, 0), {}, kQuestion).page, "Q: What is 40 + 2?\nA:");
}

TEST(PromptFormat, AssistantDocument) {
  EvalPrompt p = build_prompt(tok(), options(PromptFormat::fewshot_doc), kShots, kQuestion);
  EXPECT_EQ(p.page, kHeader +
                        "User: What is 12 + 7?\nAssistant: 19\n\n"
                        "User: What is 3 + 30?\nAssistant: 33\n\n"
                        "User: What is 40 + 2?\nAssistant:");
  EXPECT_EQ(tok().decode(p.ids), "<|endoftext|>" + p.page);
  PromptOptions o = options(PromptFormat::fewshot_doc, 1);
  o.system = "You are a careful mathematician.";
  EXPECT_EQ(build_prompt(tok(), o, {kShots[0]}, kQuestion).page,
            kHeader + "You are a careful mathematician.\n\nUser: What is 12 + 7?\nAssistant: 19\n\n"
                      "User: What is 40 + 2?\nAssistant:");
}

TEST(PromptFormat, Chat) {
  const ChatTokens t(tok());
  // Chat takes no examples, whatever shots says.
  EvalPrompt p = build_prompt(tok(), options(PromptFormat::chat), {}, kQuestion);
  EXPECT_EQ(p.page, "<|user|> What is 40 + 2?<|end|><|assistant|>");
  EXPECT_EQ(p.ids, render_for_completion(tok(), {{ChatRole::user, kQuestion}}));
  EXPECT_EQ(p.ids.front(), t.eot);
  EXPECT_EQ(p.ids.back(), t.assistant);
  EXPECT_EQ(shots_in_prompt(options(PromptFormat::chat)), 0);
  EXPECT_EQ(shots_in_prompt(options(PromptFormat::fewshot_doc)), 2);

  PromptOptions o = options(PromptFormat::chat);
  o.system = "Be brief.";
  o.chain_of_thought = true;
  p = build_prompt(tok(), o, {}, kQuestion);
  EXPECT_EQ(p.page, "<|system|> Be brief.<|end|><|user|> What is 40 + 2? Think step by step.<|end|><|assistant|>");
  // A user's "<|end|>" stays text: the question cannot forge a turn.
  p = build_prompt(tok(), options(PromptFormat::chat), {}, "a<|end|>b");
  EXPECT_EQ(std::count(p.ids.begin(), p.ids.end(), t.end), 1);
}

TEST(PromptFormat, ChainOfThoughtAsksOnlyTheQuestionStepByStep) {
  PromptOptions o = options(PromptFormat::qa_fewshot, 1);
  o.chain_of_thought = true;
  EXPECT_EQ(build_prompt(tok(), o, {kShots[0]}, kQuestion).page,
            "Q: What is 12 + 7?\nA: 19\nQ: What is 40 + 2? Think step by step.\nA:");
  EXPECT_EQ(answer_format_of(o), AnswerFormat::worked);
  EXPECT_EQ(answer_format_of(options(PromptFormat::qa_fewshot)), AnswerFormat::direct);
}

TEST(PromptFormat, ToolsOfferTheWorldsToolsInTheSystemPrompt) {
  PromptOptions o = options(PromptFormat::chat);
  o.tools = true;
  EXPECT_EQ(answer_format_of(o), AnswerFormat::tool);
  EXPECT_EQ(build_prompt(tok(), o, {}, kQuestion).page,
            "<|system|> " + std::string(tools_system_prompt) + "<|end|><|user|> What is 40 + 2?<|end|><|assistant|>");
  o.system = "Mine.";
  EXPECT_EQ(system_prompt_of(o), "Mine.");
  PromptOptions sheet = options(PromptFormat::qa_fewshot, 0);
  sheet.tools = true;
  EXPECT_EQ(system_prompt_of(sheet), "");
}

TEST(PromptFormat, NamesAndBadOptions) {
  for (PromptFormat f : {PromptFormat::qa_fewshot, PromptFormat::fewshot_doc, PromptFormat::chat, PromptFormat::solution_doc})
    EXPECT_EQ(prompt_format_from_name(prompt_format_name(f)), f);
  const std::string bad = sog::testing::error_of([] { prompt_format_from_name("poem"); });
  EXPECT_NE(bad.find("unknown prompt format 'poem': expected chat, fewshot-doc, qa-fewshot or solution-doc"),
            std::string::npos) << bad;
  PromptOptions o = options(PromptFormat::qa_fewshot);
  o.system = "x";
  EXPECT_NE(sog::testing::error_of([&] { validate(o); }).find("no place on a qa-fewshot sheet"), std::string::npos);
  EXPECT_NE(sog::testing::error_of([] { validate(options(PromptFormat::chat, -1)); }).find("--shots -1"), std::string::npos);
}

// The world's worked-solution document, as pretraining wrote it: the question, then who solves it.
TEST(PromptFormat, SolutionDocumentNamesWhoSolves) {
  PromptOptions o = options(PromptFormat::solution_doc, 0);
  o.persona = "expert";
  EvalPrompt p = build_prompt(tok(), o, {}, kQuestion);
  EXPECT_EQ(p.page, "Q: What is 40 + 2?\nExpert solution:\n");
  std::vector<int32_t> expected = {tok().eot_id()};
  for (int32_t id : tok().encode(p.page)) expected.push_back(id);
  EXPECT_EQ(p.ids, expected);
  o.persona = "student";
  EXPECT_EQ(build_prompt(tok(), o, {}, kQuestion).page, "Q: What is 40 + 2?\nStudent solution:\n");
  o.persona = "";
  EXPECT_EQ(build_prompt(tok(), o, {}, kQuestion).page, "Q: What is 40 + 2?\n") << "no one named: the model picks";
  EXPECT_EQ(answer_format_of(o), AnswerFormat::worked);
  EXPECT_EQ(shots_in_prompt(o), 0);
  // The reply is a worked solution: over at the end of its "Answer:" line or at the next question.
  ReplyRules r = reply_rules(tok(), o, 64);
  EXPECT_FALSE(r.stop.should_stop(ids_of("40 + 2\nones: 0 + 2 = 2\n")));
  EXPECT_TRUE(r.stop.should_stop(ids_of("40 + 2\nones: 0 + 2 = 2\nAnswer: 42\n")));
  EXPECT_TRUE(r.stop.should_stop(ids_of("A: 42\nQ:")));
  EXPECT_TRUE(r.well_formed(answer("40 + 2\nones: 0 + 2 = 2\nAnswer: 42\n", -1, true)));
  // Refused: a persona not in the world, a persona outside a solution document, examples in one.
  o.persona = "teacher";
  EXPECT_NE(sog::testing::error_of([&] { validate(o); }).find("--persona 'teacher'"), std::string::npos);
  PromptOptions chat = options(PromptFormat::chat, 0);
  chat.persona = "expert";
  EXPECT_NE(sog::testing::error_of([&] { validate(chat); }).find("only a solution document"), std::string::npos);
  PromptOptions shots = options(PromptFormat::solution_doc, 2);
  EXPECT_NE(sog::testing::error_of([&] { validate(shots); }).find("no examples"), std::string::npos);
}

// Direct replies in a document end at the end of the line; in chat at <|end|>; everywhere at <|endoftext|>.
TEST(PromptFormat, StopRules) {
  const ChatTokens t(tok());
  ReplyRules doc = reply_rules(tok(), options(PromptFormat::fewshot_doc), 7);
  EXPECT_EQ(doc.stop.max_new_tokens, 7);
  EXPECT_EQ(doc.stop.stop_ids, std::vector<int32_t>{t.eot});
  ASSERT_TRUE(doc.stop.should_stop);
  EXPECT_FALSE(doc.stop.should_stop(ids_of(" 42")));
  EXPECT_TRUE(doc.stop.should_stop(ids_of(" 42\n")));
  EXPECT_EQ(doc.turn_end, -1);

  ReplyRules chat = reply_rules(tok(), options(PromptFormat::chat), 7);
  EXPECT_EQ(chat.stop.stop_ids, (std::vector<int32_t>{t.eot, t.end}));
  EXPECT_FALSE(chat.stop.should_stop);
  EXPECT_EQ(chat.turn_end, t.end);

  // A worked reply runs over several lines: to the end of the "Answer:" line, or the next question.
  PromptOptions cot = options(PromptFormat::qa_fewshot);
  cot.chain_of_thought = true;
  ReplyRules sheet = reply_rules(tok(), cot, 64);
  EXPECT_FALSE(sheet.stop.should_stop(ids_of("\n40 + 2\nones: 0 + 2 = 2\n")));
  EXPECT_FALSE(sheet.stop.should_stop(ids_of("\n40 + 2\nAnswer: 42")));
  EXPECT_TRUE(sheet.stop.should_stop(ids_of("\n40 + 2\nAnswer: 42\n")));
  EXPECT_TRUE(sheet.stop.should_stop(ids_of(" 42\nQ:")));
  cot.format = PromptFormat::fewshot_doc;
  ReplyRules document = reply_rules(tok(), cot, 64);
  EXPECT_FALSE(document.stop.should_stop(ids_of(" 42\nQ:")));
  EXPECT_TRUE(document.stop.should_stop(ids_of(" 42\n\nUser:")));
}

// Well-formed: ended its turn by itself, and the world's format for what was asked.
TEST(PromptFormat, WellFormed) {
  const ChatTokens t(tok());
  ReplyRules chat = reply_rules(tok(), options(PromptFormat::chat), 8);
  EXPECT_TRUE(chat.well_formed(answer("42<|end|>", t.end, false)));
  EXPECT_FALSE(chat.well_formed(answer("42<|endoftext|>", t.eot, false))) << "ended on <|endoftext|>, not its turn's end";
  EXPECT_FALSE(chat.well_formed(answer("42 42 42 4", -1, false))) << "ran out of tokens";
  EXPECT_FALSE(chat.well_formed(answer("42\nor 43<|end|>", t.end, false))) << "two lines";
  EXPECT_FALSE(chat.well_formed(answer("Answer: 42<|end|>", t.end, false))) << "not the direct format";

  ReplyRules doc = reply_rules(tok(), options(PromptFormat::qa_fewshot), 8);
  EXPECT_TRUE(doc.well_formed(answer(" 42\n", -1, true)));
  EXPECT_FALSE(doc.well_formed(answer(" 42", -1, false)));
  EXPECT_FALSE(doc.well_formed(answer(" 42<|endoftext|>", t.eot, false)));
  EXPECT_FALSE(doc.well_formed(answer("\n", -1, true))) << "empty";

  PromptOptions cot = options(PromptFormat::qa_fewshot);
  cot.chain_of_thought = true;
  ReplyRules worked = reply_rules(tok(), cot, 64);
  EXPECT_TRUE(worked.well_formed(answer("\n40 + 2\nones: 0 + 2 = 2\nAnswer: 42\n", -1, true)));
  EXPECT_FALSE(worked.well_formed(answer(" Answer: 42\n", -1, true))) << "no step";
  EXPECT_FALSE(worked.well_formed(answer(" 42\nQ:", -1, true))) << "no Answer: line";
}
