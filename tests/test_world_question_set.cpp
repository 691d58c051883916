#include "common/world/question_set.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/test_util.h"

using namespace sog;
using namespace sog::testing;

static std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(QuestionSet, ReadsRowsAndNamesTheBadLine) {
  const std::string dir = fresh_temp_dir("question_set").string();
  auto rows = read_question_rows(write_file(dir, "ok.jsonl",
      "{\"prompt\":\"What is 1 + 2?\",\"answer\":\"3\",\"task\":\"add\"}\n"
      "{\"prompt\":\"How old is Cara?\",\"answer\":\"54\",\"task\":\"age\",\"extra\":1}\n"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].prompt, "How old is Cara?");
  EXPECT_EQ(rows[1].answer, "54");
  EXPECT_EQ(rows[1].task, "age");

  const std::string missing = write_file(dir, "missing.jsonl",
      "{\"prompt\":\"a\",\"answer\":\"b\",\"task\":\"add\"}\n{\"prompt\":\"a\",\"task\":\"add\"}\n");
  EXPECT_NE(error_of([&] { read_question_rows(missing); }).find("missing.jsonl:2: expected a string field \"answer\""),
            std::string::npos);
  const std::string number = write_file(dir, "number.jsonl", "{\"prompt\":\"a\",\"answer\":3,\"task\":\"add\"}\n");
  EXPECT_NE(error_of([&] { read_question_rows(number); }).find("number.jsonl:1: expected a string field \"answer\""),
            std::string::npos);
  const std::string empty = write_file(dir, "empty.jsonl", "");
  EXPECT_NE(error_of([&] { read_question_rows(empty); }).find("empty.jsonl: no questions"), std::string::npos);
}

TEST(QuestionSet, ShotsComeFromTheSameTaskAndNeverTheQuestion) {
  ShotPool pool({{"q1", "a1", "add"}, {"q2", "a2", "add"}, {"q3", "a3", "add"}, {"w1", "x1", "reverse"}});
  Rng rng(7);
  const QuestionRow q{"q2", "a2", "add"};
  for (int round = 0; round < 50; round++) {
    SolvedExamples shots = pool.draw(q, 3, rng);
    EXPECT_EQ(shots.size(), 3u);
    for (const auto& [p, a] : shots) {
      EXPECT_NE(p, "q2");
      EXPECT_TRUE(p == "q1" || p == "q3") << p;
      EXPECT_EQ(a, "a" + p.substr(1));
    }
  }
  EXPECT_TRUE(pool.draw(q, 0, rng).empty());
  EXPECT_TRUE(pool.draw({"z", "z", "count"}, 3, rng).empty());  // no example of that task
  // Only the question itself in its task: the bounded draws give up instead of looping.
  EXPECT_TRUE(pool.draw({"w1", "x1", "reverse"}, 2, rng).empty());
  // Same seed, same draws.
  Rng a(3), b(3);
  EXPECT_EQ(pool.draw(q, 3, a), pool.draw(q, 3, b));
}

TEST(QuestionSet, QaSheet) {
  EXPECT_EQ(qa_sheet({}, "How old is Cara?"), "Q: How old is Cara?\nA:");
  EXPECT_EQ(qa_sheet({{"What is 12 + 7?", "19"}}, "What is 1 + 1?"), "Q: What is 12 + 7?\nA: 19\nQ: What is 1 + 1?\nA:");
}
