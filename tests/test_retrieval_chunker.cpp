// common/retrieval/chunker.h: documents split at <|endoftext|>, one chunk each or token windows
// with overlap; exact boundaries on a hand-written text (the byte tokenizer: one token a byte, so
// positions can be counted by hand), then the same properties on the world's library with a BPE.
#include <gtest/gtest.h>

#include <cctype>

#include "byte_tokenizer.h"
#include "common/retrieval/chunker.h"
#include "common/tokenizer/bpe_train.h"
#include "common/world/render.h"
#include "common/world/world.h"
#include "test_util.h"

using namespace sog;

namespace {

const std::string kText =
    "one two three four five six\n<|endoftext|>"  // document 0: bytes 0–27, a separator at 28–40
    "tiny\n<|endoftext|>"                          // document 1: bytes 41–45, shorter than a chunk
    "  \n<|endoftext|>"                            // document 2: bytes 59–61, blank: no chunk
    "abcdefghijkl mn<|endoftext|>";                // document 3: bytes 75–89, a word longer than a chunk
                                                   // document 4: empty, at byte 103

struct Expected {
  int64_t document, offset, length;
  std::string text;
};

void expect_chunks(const std::vector<Chunk>& got, const std::vector<Expected>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); i++) {
    SCOPED_TRACE("chunk " + std::to_string(i));
    EXPECT_EQ(got[i].source, "notes.txt");
    EXPECT_EQ(got[i].document, want[i].document);
    EXPECT_EQ(got[i].offset, want[i].offset);
    EXPECT_EQ(got[i].length, want[i].length);
    EXPECT_EQ(got[i].text, want[i].text);
    EXPECT_EQ(kText.substr(got[i].offset, got[i].length), got[i].text) << "the offsets give the text back";
  }
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

TEST(Chunker, SplitsAtEveryEndOfText) {
  const std::vector<DocumentSpan> docs = split_documents(kText);
  ASSERT_EQ(docs.size(), 5u);
  const int64_t offsets[] = {0, 41, 59, 75, 103}, lengths[] = {28, 5, 3, 15, 0};
  for (size_t d = 0; d < 5; d++) {
    EXPECT_EQ(docs[d].offset, offsets[d]) << d;
    EXPECT_EQ(docs[d].length, lengths[d]) << d;
  }
  EXPECT_EQ(split_documents("no separator").size(), 1u);
  EXPECT_EQ(split_documents("").size(), 1u);
}

TEST(Chunker, OneChunkPerDocumentSkipsTheBlankOnes) {
  expect_chunks(chunk_documents(kText, "notes.txt"), {{0, 0, 27, "one two three four five six"},
                                                      {1, 41, 4, "tiny"},
                                                      {3, 75, 15, "abcdefghijkl mn"}});
}

// max_tokens 10, overlap 4, one token a byte. Document 0, "one two three four five six":
//   [0, 10) would end inside "three" (bytes 8–12): back to the boundary at 8  → "one two"
//   next from max(8 − 4, 1) = 4, a boundary (after a space)                    → "two three"  [4, 14)
//   next from 10, inside "three": forward to the boundary at 13 (a space)      → "four five"  [13, 23) trimmed
//   next from 19, a boundary; [19, 27) reaches the end: the last chunk, shorter → "five six"
// Document 1 is shorter than a chunk: one chunk. Document 2 is blank: none.
// Document 3, "abcdefghijkl mn": no boundary in (0, 10], so the word is cut at 10 (unavoidable);
//   the next start looks forward from 6 for a boundary and reaches 10          → "kl mn"
TEST(Chunker, TokenWindowsOverlapAndCutBetweenWords) {
  const Tokenizer& tok = sog::testing::shared_byte_tokenizer();
  expect_chunks(chunk_by_tokens(kText, "notes.txt", tok, {.max_tokens = 10, .overlap_tokens = 4}),
                {{0, 0, 7, "one two"},
                 {0, 4, 9, "two three"},
                 {0, 14, 9, "four five"},
                 {0, 19, 8, "five six"},
                 {1, 41, 4, "tiny"},
                 {3, 75, 10, "abcdefghij"},
                 {3, 85, 5, "kl mn"}});
  // No overlap: consecutive windows, each still ending between words.
  expect_chunks(chunk_by_tokens(kText, "notes.txt", tok, {.max_tokens = 10, .overlap_tokens = 0}),
                {{0, 0, 7, "one two"},
                 {0, 8, 10, "three four"},
                 {0, 19, 8, "five six"},
                 {1, 41, 4, "tiny"},
                 {3, 75, 10, "abcdefghij"},
                 {3, 85, 5, "kl mn"}});
}

TEST(Chunker, BadOptionsAreRefused) {
  const Tokenizer& tok = sog::testing::shared_byte_tokenizer();
  using sog::testing::error_of;
  EXPECT_NE(error_of([&] { chunk_by_tokens(kText, "x", tok, {.max_tokens = 0, .overlap_tokens = 0}); })
                .find("max_tokens: expected ≥ 1, found 0"),
            std::string::npos);
  EXPECT_NE(error_of([&] { chunk_by_tokens(kText, "x", tok, {.max_tokens = 8, .overlap_tokens = 8}); })
                .find("overlap_tokens: expected 0 ≤ overlap < max_tokens (8), found 8"),
            std::string::npos);
}

// The world's library with a BPE trained on it: every chunk is the source's bytes at its offsets,
// starts and ends between words, and together the chunks of a document cover every word of it.
TEST(Chunker, WorldLibraryWithABpe) {
  WorldConfig config;
  config.people = 20;
  const World world = generate_world(config);
  const std::string text = render_documents(world.library_docs);
  BpeTrainResult bpe = train_bpe(count_chunks(text, SplitPattern::gpt2, 1), 400);
  std::vector<std::pair<std::string, int32_t>> specials{{std::string(kEndOfText), 400}};
  const Tokenizer tok = Tokenizer::from_ranks(bpe.ranks, SplitPattern::gpt2, specials);

  const std::vector<Chunk> chunks = chunk_by_tokens(text, "library.txt", tok, {.max_tokens = 12, .overlap_tokens = 3});
  const std::vector<DocumentSpan> docs = split_documents(text);
  ASSERT_EQ(docs.size(), world.library_docs.size() + 1);
  std::vector<char> in_chunk(text.size(), 0);
  for (const Chunk& c : chunks) {
    ASSERT_EQ(text.substr(c.offset, c.length), c.text);
    const DocumentSpan& d = docs.at(c.document);
    ASSERT_GE(c.offset, d.offset);
    ASSERT_LE(c.offset + c.length, d.offset + d.length) << "a chunk stays inside its document";
    EXPECT_TRUE(c.offset == d.offset || is_space(text[c.offset - 1])) << "starts a word: " << c.text;
    EXPECT_TRUE(c.offset + c.length == d.offset + d.length || is_space(text[c.offset + c.length])) << "ends a word: " << c.text;
    EXPECT_LE(tok.encode(c.text).size(), 12u + 2u) << "about max_tokens (a first word without its space may take a token more)";
    for (int64_t i = c.offset; i < c.offset + c.length; i++) in_chunk[i] = 1;
  }
  for (size_t d = 0; d + 1 < docs.size(); d++)
    for (int64_t i = docs[d].offset; i < docs[d].offset + docs[d].length; i++)
      ASSERT_TRUE(in_chunk[i] || is_space(text[i])) << "document " << d << " byte " << i << " is in no chunk";
  EXPECT_GT(chunks.size(), 2 * world.library_docs.size()) << "the documents are longer than 12 tokens";
}
