// common/retrieval/embed.h on a nano GPT with random weights and the byte tokenizer: the shape,
// unit rows, a batch equal to one text at a time, the two poolings, the cut, the refusals.
#include <gtest/gtest.h>

#include <cmath>

#include "byte_tokenizer.h"
#include "common/autograd/tape.h"
#include "common/retrieval/embed.h"
#include "test_util.h"

using namespace sog;

namespace {

class EmbedTest : public ::testing::Test {
 protected:
  EmbedTest() : model(config()) { model.init_gpt2(11); }
  static GPTConfig config() { return gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size())); }  // maxT 32
  const Tokenizer& tok = sog::testing::shared_byte_tokenizer();
  GPT model;
  // Different lengths, the last one longer than maxT (32 positions: <|endoftext|> and 31 bytes).
  std::vector<std::string> texts = {"a", "Nils is 46 years old.", "How old is Goran?", "Pieter owns a dog and lives in Tokyo."};
};

std::vector<float> row(const Tensor& t, int64_t r) {
  const int64_t C = t.size(1);
  return std::vector<float>(t.f32() + r * C, t.f32() + (r + 1) * C);
}

}  // namespace

TEST_F(EmbedTest, UnitRowsOfWidthC) {
  const Tensor e = embed_texts(model, tok, texts);
  ASSERT_EQ(e.shape(), Shape({4, 32}));
  for (int64_t r = 0; r < 4; r++) {
    double norm2 = 0.0;
    for (float v : row(e, r)) norm2 += static_cast<double>(v) * v;
    EXPECT_NEAR(std::sqrt(norm2), 1.0, 1e-6) << "row " << r;
  }
  EXPECT_EQ(tape_size(), 0u) << "nothing recorded: inference only";
}

TEST_F(EmbedTest, ABatchEqualsOneTextAtATime) {
  for (Pooling pooling : {Pooling::mean, Pooling::last}) {
    const Tensor batched = embed_texts(model, tok, texts, {.pooling = pooling, .batch_rows = 3});  // 3 + 1 rows
    for (size_t i = 0; i < texts.size(); i++) {
      const Tensor alone = embed_texts(model, tok, {texts[i]}, {.pooling = pooling});
      const std::vector<float> a = row(alone, 0), b = row(batched, static_cast<int64_t>(i));
      for (size_t c = 0; c < a.size(); c++) ASSERT_NEAR(a[c], b[c], 1e-5) << pooling_name(pooling) << " text " << i << " c " << c;
    }
  }
}

TEST_F(EmbedTest, MeanAndLastPoolingDiffer) {
  const Tensor mean = embed_texts(model, tok, texts, {.pooling = Pooling::mean});
  const Tensor last = embed_texts(model, tok, texts, {.pooling = Pooling::last});
  for (int64_t r = 1; r < 4; r++) {  // text 0 is one token: its mean is its last
    double dot = 0.0;
    for (int64_t c = 0; c < 32; c++) dot += static_cast<double>(mean.f32()[r * 32 + c]) * last.f32()[r * 32 + c];
    EXPECT_LT(dot, 0.999) << "text " << r << ": cosine of its two embeddings";
  }
  const std::vector<float> m0 = row(mean, 0), l0 = row(last, 0);
  for (size_t c = 0; c < m0.size(); c++) EXPECT_NEAR(m0[c], l0[c], 1e-6);
}

TEST_F(EmbedTest, ALongTextKeepsItsFirstTokens) {
  const std::vector<int32_t> ids = embedding_ids(tok, texts[3], 32);
  ASSERT_EQ(ids.size(), 32u);
  EXPECT_EQ(ids[0], tok.eot_id()) << "the text starts a document";
  EXPECT_EQ(tok.decode(std::vector<int32_t>(ids.begin() + 1, ids.end())), texts[3].substr(0, 31));
  const Tensor whole = embed_texts(model, tok, {texts[3]}), start = embed_texts(model, tok, {texts[3].substr(0, 31)});
  EXPECT_EQ(row(whole, 0), row(start, 0));
  // Text only: a special token's spelling is ordinary text.
  EXPECT_EQ(embedding_ids(tok, "<|end|>", 32).size(), 1u + 7u);
}

TEST_F(EmbedTest, EmptyTextsAreRefused) {
  using sog::testing::error_of;
  EXPECT_NE(error_of([&] { embed_texts(model, tok, {"fine", ""}); }).find("text 1 is empty: nothing to embed"),
            std::string::npos);
  EXPECT_NE(error_of([&] { embed_texts(model, tok, {}); }).find("expected at least one"), std::string::npos);
  EXPECT_NE(error_of([&] { embed_texts(model, tok, texts, {.batch_rows = 0}); }).find("batch_rows: expected ≥ 1, found 0"),
            std::string::npos);
}
