// common/retrieval/{ranking,retrieve,library_recall}.h: the order of hits, reciprocal rank fusion
// on hand-made rankings, recall@k on a toy set, the three retrievers, the chapter's table.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "byte_tokenizer.h"
#include "common/retrieval/library_recall.h"
#include "common/retrieval/retrieve.h"
#include "common/world/render.h"
#include "test_util.h"

using namespace sog;
using sog::testing::error_of;

namespace {

std::vector<int64_t> ids_of(const std::vector<ScoredId>& hits) {
  std::vector<int64_t> ids;
  for (const ScoredId& h : hits) ids.push_back(h.id);
  return ids;
}

std::vector<ScoredId> ranking(const std::vector<int64_t>& ids) {
  std::vector<ScoredId> out;
  for (size_t r = 0; r < ids.size(); r++) out.push_back({ids[r], 1.0 / static_cast<double>(r + 1)});
  return out;
}

// A retriever that answers from a table: query → ranking.
class TableRetriever : public Retriever {
 public:
  explicit TableRetriever(std::map<std::string, std::vector<int64_t>> table) : table_(std::move(table)) {}
  std::vector<ScoredId> top_k(std::string_view query, int64_t k) override {
    std::vector<int64_t> ids = table_.at(std::string(query));
    if (static_cast<int64_t>(ids.size()) > k) ids.resize(k);
    asked_k.push_back(k);
    return ranking(ids);
  }
  std::vector<int64_t> asked_k;

 private:
  std::map<std::string, std::vector<int64_t>> table_;
};

}  // namespace

TEST(Ranking, HigherScoreFirstThenLowerId) {
  const std::vector<double> scores = {0.5, 2.0, 0.5, 1.0};
  EXPECT_EQ(ids_of(top_k_by_score(scores, 3)), (std::vector<int64_t>{1, 3, 0}));
  EXPECT_EQ(ids_of(top_k_by_score(scores, 10)), (std::vector<int64_t>{1, 3, 0, 2}));
  EXPECT_NE(error_of([&] { top_k_by_score(scores, 0); }).find("k: expected ≥ 1, found 0"), std::string::npos);
}

// Lists A = [3, 1, 2] and B = [1, 4, 3], k_rrf = 60:
//   1: 1/(60+2) + 1/(60+1) = 0.0161290 + 0.0163934 = 0.0325225
//   3: 1/(60+1) + 1/(60+3) = 0.0163934 + 0.0158730 = 0.0322665
//   4: 1/(60+2)            = 0.0161290
//   2: 1/(60+3)            = 0.0158730
// 1 is second in A and first in B, and beats 3, first in A but third in B.
TEST(ReciprocalRankFusion, HandMadeRankings) {
  const std::vector<ScoredId> fused = reciprocal_rank_fusion({ranking({3, 1, 2}), ranking({1, 4, 3})}, 10);
  ASSERT_EQ(ids_of(fused), (std::vector<int64_t>{1, 3, 4, 2}));
  EXPECT_NEAR(fused[0].score, 0.0325225, 1e-7);
  EXPECT_NEAR(fused[1].score, 0.0322665, 1e-7);
  EXPECT_NEAR(fused[2].score, 0.0161290, 1e-7);
  EXPECT_NEAR(fused[3].score, 0.0158730, 1e-7);
  EXPECT_EQ(ids_of(reciprocal_rank_fusion({ranking({3, 1, 2}), ranking({1, 4, 3})}, 2)), (std::vector<int64_t>{1, 3}));
  // The scores themselves are never read: only ranks.
  std::vector<ScoredId> huge = {{3, 1e9}, {1, 5.0}, {2, 4.0}};
  EXPECT_EQ(ids_of(reciprocal_rank_fusion({huge, ranking({1, 4, 3})}, 4)), (std::vector<int64_t>{1, 3, 4, 2}));
  // Each first in one list: a tie, to the lower id. k_rrf = 0 is plain 1/rank.
  EXPECT_EQ(ids_of(reciprocal_rank_fusion({ranking({7}), ranking({5})}, 2)), (std::vector<int64_t>{5, 7}));
  const std::vector<ScoredId> plain = reciprocal_rank_fusion({ranking({3, 1}), ranking({1})}, 2, 0.0);
  EXPECT_EQ(ids_of(plain), (std::vector<int64_t>{1, 3}));
  EXPECT_DOUBLE_EQ(plain[0].score, 1.5);  // 1/2 + 1/1
  EXPECT_NE(error_of([] { reciprocal_rank_fusion({}, 1, -1.0); }).find("k_rrf: expected ≥ 0"), std::string::npos);
}

// Four questions; ranks of their first relevant chunk: q0 1st, q1 3rd, q2 none in the top 5, q3 2nd.
//   recall@1 = 1/4, recall@2 = 2/4, recall@3 = 3/4, recall@5 = 3/4
TEST(RecallAtK, ToySet) {
  TableRetriever r({{"q0", {4, 0, 1}}, {"q1", {0, 1, 2, 3}}, {"q2", {0, 1, 2, 3, 4, 5}}, {"q3", {9, 8, 7}}});
  const std::vector<std::string> questions = {"q0", "q1", "q2", "q3"};
  const std::vector<std::vector<int64_t>> relevant = {{4}, {2, 3}, {6}, {8, 9, 10}};
  EXPECT_EQ(recall_at_k(questions, {{4}, {2, 3}, {6}, {1, 8}}, r, {1, 2, 3, 5}), (std::vector<double>{0.25, 0.5, 0.75, 0.75}));
  EXPECT_EQ(r.asked_k, (std::vector<int64_t>{5, 5, 5, 5})) << "one search per question, as deep as the largest k";
  EXPECT_EQ(recall_at_k(questions, relevant, r, {1}), (std::vector<double>{0.5})) << "q3's 9 is first";
  EXPECT_NE(error_of([&] { recall_at_k(questions, {{4}, {2}, {}, {8}}, r, {1}); }).find("question 2 (\"q2\") has no relevant chunk"),
            std::string::npos);
  EXPECT_NE(error_of([&] { recall_at_k(questions, {{4}}, r, {1}); }).find("expected one set per question (4), found 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { recall_at_k(questions, relevant, r, {3, 0}); }).find("every k ≥ 1, found 0"), std::string::npos);
}

TEST(Retrievers, HybridFusesTheTwoLists) {
  TableRetriever words({{"q", {3, 1, 2}}}), meaning({{"q", {1, 4, 3}}});
  HybridRetriever hybrid(words, meaning, 3);
  EXPECT_EQ(ids_of(hybrid.top_k("q", 2)), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(words.asked_k, (std::vector<int64_t>{3})) << "each list to the fusion's depth";
  hybrid.top_k("q", 5);
  EXPECT_EQ(words.asked_k.back(), 5) << "never shallower than k";
  EXPECT_NE(error_of([&] { HybridRetriever(words, meaning, 0); }).find("depth: expected ≥ 1, found 0"), std::string::npos);
}

TEST(Retrievers, ExactCosineSearch) {
  // Unit rows (4,2); the query (0.6, 0.8): dot products 0.6, 0.8, −0.6, 0.8
  ExactCosineSearch search(Tensor::from_vector({4, 2}, {1, 0, 0, 1, -1, 0, 0, 1}));
  const std::vector<float> q = {0.6f, 0.8f};
  const std::vector<ScoredId> hits = search.nearest(q, 3);
  EXPECT_EQ(ids_of(hits), (std::vector<int64_t>{1, 3, 0}));
  EXPECT_NEAR(hits[0].score, 0.8, 1e-7);
  EXPECT_NE(error_of([&] { search.nearest(std::vector<float>{1, 0, 0}, 1); }).find("expected 2 floats"), std::string::npos);
}

TEST(Retrievers, BM25AndEmbeddingsOnChunks) {
  const std::string text = render_documents({"Nils is 46 years old.\n", "Pieter owns a dog.\n", "Goran's pet is a cat.\n"});
  const std::vector<Chunk> chunks = chunk_documents(text, "library.txt");
  Bm25Retriever bm25(chunks);
  EXPECT_EQ(ids_of(bm25.top_k("What is Goran's pet?", 3)), (std::vector<int64_t>{2, 0}));  // pet, goran; is
  GPT model(gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size())));
  model.init_gpt2(5);
  const Tokenizer& tok = sog::testing::shared_byte_tokenizer();
  EmbeddingRetriever embed(model, tok, chunks);
  for (int64_t c = 0; c < 3; c++) {
    const std::vector<ScoredId> hits = embed.top_k(chunks[c].text, 1);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, c) << "a chunk's own text finds it";
    EXPECT_NEAR(hits[0].score, 1.0, 1e-5);
  }
  GPT wider(gpt_preset("char-baby", 256 + static_cast<int>(kSpecialTokens.size())));
  EXPECT_NE(error_of([&] {
              EmbeddingRetriever(wider, tok, std::make_unique<ExactCosineSearch>(Tensor::zeros({3, 32})));
            }).find("dim 32, the model gives C=128"),
            std::string::npos);
}

// The chapter's table on a small world: every fact question names one person, its relevant chunks
// are that person's library documents; the table has a row per retriever and recall grows with k.
TEST(LibraryRecall, SmallWorld) {
  const auto dir = sog::testing::fresh_temp_dir("library_recall");
  WorldConfig config;
  config.people = 20;
  write_world(config, dir.string());
  const FactRetrievalSet set = read_fact_retrieval_set(dir.string());
  ASSERT_FALSE(set.questions.empty());
  ASSERT_EQ(set.relevant.size(), set.questions.size());
  for (size_t q = 0; q < set.questions.size(); q++) {
    EXPECT_EQ(set.relevant[q].size(), static_cast<size_t>(config.library_docs_per_person)) << set.questions[q];
    for (int64_t c : set.relevant[q]) {
      const std::vector<std::string> words = bm25_terms(set.chunks[c].text);
      EXPECT_NE(std::find(words.begin(), words.end(), set.people[q]), words.end()) << set.chunks[c].text;
    }
  }
  GPT model(gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size())));
  model.init_gpt2(5);
  const std::vector<RecallRow> rows =
      library_recall_table(set, sog::testing::shared_byte_tokenizer(), {{"nano", &model}}, {1, 3, 5});
  std::vector<std::string> names;
  for (const RecallRow& r : rows) {
    names.push_back(r.retriever);
    ASSERT_EQ(r.recall.size(), 3u);
    EXPECT_LE(r.recall[0], r.recall[1]);
    EXPECT_LE(r.recall[1], r.recall[2]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"bm25", "embed nano mean", "hybrid bm25 + nano mean", "embed nano last",
                                             "hybrid bm25 + nano last"}));
  EXPECT_EQ(recall_table_markdown({{"bm25", {0.5, 1.0}}}, {1, 3}, 4),
            "| retriever | recall@1 | recall@3 |\n|---|---:|---:|\n| bm25 | 0.500 (2/4) | 1.000 (4/4) |\n");
  write_file_atomic((dir / "eval_test.jsonl").string(), "{\"prompt\":\"How old is Nobody?\",\"answer\":\"1\",\"task\":\"age\"}\n");
  EXPECT_NE(error_of([&] { read_fact_retrieval_set(dir.string()); }).find("question 1 (\"How old is Nobody?\"): expected the name of one person"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}
