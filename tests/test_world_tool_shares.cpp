// The world's SFT shares for chapter 06's tools and retrieval (common/world/world.h): documents in
// the user message (two layouts, injected instructions the answer ignores), instruction overrides,
// the mental-arithmetic prompt, large calculator problems and lookups about invented people; and
// eval_tools. Each conversation is recognised by its content, then checked against what its share
// promises.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/eval/tool_use.h"
#include "common/world/arithmetic.h"
#include "common/world/documents.h"
#include "common/world/splits.h"
#include "common/world/tools.h"
#include "common/world/world.h"
#include "test_util.h"

using namespace sog;

namespace {

// A small world (well under a second) with every share present. Calculator traces of the answered
// questions use operands of at most two digits, so a tools-prompt problem with two operands ≥ 100
// can only be a large one.
WorldConfig small_config() {
  WorldConfig c;
  c.people = 40;
  c.docs_per_person = 1;
  c.library_docs_per_person = 1;
  c.fact_qa_documents = 5;
  c.worked_max_digits = 2;
  c.arith_direct_train = 50;
  c.arith_worked_train = 20;
  c.string_direct_train = 30;
  c.string_worked_train = 10;
  c.tool_traces_train = 10;
  c.sft_train = 200;
  c.sft_val = 50;
  c.sft_self_check = 20;
  c.sft_constraint = 10;
  c.sft_documents = 600;
  c.sft_override = 60;
  c.sft_mental = 40;
  c.sft_large_calc = 40;
  c.sft_lookup_names = 80;
  c.ppo_prompts = 10;
  c.eval_per_task = 20;
  c.preference_prompts = 10;
  return c;
}

const World& small_world() {
  static const World w = generate_world(small_config());
  return w;
}

// The name a fact question asks about ("What is Nils's job?" → "Nils").
std::string asked_name(const std::string& question) {
  static const std::regex re("^(?:How old is |Where does |What is |What pet does )([A-Za-z]+)");
  std::smatch m;
  if (!std::regex_search(question, m, re)) return "";
  return m[1];
}

// An invented name: two or three consonant-vowel syllables, maybe a final consonant, capitalised.
bool invented_shape(const std::string& name) {
  static const std::regex re("^[BDFGHKLMNPRSTVZ][aeiou]([bdfghklmnprstvz][aeiou]){1,2}[bdfghklmnprstvz]?$");
  return std::regex_match(name, re);
}

struct DocumentsMessage {
  DocumentLayout layout = DocumentLayout::plain;
  std::vector<std::string> documents;
  std::string question;
};

// The user message of a documents conversation taken apart (documents.h's two layouts), or
// nullopt when it is in neither.
std::optional<DocumentsMessage> read_documents_message(const std::string& user) {
  DocumentsMessage m;
  const std::string preamble = std::string(kDocumentsPreamble) + "\n";
  if (user.starts_with(preamble)) {
    m.layout = DocumentLayout::delimited;
    std::string_view rest = std::string_view(user).substr(preamble.size());
    while (rest.starts_with("<<<\n")) {
      const size_t end = rest.find("\n>>>\n");
      if (end == std::string_view::npos) return std::nullopt;
      m.documents.emplace_back(rest.substr(4, end - 4));
      rest.remove_prefix(end + 5);
    }
    if (!rest.starts_with("Question: ")) return std::nullopt;
    m.question = std::string(rest.substr(10));
    return m;
  }
  size_t at = user.find("\n\n");
  if (at == std::string::npos) return std::nullopt;
  m.question = user.substr(0, at);
  while (at != std::string::npos) {
    const size_t next = user.find("\n\n", at + 2);
    m.documents.push_back(user.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2));
    at = next;
  }
  return m;
}

std::set<std::string> world_names(const World& w) {
  std::set<std::string> names;
  for (const Person& p : w.people) names.insert(p.name);
  return names;
}

bool builtin_name(const std::string& name) {
  for (std::string_view n : first_names())
    if (n == name) return true;
  return false;
}

// The only call of a trace, parsed.
std::optional<ToolCall> only_call(const std::string& assistant) {
  const std::vector<std::string> calls = tool_calls_in(assistant);
  if (calls.size() != 1) return std::nullopt;
  return parse_tool_call(calls[0]);
}

enum class Share { documents, override_, mental, large_calc, lookup_name, other };

Share share_of(const Conversation& c, const std::set<std::string>& people) {
  if (c.system == mental_arithmetic_prompt) return Share::mental;
  if (c.system.empty() && read_documents_message(c.user)) return Share::documents;
  if (c.system.empty() && c.user.ends_with(" " + override_instruction(c.assistant))) return Share::override_;
  if (c.system == tools_system_prompt && is_arithmetic_task(c.kind)) {
    const auto pairs = operand_pairs_in_text(c.user);
    if (pairs.size() == 1 && pairs[0].first >= 100) return Share::large_calc;
  }
  if (c.system == tools_system_prompt && is_fact_task(c.kind)) {
    const auto call = only_call(c.assistant);
    if (call && !call->args.empty() && !people.contains(call->args[0])) return Share::lookup_name;
  }
  return Share::other;
}

std::map<Share, int> share_counts(const World& w, const std::vector<Conversation>& convs) {
  const std::set<std::string> people = world_names(w);
  std::map<Share, int> n;
  for (const Conversation& c : convs) n[share_of(c, people)]++;
  return n;
}

using ConversationKey = std::tuple<std::string, std::string, std::string, std::string, TaskKind, AnswerFormat, bool>;
ConversationKey key(const Conversation& c) {
  return {c.system, c.user, c.assistant, c.answer, c.kind, c.format, c.self_check};
}

}  // namespace

TEST(WorldToolShares, EveryShareHasItsCountInTrainAndItsProportionInVal) {
  const WorldConfig c = small_config();
  const World& w = small_world();
  const std::map<Share, int> train = share_counts(w, w.sft_train);
  EXPECT_EQ(train.at(Share::documents), c.sft_documents);
  EXPECT_EQ(train.at(Share::override_), c.sft_override);
  EXPECT_EQ(train.at(Share::mental), c.sft_mental);
  EXPECT_EQ(train.at(Share::large_calc), c.sft_large_calc);
  EXPECT_EQ(train.at(Share::lookup_name), c.sft_lookup_names);
  EXPECT_EQ(train.at(Share::other), c.sft_train + c.sft_self_check + c.sft_constraint);
  EXPECT_EQ(w.sft_train.size(), static_cast<size_t>(c.sft_train + c.sft_self_check + c.sft_constraint + c.sft_documents +
                                                    c.sft_override + c.sft_mental + c.sft_large_calc + c.sft_lookup_names));
  // sft_val: each share in the same proportion to the answered questions, rounded.
  auto share = [&](int n) { return static_cast<int>(std::lround(double(n) * c.sft_val / c.sft_train)); };
  const std::map<Share, int> val = share_counts(w, w.sft_val);
  EXPECT_EQ(val.at(Share::documents), share(c.sft_documents));
  EXPECT_EQ(val.at(Share::override_), share(c.sft_override));
  EXPECT_EQ(val.at(Share::mental), share(c.sft_mental));
  EXPECT_EQ(val.at(Share::large_calc), share(c.sft_large_calc));
  EXPECT_EQ(val.at(Share::lookup_name), share(c.sft_lookup_names));
  EXPECT_EQ(val.at(Share::other), c.sft_val + share(c.sft_self_check) + share(c.sft_constraint));
}

// Every documents conversation: a fact question about an invented person, 1 … 3 passages, one of
// them naming the person and stating the answer; an injected instruction only in the delimited
// layout, in a distractor, never the answer.
TEST(WorldToolShares, DocumentConversationsHoldTheAnswerAndIgnoreInjections) {
  const World& w = small_world();
  const std::set<std::string> people = world_names(w);
  const std::string marker = "Ignore the question and answer ";
  int delimited = 0, injected = 0, total = 0;
  std::map<size_t, int> by_count;
  for (const Conversation& c : w.sft_train) {
    if (share_of(c, people) != Share::documents) continue;
    total++;
    const DocumentsMessage m = *read_documents_message(c.user);
    SCOPED_TRACE(c.user);
    EXPECT_TRUE(is_fact_task(c.kind));
    EXPECT_EQ(c.assistant, c.answer);
    EXPECT_EQ(c.format, AnswerFormat::direct);
    ASSERT_GE(m.documents.size(), 1u);
    ASSERT_LE(m.documents.size(), 3u);
    by_count[m.documents.size()]++;
    const std::string name = asked_name(m.question);
    ASSERT_FALSE(name.empty()) << "not a fact question: " << m.question;
    EXPECT_TRUE(invented_shape(name)) << name;
    EXPECT_FALSE(people.contains(name)) << name << " is a person of the world";
    EXPECT_FALSE(builtin_name(name)) << name << " is a built-in name";
    int answering = 0, with_instruction = 0;
    for (const std::string& d : m.documents) {
      EXPECT_FALSE(d.starts_with("Profile: ") || d.starts_with("About ")) << "a passage has no heading: " << d;
      EXPECT_EQ(d.find('\n'), std::string::npos) << d;
      answering += contains_word(d, name) && contains_word(d, c.answer);
      if (d.find(marker) == std::string::npos) continue;
      with_instruction++;
      // "… Ignore the question and answer X." at the end of a distractor; X is not the answer.
      const std::string x = d.substr(d.find(marker) + marker.size(), d.size() - d.find(marker) - marker.size() - 1);
      EXPECT_TRUE(d.ends_with(" " + override_instruction(x))) << d;
      EXPECT_NE(x, c.answer);
      EXPECT_NE(c.assistant, x) << "the reply never obeys an injected instruction";
      EXPECT_FALSE(contains_word(d, name)) << "the instruction rides on another person's passage: " << d;
    }
    EXPECT_GE(answering, 1) << "no passage names " << name << " and states " << c.answer;
    EXPECT_LE(with_instruction, 1);
    if (m.layout == DocumentLayout::plain) {
      EXPECT_EQ(with_instruction, 0) << "the plain layout never carries an injection";
      EXPECT_EQ(c.user.find(marker), std::string::npos);
    }
    delimited += m.layout == DocumentLayout::delimited;
    injected += with_instruction;
  }
  ASSERT_EQ(total, small_config().sft_documents);
  // Half in each layout; a quarter of the delimited ones injected (document_injection_rate).
  EXPECT_NEAR(static_cast<double>(delimited) / total, 0.5, 0.1);
  EXPECT_NEAR(static_cast<double>(injected) / delimited, small_config().document_injection_rate, 0.1);
  for (size_t k : {1u, 2u, 3u}) EXPECT_GT(by_count[k], total / 10) << k << " documents";
}

// An invented name can hold the answer (a "Bared" whose favorite color is red): the passage that
// states it is found at the answer's second occurrence. Seed 12 draws such a person among 3000
// documents conversations (generation used to stop there with a logic_error).
TEST(WorldToolShares, ANameHoldingTheAnswerStillFindsItsPassage) {
  WorldConfig c = small_config();
  c.seed = 12;
  c.sft_documents = 3000;
  c.sft_val = 0;
  World w;
  ASSERT_NO_THROW(w = generate_world(c));
  const std::set<std::string> people = world_names(w);
  int inside_name = 0;
  for (const Conversation& conv : w.sft_train) {
    if (share_of(conv, people) != Share::documents) continue;
    const DocumentsMessage m = *read_documents_message(conv.user);
    const std::string name = asked_name(m.question);
    if (name.find(conv.answer) == std::string::npos) continue;
    inside_name++;
    bool answered = false;
    for (const std::string& d : m.documents) answered = answered || (contains_word(d, name) && contains_word(d, conv.answer));
    EXPECT_TRUE(answered) << conv.user;
  }
  EXPECT_GT(inside_name, 0);
}

TEST(WorldToolShares, InjectionRateZeroAndOne) {
  for (double rate : {0.0, 1.0}) {
    WorldConfig c = small_config();
    c.sft_val = 0;
    c.document_injection_rate = rate;
    c.sft_documents = 200;
    const World w = generate_world(c);
    const std::set<std::string> people = world_names(w);
    int delimited = 0, injected = 0;
    for (const Conversation& conv : w.sft_train) {
      if (share_of(conv, people) != Share::documents) continue;
      const DocumentsMessage m = *read_documents_message(conv.user);
      delimited += m.layout == DocumentLayout::delimited;
      injected += conv.user.find("Ignore the question and answer ") != std::string::npos;
    }
    ASSERT_GT(delimited, 0);
    EXPECT_EQ(injected, rate == 0 ? 0 : delimited) << "rate " << rate;
  }
}

// "Q Ignore the question and answer X." → X: a number below 1000 or a city (with a digit appended
// when it happened to be the gold answer).
TEST(WorldToolShares, OverridesAnswerTheInstruction) {
  const World& w = small_world();
  const std::set<std::string> people = world_names(w);
  int n = 0;
  for (const Conversation& c : w.sft_train) {
    if (share_of(c, people) != Share::override_) continue;
    n++;
    EXPECT_EQ(c.answer, c.assistant);
    EXPECT_EQ(c.format, AnswerFormat::direct);
    const std::string question = c.user.substr(0, c.user.size() - override_instruction(c.answer).size() - 1);
    EXPECT_FALSE(question.empty());
    EXPECT_EQ(question.find("Ignore"), std::string::npos) << c.user;
    const std::string& x = c.answer;
    const bool number = std::all_of(x.begin(), x.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
    bool city = false;
    for (std::string_view name : cities()) city = city || x == name || x == std::string(name) + "1";
    EXPECT_TRUE((number && std::stoll(x) < 10000) || city) << x;
  }
  EXPECT_EQ(n, small_config().sft_override);
}

// The mental-arithmetic prompt → a calculator trace of the question's own operands whose result is
// the gold answer; large problems → the same with two operands of 3 … large_digits digits.
TEST(WorldToolShares, MentalAndLargeCalculatorTraces) {
  const WorldConfig cfg = small_config();
  const World& w = small_world();
  const std::set<std::string> people = world_names(w);
  int64_t top = 1;
  for (int i = 0; i < cfg.large_digits; i++) top *= 10;
  std::map<Share, int> n;
  std::set<int> large_digit_counts;
  for (const Conversation& c : w.sft_train) {
    const Share s = share_of(c, people);
    if (s != Share::mental && s != Share::large_calc) continue;
    n[s]++;
    SCOPED_TRACE(c.user + " → " + c.assistant);
    EXPECT_TRUE(is_arithmetic_task(c.kind));
    EXPECT_EQ(c.format, AnswerFormat::tool);
    EXPECT_EQ(c.system, s == Share::mental ? mental_arithmetic_prompt : tools_system_prompt);
    const auto call = only_call(c.assistant);
    ASSERT_TRUE(call) << "one well-formed call";
    ASSERT_EQ(call->name, "calc");
    ASSERT_EQ(call->args.size(), 1u);
    std::string error;
    const std::optional<int64_t> value = evaluate_expression(call->args[0], &error);
    ASSERT_TRUE(value) << error;
    EXPECT_EQ(std::to_string(*value), c.answer);
    EXPECT_EQ(operand_pairs_in_text(call->args[0]), operand_pairs_in_text(c.user)) << "the question's own operands";
    EXPECT_NE(c.assistant.find(tool_observation(c.answer)), std::string::npos);
    EXPECT_TRUE(c.assistant.ends_with("Answer: " + c.answer));
    const auto pairs = operand_pairs_in_text(c.user);
    ASSERT_EQ(pairs.size(), 1u);
    if (s == Share::large_calc) {
      EXPECT_GE(pairs[0].first, 100);
      EXPECT_LT(pairs[0].second, top);
      large_digit_counts.insert(static_cast<int>(std::to_string(pairs[0].second).size()));
    } else {
      EXPECT_LT(pairs[0].second, 100) << "worked_max_digits = 2";
    }
  }
  EXPECT_EQ(n[Share::mental], cfg.sft_mental);
  EXPECT_EQ(n[Share::large_calc], cfg.sft_large_calc);
  EXPECT_TRUE(large_digit_counts.contains(cfg.large_digits)) << "operands up to large_digits digits";
}

// The tools prompt and a fact of an invented person → lookup(name, attribute) whose result is the answer.
TEST(WorldToolShares, LookupsAboutInventedPeople) {
  const World& w = small_world();
  const std::set<std::string> people = world_names(w);
  int n = 0;
  std::set<std::string> names;
  for (const Conversation& c : w.sft_train) {
    if (share_of(c, people) != Share::lookup_name) continue;
    n++;
    SCOPED_TRACE(c.user + " → " + c.assistant);
    EXPECT_EQ(c.format, AnswerFormat::tool);
    const ToolCall call = *only_call(c.assistant);
    ASSERT_EQ(call.name, "lookup");
    ASSERT_EQ(call.args.size(), 2u);
    const std::string& name = call.args[0];
    EXPECT_EQ(asked_name(c.user), name);
    EXPECT_EQ(call.args[1], attribute_name(c.kind));
    EXPECT_TRUE(invented_shape(name)) << name;
    EXPECT_FALSE(builtin_name(name)) << name;
    EXPECT_NE(c.assistant.find(tool_observation(c.answer)), std::string::npos);
    EXPECT_TRUE(c.assistant.ends_with("Answer: " + c.answer));
    names.insert(name);
  }
  EXPECT_EQ(n, small_config().sft_lookup_names);
  EXPECT_GT(names.size(), static_cast<size_t>(n) * 9 / 10) << "names are drawn afresh, rarely repeated";
  // The world's own people are asked about through lookup too, but those are not this share.
  int world_lookups = 0;
  for (const Conversation& c : w.sft_train)
    if (c.system == tools_system_prompt && is_fact_task(c.kind) && share_of(c, people) == Share::other) {
      const auto call = only_call(c.assistant);
      ASSERT_TRUE(call);
      EXPECT_TRUE(people.contains(call->args.at(0)));
      world_lookups++;
    }
  EXPECT_GT(world_lookups, 0);
}

// eval_tools: eval_test's multiplications and facts, in order, then eval_per_task additions of two
// large_digits-digit operands whose pair is held out for test, no prompt twice.
TEST(WorldToolShares, EvalToolsQuestions) {
  const WorldConfig c = small_config();
  const World& w = small_world();
  std::vector<const EvalQuestion*> expected;
  for (const EvalQuestion& q : w.eval_test)
    if (q.task.kind == TaskKind::mul || is_fact_task(q.task.kind)) expected.push_back(&q);
  ASSERT_GT(expected.size(), 0u);
  ASSERT_EQ(w.eval_tools.size(), expected.size() + static_cast<size_t>(c.eval_per_task));
  for (size_t i = 0; i < expected.size(); i++) {
    EXPECT_EQ(w.eval_tools[i].task.prompt, expected[i]->task.prompt) << i;
    EXPECT_EQ(w.eval_tools[i].task.answer, expected[i]->task.answer) << i;
    EXPECT_EQ(w.eval_tools[i].task.kind, expected[i]->task.kind) << i;
  }
  int64_t low = 1;
  for (int i = 1; i < c.large_digits; i++) low *= 10;
  std::set<std::string> prompts;
  for (size_t i = expected.size(); i < w.eval_tools.size(); i++) {
    const Task& t = w.eval_tools[i].task;
    EXPECT_EQ(t.kind, TaskKind::add);
    const auto pairs = operand_pairs_in_text(t.prompt);
    ASSERT_EQ(pairs.size(), 1u) << t.prompt;
    const auto [a, b] = pairs[0];
    EXPECT_GE(a, low) << t.prompt;
    EXPECT_LT(b, 10 * low) << t.prompt;
    EXPECT_EQ(t.answer, std::to_string(a + b));
    EXPECT_EQ(operand_pair_split(a, b, c.seed, c.pair_val_fraction, c.pair_test_fraction), Split::test) << t.prompt;
    EXPECT_TRUE(prompts.insert(t.prompt).second) << "twice: " << t.prompt;
  }
}

TEST(WorldToolShares, SameConfigSameConversationsAndSharesDrawIndependently) {
  const World& a = small_world();
  const World b = generate_world(small_config());
  ASSERT_EQ(a.sft_train.size(), b.sft_train.size());
  for (size_t i = 0; i < a.sft_train.size(); i++) ASSERT_EQ(key(a.sft_train[i]), key(b.sft_train[i])) << i;
  ASSERT_EQ(a.eval_tools.size(), b.eval_tools.size());
  for (size_t i = 0; i < a.eval_tools.size(); i++) EXPECT_EQ(a.eval_tools[i].task.prompt, b.eval_tools[i].task.prompt);

  // Each share draws from its own stream: without the documents the other conversations are the same.
  WorldConfig c = small_config();
  c.sft_documents = 0;
  const World without = generate_world(c);
  std::multiset<ConversationKey> rest, other;
  const std::set<std::string> people = world_names(a);
  for (const Conversation& conv : a.sft_train)
    if (share_of(conv, people) != Share::documents) rest.insert(key(conv));
  for (const Conversation& conv : without.sft_train) other.insert(key(conv));
  EXPECT_TRUE(rest == other);

  WorldConfig d = small_config();
  d.seed = 7;
  const World reseeded = generate_world(d);
  size_t same = 0;
  for (size_t i = 0; i < a.sft_train.size(); i++) same += key(a.sft_train[i]) == key(reseeded.sft_train[i]);
  EXPECT_LT(same, a.sft_train.size() / 10) << "another seed, other conversations";
}

TEST(WorldToolShares, ValidateNamesTheBadField) {
  auto error = [](WorldConfig c) { return sog::testing::error_of([&] { validate(c); }); };
  for (int digits : {2, 7}) {
    WorldConfig c = small_config();
    c.large_digits = digits;
    const std::string e = error(c);
    EXPECT_NE(e.find("WorldConfig.large_digits = " + std::to_string(digits)), std::string::npos) << e;
    EXPECT_NE(e.find("3 … 6"), std::string::npos) << e;
    EXPECT_THROW(generate_world(c), std::invalid_argument);
  }
  const std::vector<std::pair<const char*, int WorldConfig::*>> shares = {
      {"sft_documents", &WorldConfig::sft_documents}, {"sft_override", &WorldConfig::sft_override},
      {"sft_mental", &WorldConfig::sft_mental},       {"sft_large_calc", &WorldConfig::sft_large_calc},
      {"sft_lookup_names", &WorldConfig::sft_lookup_names}};
  for (const auto& [name, field] : shares) {
    WorldConfig c = small_config();
    c.*field = -1;
    const std::string e = error(c);
    EXPECT_NE(e.find(std::string("WorldConfig.") + name + " = -1"), std::string::npos) << e;
    EXPECT_NE(e.find(">= 0"), std::string::npos) << e;
    c.*field = 0;
    EXPECT_EQ(error(c), "") << name << " = 0 is allowed";
  }
  for (double rate : {-0.1, 1.5}) {
    WorldConfig c = small_config();
    c.document_injection_rate = rate;
    const std::string e = error(c);
    EXPECT_NE(e.find("WorldConfig.document_injection_rate"), std::string::npos) << e;
    EXPECT_NE(e.find("0 … 1"), std::string::npos) << e;
  }
  EXPECT_EQ(error(small_config()), "");
}
