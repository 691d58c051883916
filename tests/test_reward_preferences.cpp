// The reward model's comparison data: groups ranked by the world's labeler, label noise, the
// rankings.jsonl and pairs.jsonl files, TRL's three pair forms, and the errors of bad lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "common/io/atomic_file.h"
#include "common/reward/preferences.h"
#include "test_util.h"

using namespace sog;

namespace {

const Task kAdd{"What is 3 + 4?", "7", TaskKind::add, AnswerFormat::direct};
const Task kCity{"Where does Catherine live?", "Zürich", TaskKind::city, AnswerFormat::direct};
const Task kToolAdd{"What is 478 + 56?", "534", TaskKind::add, AnswerFormat::tool};

using Pairs = std::vector<std::pair<int32_t, int32_t>>;

// 4 distinct replies of kAdd whose grades all differ, given in no particular order and with a repeat:
// ranked "7" (correct, formed, 1 byte), "7." (correct, formed, 2 bytes: the grader drops one
// trailing '.'), "Answer: 7" (correct, malformed), "8" (wrong, formed).
const std::vector<std::string> kAddReplies = {"Answer: 7", "8", "7.", "7", "7"};

int64_t total_pairs(const std::vector<ComparisonGroup>& groups) {
  int64_t n = 0;
  for (const auto& g : groups) n += static_cast<int64_t>(g.pairs.size());
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// rank_into_group

TEST(RewardPreferences, RankIntoGroupOrdersDedupsAndPairsEveryStrictComparison) {
  const ComparisonGroup g = rank_into_group(kAdd, kAddReplies);
  EXPECT_EQ(g.prompt, (Chat{{ChatRole::user, "What is 3 + 4?"}}));
  EXPECT_EQ(g.task, "add");
  EXPECT_EQ(g.answer, "7");
  EXPECT_EQ(g.completions, (std::vector<std::string>{"7", "7.", "Answer: 7", "8"}));  // "7" once
  EXPECT_EQ(g.correct, (std::vector<int8_t>{1, 1, 1, 0}));
  EXPECT_EQ(g.well_formed, (std::vector<int8_t>{1, 1, 0, 1}));
  // All grades differ: C(4,2) = 6 pairs, better first, in order of i then j.
  EXPECT_EQ(g.pairs, (Pairs{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}}));
}

TEST(RewardPreferences, TiesAreNoPair) {
  // "5" and "6" are both wrong, well-formed and one byte: the labeler's tie-break orders them
  // ("5" first) but prefers neither, so they are not compared; each loses to "7".
  const ComparisonGroup g = rank_into_group(kAdd, {"6", "7", "5"});
  EXPECT_EQ(g.completions, (std::vector<std::string>{"7", "5", "6"}));
  EXPECT_EQ(g.pairs, (Pairs{{0, 1}, {0, 2}}));
}

TEST(RewardPreferences, AllAlikeGroupsHaveNoPair) {
  const ComparisonGroup alike = rank_into_group(kAdd, {"3", "1", "2"});
  EXPECT_EQ(alike.completions, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_TRUE(alike.pairs.empty());
  const ComparisonGroup same = rank_into_group(kAdd, {"7", "7", "7"});  // one distinct reply
  EXPECT_EQ(same.completions, (std::vector<std::string>{"7"}));
  EXPECT_TRUE(same.pairs.empty());
  const ComparisonGroup none = rank_into_group(kAdd, {});
  EXPECT_TRUE(none.completions.empty());
  EXPECT_TRUE(none.pairs.empty());
}

TEST(RewardPreferences, ToolTasksArePromptedWithTheToolSystemPrompt) {
  const ComparisonGroup g = rank_into_group(kToolAdd, {"534", "Answer: 534"});
  ASSERT_EQ(g.prompt.size(), 2u);
  EXPECT_EQ(g.prompt[0], (ChatMessage{ChatRole::system, std::string(tools_system_prompt)}));
  EXPECT_EQ(g.prompt[1], (ChatMessage{ChatRole::user, kToolAdd.prompt}));
  EXPECT_EQ(g.prompt, task_prompt(kToolAdd));
}

// ---------------------------------------------------------------------------------------------
// flip_pairs

TEST(RewardPreferences, FlipPairsSwapsAboutAFractionPDeterministically) {
  const std::vector<ComparisonGroup> clean(400, rank_into_group(kAdd, kAddReplies));  // 2,400 pairs
  const int64_t n = total_pairs(clean);
  ASSERT_EQ(n, 2400);

  auto none = clean;
  EXPECT_EQ(flip_pairs(none, 0.0, 7), 0);
  EXPECT_EQ(none, clean);

  auto all = clean;
  EXPECT_EQ(flip_pairs(all, 1.0, 7), n);
  for (size_t g = 0; g < all.size(); g++)
    for (size_t k = 0; k < all[g].pairs.size(); k++) {
      EXPECT_EQ(all[g].pairs[k].first, clean[g].pairs[k].second);
      EXPECT_EQ(all[g].pairs[k].second, clean[g].pairs[k].first);
    }

  // Binomial(2400, 0.25): mean 600, standard deviation 21.2; 5 deviations either side.
  auto quarter = clean;
  const int64_t flipped = flip_pairs(quarter, 0.25, 7);
  EXPECT_NEAR(static_cast<double>(flipped), 600.0, 5 * std::sqrt(2400 * 0.25 * 0.75)) << flipped;
  int64_t reversed = 0;  // the count returned is the count done
  for (size_t g = 0; g < quarter.size(); g++)
    for (size_t k = 0; k < quarter[g].pairs.size(); k++) reversed += quarter[g].pairs[k] != clean[g].pairs[k];
  EXPECT_EQ(reversed, flipped);
  // Grades and completions stay: a flip is the labeler's mistake, not the grader's.
  EXPECT_EQ(quarter[0].correct, clean[0].correct);
  EXPECT_EQ(quarter[0].completions, clean[0].completions);

  // Same seed, same flips; another seed, other flips.
  auto again = clean;
  EXPECT_EQ(flip_pairs(again, 0.25, 7), flipped);
  EXPECT_EQ(again, quarter);
  auto other = clean;
  flip_pairs(other, 0.25, 8);
  EXPECT_NE(other, quarter);

  // One draw per pair whatever p: with the same seed, a smaller p flips a subset.
  auto tenth = clean;
  const int64_t flipped_tenth = flip_pairs(tenth, 0.1, 7);
  EXPECT_LT(flipped_tenth, flipped);
  for (size_t g = 0; g < tenth.size(); g++)
    for (size_t k = 0; k < tenth[g].pairs.size(); k++)
      if (tenth[g].pairs[k] != clean[g].pairs[k]) EXPECT_NE(quarter[g].pairs[k], clean[g].pairs[k]) << g << " " << k;
}

TEST(RewardPreferences, FlipPairsRejectsAProbabilityOutsideZeroOne) {
  std::vector<ComparisonGroup> groups = {rank_into_group(kAdd, kAddReplies)};
  const auto before = groups;
  for (double p : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THROW(flip_pairs(groups, p, 1), std::invalid_argument) << p;
    EXPECT_NE(sog::testing::error_of([&] { flip_pairs(groups, p, 1); }).find("not in [0, 1]"), std::string::npos);
  }
  EXPECT_EQ(groups, before);
}

TEST(RewardPreferences, CountByTask) {
  const std::vector<ComparisonGroup> groups = {rank_into_group(kAdd, kAddReplies), rank_into_group(kAdd, {"1", "2"}),
                                               rank_into_group(kCity, {"Zürich", "Bern"})};
  const auto counts = count_by_task(groups);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.at("add"), (PreferenceCounts{2, 1, 6}));
  EXPECT_EQ(counts.at("city"), (PreferenceCounts{1, 1, 1}));
}

// ---------------------------------------------------------------------------------------------
// files

class RewardPreferencesFiles : public sog::testing::ScratchFolderTest {
 protected:
  // The groups of every kind the files must carry: a world task, a tool task (system prompt), a
  // group with no pair, a group of several turns with unknown grades and an empty task, texts
  // with quotes, newlines and non-ASCII characters; then noise, so that some pairs point upwards.
  static std::vector<ComparisonGroup> sample_groups() {
    std::vector<ComparisonGroup> groups = {
        rank_into_group(kAdd, kAddReplies),
        rank_into_group(kToolAdd, {"534", "Answer: 534", "Thought: \"add\"\nAnswer: 535"}),
        rank_into_group(kCity, {"Zürich", "Bern", "Zürich.\nI hope that helps."}),
        rank_into_group(kAdd, {"1", "2"}),  // no pair
    };
    groups[3].prompt.push_back({ChatRole::assistant, "Sorry?"});  // same task, other prompt: its own group
    groups[3].prompt.push_back({ChatRole::user, "What is 3 + 4?"});
    ComparisonGroup chat;
    chat.prompt = {{ChatRole::user, "Hi"}, {ChatRole::assistant, "Hello"}, {ChatRole::user, "Name?"}};
    chat.completions = {"Bob", "I am Bob", "—"};
    chat.correct = {-1, -1, -1};
    chat.well_formed = {-1, -1, -1};
    chat.pairs = {{0, 2}, {1, 2}, {0, 1}};
    groups.push_back(chat);
    flip_pairs(groups, 0.3, 11);
    return groups;
  }
};

TEST_F(RewardPreferencesFiles, RankingsRoundTrip) {
  const auto groups = sample_groups();
  write_rankings_jsonl(p("rankings.jsonl"), groups);
  EXPECT_EQ(read_preferences(p("rankings.jsonl")), groups);
  // Written atomically: nothing but the file is left in the folder.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), std::filesystem::directory_iterator()), 1);
  // The documented layout of a line.
  const std::string text = read_file(p("rankings.jsonl"));
  EXPECT_EQ(text.substr(0, text.find('\n')),
            R"({"prompt":"What is 3 + 4?","task":"add","answer":"7","completions":[)"
            R"({"text":"7","correct":true,"well_formed":true},{"text":"7.","correct":true,"well_formed":true},)"
            R"({"text":"Answer: 7","correct":true,"well_formed":false},{"text":"8","correct":false,"well_formed":true}],)"
            R"("pairs":[)" +
                [&] {
                  std::string s;
                  for (const auto& [b, w] : groups[0].pairs) s += (s.empty() ? "[" : ",[") + std::to_string(b) + "," + std::to_string(w) + "]";
                  return s;
                }() +
                "]}");
  EXPECT_NE(text.find(R"({"system":"You can use tools.)"), std::string::npos);
  EXPECT_NE(text.find(R"("correct":null,"well_formed":null)"), std::string::npos);
}

TEST_F(RewardPreferencesFiles, PairsRoundTripKeepsCompletionsAndPairs) {
  const auto groups = sample_groups();
  write_pairs_jsonl(p("pairs.jsonl"), groups);
  const std::string text = read_file(p("pairs.jsonl"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), total_pairs(groups));  // one pair a line
  EXPECT_EQ(text.substr(0, text.find('\n')).find(R"({"prompt":"What is 3 + 4?","chosen":")"), 0u);
  EXPECT_NE(text.find(R"("chosen":[{"role":"assistant","content":"Bob"}])"), std::string::npos);  // conversational

  const auto read = read_preferences(p("pairs.jsonl"));
  std::vector<ComparisonGroup> with_pairs;
  for (const auto& g : groups)
    if (!g.pairs.empty()) with_pairs.push_back(g);
  ASSERT_EQ(read.size(), with_pairs.size());
  for (size_t i = 0; i < read.size(); i++) {
    const ComparisonGroup &r = read[i], &g = with_pairs[i];
    EXPECT_EQ(r.prompt, g.prompt);
    EXPECT_EQ(r.task, g.task);
    EXPECT_EQ(r.answer, "");  // a pair file does not carry it
    // Completions in first-seen order (chosen, then rejected, pair by pair), those in no pair gone.
    std::vector<std::string> seen;
    for (const auto& [b, w] : g.pairs)
      for (int32_t k : {b, w})
        if (std::find(seen.begin(), seen.end(), g.completions[k]) == seen.end()) seen.push_back(g.completions[k]);
    EXPECT_EQ(r.completions, seen) << i;
    EXPECT_EQ(r.correct, std::vector<int8_t>(seen.size(), -1));
    EXPECT_EQ(r.well_formed, std::vector<int8_t>(seen.size(), -1));
    ASSERT_EQ(r.pairs.size(), g.pairs.size());
    for (size_t k = 0; k < r.pairs.size(); k++) {
      EXPECT_EQ(r.completions[r.pairs[k].first], g.completions[g.pairs[k].first]);
      EXPECT_EQ(r.completions[r.pairs[k].second], g.completions[g.pairs[k].second]);
    }
  }
}

TEST_F(RewardPreferencesFiles, ReadsTrlFormsGroupedByPromptAndTask) {
  const std::string path = p("trl.jsonl");
  write_file_atomic(path,
                    // standard, with and without a task (the world's preferences_train.jsonl has none)
                    R"({"prompt":"What is 3 + 4?","chosen":"7","rejected":"8","task":"add"})" "\n"
                    R"({"prompt":"What is 3 + 4?","chosen":"7","rejected":"9"})" "\n"
                    // conversational, explicit prompt
                    R"({"prompt":[{"role":"system","content":"Be brief."},{"role":"user","content":"Capital of France?"}],)"
                    R"("chosen":[{"role":"assistant","content":"Paris"}],"rejected":[{"role":"assistant","content":"Lyon"}],"task":"city"})" "\n"
                    "\n"
                    R"({"prompt":"What is 3 + 4?","chosen":"8","rejected":"9","task":"add"})" "\n"
                    // conversational, implicit prompt: the same prompt and task as the explicit one
                    R"({"chosen":[{"role":"system","content":"Be brief."},{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Paris"}],)"
                    R"("rejected":[{"role":"system","content":"Be brief."},{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Marseille"}],"task":"city"})" "\n"
                    // implicit prompt of several turns
                    R"({"chosen":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}],)"
                    R"("rejected":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"2+2?"},{"role":"assistant","content":"5"}]})" "\n");
  const auto groups = read_preferences(path);
  ASSERT_EQ(groups.size(), 4u);

  EXPECT_EQ(groups[0].prompt, (Chat{{ChatRole::user, "What is 3 + 4?"}}));
  EXPECT_EQ(groups[0].task, "add");
  EXPECT_EQ(groups[0].completions, (std::vector<std::string>{"7", "8", "9"}));  // "8" shares its index
  EXPECT_EQ(groups[0].pairs, (Pairs{{0, 1}, {1, 2}}));
  EXPECT_EQ(groups[0].correct, (std::vector<int8_t>{-1, -1, -1}));

  EXPECT_EQ(groups[1].prompt, groups[0].prompt);  // same prompt, other task: its own group
  EXPECT_EQ(groups[1].task, "");
  EXPECT_EQ(groups[1].completions, (std::vector<std::string>{"7", "9"}));
  EXPECT_EQ(groups[1].pairs, (Pairs{{0, 1}}));

  EXPECT_EQ(groups[2].prompt, (Chat{{ChatRole::system, "Be brief."}, {ChatRole::user, "Capital of France?"}}));
  EXPECT_EQ(groups[2].task, "city");
  EXPECT_EQ(groups[2].completions, (std::vector<std::string>{"Paris", "Lyon", "Marseille"}));
  EXPECT_EQ(groups[2].pairs, (Pairs{{0, 1}, {0, 2}}));

  EXPECT_EQ(groups[3].prompt,
            (Chat{{ChatRole::user, "Hi"}, {ChatRole::assistant, "Hello"}, {ChatRole::user, "2+2?"}}));
  EXPECT_EQ(groups[3].completions, (std::vector<std::string>{"4", "5"}));
  EXPECT_EQ(groups[3].pairs, (Pairs{{0, 1}}));

  const auto counts = count_by_task(groups);
  EXPECT_EQ(counts.at(""), (PreferenceCounts{2, 2, 2}));
  EXPECT_EQ(counts.at("add"), (PreferenceCounts{1, 1, 2}));
  EXPECT_EQ(counts.at("city"), (PreferenceCounts{1, 1, 2}));
}

TEST_F(RewardPreferencesFiles, BadLinesNameFileLineAndField) {
  struct Case {
    std::string line, expect;
  };
  const std::string user_q = R"({"role":"user","content":"Q"})";
  const std::vector<Case> cases = {
      {R"({"prompt":"Q","chosen":"A")", "invalid JSON"},
      {R"([1, 2])", "expected a JSON object, found array"},
      {R"({"prompt":"Q","answer":"A"})", "neither a ranking (field \"completions\") nor a pair"},
      {R"({"prompt":"Q","chosen":3,"rejected":"B"})", "field \"chosen\": expected a string or a list of messages, found number"},
      {R"({"prompt":"Q","chosen":"A"})", "missing field \"rejected\""},
      {R"({"chosen":"A","rejected":"B"})", "missing field \"prompt\""},
      {R"({"prompt":["Q"],"chosen":"A","rejected":"B"})", "field \"prompt\": expected a string, as \"chosen\" is one"},
      {R"({"prompt":"Q","chosen":"A","rejected":"A"})", "\"chosen\" and \"rejected\" are the same reply \"A\""},
      {R"({"prompt":"Q","chosen":"A","rejected":"B","task":7})", "field \"task\": expected a string, found number"},
      {R"({"chosen":[)" + user_q + R"(,{"role":"assistant","content":"A"}],"rejected":"B"})",
       "field \"rejected\": expected a list of messages, as \"chosen\" is one"},
      {R"({"chosen":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}],)"
       R"("rejected":[{"role":"user","content":"R"},{"role":"assistant","content":"B"}]})",
       "the implicit prompt of \"chosen\" and \"rejected\" differ (message 0)"},
      {R"({"chosen":[{"role":"system","content":"S"},)" + user_q + R"(,{"role":"assistant","content":"A"}],)"
       R"("rejected":[{"role":"system","content":"S"},{"role":"assistant","content":"B"}]})",
       "the implicit prompt of \"chosen\" and \"rejected\" differ (message 1)"},
      {R"({"chosen":[)" + user_q + R"(,{"role":"assistant","content":"A"}],"rejected":[)" + user_q + R"(,)" + user_q + "]}",
       "field \"rejected\": the last message must be the assistant's"},
      {R"({"chosen":[{"role":"assistant","content":"A"}],"rejected":[{"role":"assistant","content":"B"}]})",
       "field \"chosen\": no message before the assistant's"},
      {R"({"chosen":[{"role":"robot","content":"A"}],"rejected":[{"role":"assistant","content":"B"}]})",
       "field \"chosen\": message 0: unknown role \"robot\""},
      {R"({"prompt":[)" + user_q + R"(],"chosen":[{"role":"assistant","content":"A"},{"role":"assistant","content":"A2"}],)"
       R"("rejected":[{"role":"assistant","content":"B"}]})",
       "field \"chosen\": expected one assistant message after an explicit \"prompt\", found 2 messages"},
      {R"({"prompt":"Q","completions":[{"text":"a"},{"text":"b"}],"pairs":[[0,2]]})",
       "field \"pairs\": pair 0: index 2 is out of range (2 completions: 0 to 1)"},
      {R"({"prompt":"Q","completions":[{"text":"a"},{"text":"b"}],"pairs":[[1,1]]})",
       "field \"pairs\": pair 0: compares completion 1 with itself"},
      {R"({"prompt":"Q","completions":[{"text":"a"},{"text":"b"}],"pairs":[[0,"1"]]})",
       "field \"pairs\": pair 0: expected [better, worse]"},
      {R"({"prompt":"Q","completions":[{"text":"a"},{"text":"a"}],"pairs":[]})",
       "field \"completions\": completion 1: repeats completion 0 \"a\""},
      {R"({"prompt":"Q","completions":[{"text":"a","correct":"yes"}],"pairs":[]})",
       "field \"completions\": completion 0: \"correct\" must be true, false or null, found string"},
      {R"({"prompt":"Q","completions":[{"txt":"a"}],"pairs":[]})", "field \"completions\": completion 0: missing field \"text\""},
      {R"({"prompt":"Q","completions":[{"text":"a"}]})", "missing field \"pairs\""},
      {R"({"prompt":[],"completions":[{"text":"a"}],"pairs":[]})", "field \"prompt\": an empty list of messages"},
      {R"({"prompt":"Q","system":1,"completions":[{"text":"a"}],"pairs":[]})", "field \"system\": expected a string"},
      {R"({"prompt":"Q","completions":[{"text":"a"}],"chosen":"a","rejected":"b"})", "both a ranking"},
  };
  const std::string good = R"({"prompt":"Q","chosen":"A","rejected":"B"})";
  for (const Case& c : cases) {
    // a good line, a blank line, then the bad one (line 3), then a good one
    const std::string path = p("bad.jsonl");
    write_file_atomic(path, good + "\n\n" + c.line + "\n" + good + "\n");
    const std::string err = sog::testing::error_of([&] { read_preferences(path); });
    EXPECT_NE(err.find(path + ":3: "), std::string::npos) << c.line << " → " << err;
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.line << " → " << err;
  }
}

TEST_F(RewardPreferencesFiles, FileErrors) {
  std::string err = sog::testing::error_of([&] { read_preferences(p("missing.jsonl")); });
  EXPECT_NE(err.find(p("missing.jsonl") + ": cannot open"), std::string::npos) << err;
  // Groups but no pair at all: nothing to train on.
  write_rankings_jsonl(p("alike.jsonl"), {rank_into_group(kAdd, {"1", "2"})});
  err = sog::testing::error_of([&] { read_preferences(p("alike.jsonl")); });
  EXPECT_NE(err.find(p("alike.jsonl") + ": no preference pair"), std::string::npos) << err;
  write_file_atomic(p("blank.jsonl"), "\n \n");
  err = sog::testing::error_of([&] { read_preferences(p("blank.jsonl")); });
  EXPECT_NE(err.find(p("blank.jsonl") + ": no preference pair"), std::string::npos) << err;
}

TEST_F(RewardPreferencesFiles, WritersRefuseInconsistentGroups) {
  ComparisonGroup ok = rank_into_group(kAdd, kAddReplies);
  ComparisonGroup short_grades = ok;
  short_grades.correct.pop_back();
  ComparisonGroup bad_pair = ok;
  bad_pair.pairs.push_back({0, 4});
  ComparisonGroup no_prompt = ok;
  no_prompt.prompt.clear();
  for (const ComparisonGroup& bad : {short_grades, bad_pair, no_prompt}) {
    for (auto write : {write_rankings_jsonl, write_pairs_jsonl}) {
      const std::string err = sog::testing::error_of([&] { write(p("out.jsonl"), {ok, bad}); });
      EXPECT_EQ(err.find("group 1"), 0u) << err;
      EXPECT_FALSE(std::filesystem::exists(p("out.jsonl")));  // nothing half-written
    }
  }
}
