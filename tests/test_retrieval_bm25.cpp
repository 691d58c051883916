// common/retrieval/bm25.h: the word tokens, and BM25 scores against a hand-computed example.
#include <gtest/gtest.h>

#include <cmath>

#include "common/retrieval/bm25.h"
#include "test_util.h"

using namespace sog;

using Terms = std::vector<std::string>;

TEST(Bm25Terms, LowerCasedWordsAndThePossessive) {
  EXPECT_EQ(bm25_terms("Catherine's favorite color is GREEN."), (Terms{"catherine", "favorite", "color", "is", "green"}));
  EXPECT_EQ(bm25_terms("What is Nils's job?"), (Terms{"what", "is", "nils", "job"}));
  EXPECT_EQ(bm25_terms("Catherine\xE2\x80\x99s cat"), (Terms{"catherine", "cat"})) << "the typographic apostrophe too";
  EXPECT_EQ(bm25_terms("CATHERINE'S"), (Terms{"catherine"}));
  EXPECT_EQ(bm25_terms("don't stop"), (Terms{"don", "t", "stop"})) << "other apostrophes split";
  EXPECT_EQ(bm25_terms("the James' house"), (Terms{"the", "james", "house"}));
  EXPECT_EQ(bm25_terms("a 54-year-old, 478+56=534"), (Terms{"a", "54", "year", "old", "478", "56", "534"}));
  EXPECT_EQ(bm25_terms("Zo\xC3\xAB's caf\xC3\xA9"), (Terms{"zo\xC3\xAB", "caf\xC3\xA9"})) << "UTF-8 stays inside words";
  EXPECT_EQ(bm25_terms("  ...  "), Terms{});
  EXPECT_EQ(bm25_terms("'s"), Terms{"s"}) << "no word before it: not a possessive";
}

// N = 4 documents, |d| = 3, 6, 2, 2 terms → avgdl = 13/4 = 3.25. k1 = 1.2, b = 0.75.
//   tf-part w(tf, |d|) = tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avgdl))
//     w(1, 3) = 2.2 / (1 + 1.2·(0.25 + 0.75·3/3.25)) = 2.2 / 2.1307692 = 1.0324910
//     w(1, 2) = 2.2 / (1 + 1.2·(0.25 + 0.75·2/3.25)) = 2.2 / 1.8538462 = 1.1867220
//     w(1, 6) = 2.2 / (1 + 1.2·(0.25 + 0.75·6/3.25)) = 2.2 / 2.9615385 = 0.7428571
//     w(2, 6) = 4.4 / (2 + 1.9615385)                = 1.1106796
//   idf(n) = ln(1 + (4 − n + 0.5)/(n + 0.5)):  n = 2 → ln 2 = 0.6931472;  n = 1 → ln(10/3) = 1.2039728
class Bm25Example : public ::testing::Test {
 protected:
  Bm25Index index{{"the cat sat", "the dog sat on the mat", "Catherine's cat", "a dog"}};
};

TEST_F(Bm25Example, IndexStatistics) {
  EXPECT_EQ(index.size(), 4);
  EXPECT_EQ(index.length(0), 3);
  EXPECT_EQ(index.length(1), 6);
  EXPECT_EQ(index.length(2), 2) << "catherine, cat: the possessive is no term";
  EXPECT_DOUBLE_EQ(index.average_length(), 3.25);
  EXPECT_EQ(index.document_frequency("the"), 2) << "documents, not occurrences";
  EXPECT_EQ(index.document_frequency("catherine"), 1);
  EXPECT_EQ(index.document_frequency("bird"), 0);
  EXPECT_NEAR(index.idf("cat"), std::log(2.0), 1e-12);
  EXPECT_NEAR(index.idf("catherine"), std::log(10.0 / 3.0), 1e-12);
  EXPECT_NEAR(index.idf("bird"), std::log(1.0 + 4.5 / 0.5), 1e-12);
}

TEST_F(Bm25Example, ScoresMatchTheHandComputation) {
  // "cat sat": cat in d0, d2; sat in d0, d1 (both n = 2, idf ln 2)
  //   d0 = ln2·(w(1,3) + w(1,3)) = 0.6931472·2.0649820 = 1.4313364
  //   d1 = ln2·w(1,6)            = 0.6931472·0.7428571 = 0.5149093
  //   d2 = ln2·w(1,2)            = 0.6931472·1.1867220 = 0.8225730
  //   d3 = 0 (no term in common)
  const std::vector<double> s = index.scores("cat sat");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_NEAR(s[0], 1.4313364, 1e-6);
  EXPECT_NEAR(s[1], 0.5149093, 1e-6);
  EXPECT_NEAR(s[2], 0.8225730, 1e-6);
  EXPECT_EQ(s[3], 0.0);
  const std::vector<ScoredId> top = index.search("Cat, SAT!", 10);
  ASSERT_EQ(top.size(), 3u) << "d3 shares no term: not returned";
  EXPECT_EQ(top[0].id, 0);
  EXPECT_EQ(top[1].id, 2);
  EXPECT_EQ(top[2].id, 1);
  EXPECT_NEAR(top[1].score, 0.8225730, 1e-6);

  // "the the dog": a repeated query term counts twice; the: d0, d1; dog: d1, d3 (idf ln 2 each)
  //   d1 = ln2·(2·w(2,6) + w(1,6)) = 0.6931472·(2.2213592 + 0.7428571) = 2.0546382
  //   d0 = ln2·2·w(1,3)           = 1.4313364
  //   d3 = ln2·w(1,2)             = 0.8225730
  const std::vector<ScoredId> dog = index.search("the the dog", 2);
  ASSERT_EQ(dog.size(), 2u) << "k = 2 of three matches";
  EXPECT_EQ(dog[0].id, 1);
  EXPECT_NEAR(dog[0].score, 2.0546382, 1e-6);
  EXPECT_EQ(dog[1].id, 0);
  EXPECT_NEAR(dog[1].score, 1.4313364, 1e-6);

  // "Who is Catherine?": only catherine occurs (n = 1): d2 = ln(10/3)·w(1,2) = 1.2039728·1.1867220 = 1.4287810
  const std::vector<ScoredId> cath = index.search("Who is Catherine?", 5);
  ASSERT_EQ(cath.size(), 1u);
  EXPECT_EQ(cath[0].id, 2);
  EXPECT_NEAR(cath[0].score, 1.4287810, 1e-6);
  EXPECT_TRUE(index.search("bird", 3).empty());
}

TEST(Bm25, TiesGoToTheLowerId) {
  Bm25Index index({"z", "y x", "x y", "x y"});
  const std::vector<ScoredId> top = index.search("x", 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id, 1);
  EXPECT_EQ(top[1].id, 2);
  EXPECT_EQ(top[2].id, 3);
  EXPECT_EQ(top[0].score, top[2].score);
}

TEST(Bm25, BadInputIsRefused) {
  using sog::testing::error_of;
  EXPECT_NE(error_of([] { Bm25Index({}); }).find("at least one"), std::string::npos);
  EXPECT_NE(error_of([] { Bm25Index({"a"}, {.k1 = 1.2, .b = 1.5}); }).find("b: expected 0 ≤ b ≤ 1, found 1.5"),
            std::string::npos);
  EXPECT_NE(error_of([] { Bm25Index({"a"}).search("a", 0); }).find("k: expected ≥ 1, found 0"), std::string::npos);
}
