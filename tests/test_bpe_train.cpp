// BPE training: the first merges equal ones worked out by hand, the fast trainer makes exactly the
// merges of the naive one, a trained vocabulary saves / loads / round-trips, training is
// deterministic to the byte, and every bad input fails with a message that says why.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "common/io/atomic_file.h"
#include "common/tokenizer/bpe_train.h"
#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/tokenizer.h"
#include "test_data.h"

namespace fs = std::filesystem;
using namespace sog;
using Merge = std::pair<int32_t, int32_t>;

namespace {

using sog::testing::error_of;
fs::path temp_dir(const std::string& name) { return sog::testing::fresh_temp_dir("test_bpe_" + name); }


Tokenizer make_tokenizer(BpeTrainResult bpe, SplitPattern pattern) {
  const int32_t n_ranks = static_cast<int32_t>(bpe.ranks.size());
  std::vector<std::pair<std::string, int32_t>> specials;
  for (size_t i = 0; i < kSpecialTokens.size(); ++i) specials.emplace_back(std::string(kSpecialTokens[i]), n_ranks + static_cast<int32_t>(i));
  return Tokenizer::from_ranks(std::move(bpe.ranks), pattern, std::move(specials));
}

// Some English, some code, some Chinese, repeated so that merges have something to find.
std::string mixed_text() {
  std::string s;
  for (int i = 0; i < 3; ++i) {
    s += "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n";
    s += "int main(int argc, char** argv) {\n  for (int i = 0; i < 10; ++i) printf(\"%d\\n\", i);\n  return 0;\n}\n";
    s += "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？\n";
    s += "The year 2024 had 366 days; 1,000,000 tokens    and    spaces. It's we'll they've I'm\n";
  }
  return s;
}

}  // namespace

// Wikipedia's BPE example, as one chunk: "aaabdaaabac".
//   pairs: aa ×4 (overlapping, as minbpe counts), ab ×2, bd, da, ba, ac → (a,a)=256 "aa"
//   then "aa a b d aa a b a c": (256,a) ×2 and (a,b) ×2 tie → the smaller pair (a,b)=(97,98) wins → 257 "ab"
//   then "aa ab d aa ab a c": (256,257) ×2 → 258 "aaab"   (Wikipedia's Z, Y, X = ZY)
TEST(BpeTrain, WikipediaExampleByHand) {
  ChunkCounts counts{{"aaabdaaabac", 1}};
  for (auto* train : {&train_bpe, &train_bpe_naive}) {
    BpeTrainResult r = (*train)(counts, 259);
    ASSERT_EQ(r.merges.size(), 3u);
    EXPECT_EQ(r.merges[0], Merge('a', 'a'));
    EXPECT_EQ(r.merges[1], Merge('a', 'b'));
    EXPECT_EQ(r.merges[2], Merge(256, 257));
    EXPECT_EQ(r.ranks[256], "aa");
    EXPECT_EQ(r.ranks[257], "ab");
    EXPECT_EQ(r.ranks[258], "aaab");
    ASSERT_EQ(r.ranks.size(), 259u);
    for (int b = 0; b < 256; ++b) ASSERT_EQ(r.ranks[b], std::string(1, static_cast<char>(b)));
  }
}

// Pre-tokenized words with frequencies (Hugging Face course's example):
//   hug ×10, pug ×5, pun ×12, bun ×4, hugs ×5
//   (u,g) = 10+5+5 = 20 beats (p,u) = 17, (u,n) = 16 → "ug"
//   then (u,n) = 12+4 = 16 beats (h,ug) = 15 → "un"
//   then (h,ug) = 15 → "hug"
// No merge crosses a chunk: "gp" never forms although "hug pug" would have it as text.
TEST(BpeTrain, PreTokenizedExampleByHand) {
  ChunkCounts counts{{"hug", 10}, {"pug", 5}, {"pun", 12}, {"bun", 4}, {"hugs", 5}};
  for (auto* train : {&train_bpe, &train_bpe_naive}) {
    BpeTrainResult r = (*train)(counts, 259);
    EXPECT_EQ(r.ranks[256], "ug");
    EXPECT_EQ(r.ranks[257], "un");
    EXPECT_EQ(r.ranks[258], "hug");
    EXPECT_EQ(r.merges[2], Merge('h', 256));
  }
}

// The split regex keeps merges inside words: " hug" and "hug" are different chunks.
TEST(BpeTrain, CountChunksUsesTheSplitRegex) {
  ChunkCounts counts = count_chunks("hug hug hug!!", SplitPattern::gpt2, 2);
  EXPECT_EQ(counts["hug"], 1);
  EXPECT_EQ(counts[" hug"], 2);
  EXPECT_EQ(counts["!!"], 1);
  EXPECT_EQ(counts.size(), 3u);
  // the parallel count equals the single-threaded one on a long text with many line starts
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + " of the text,\n  indented\n\nNext:\n";
  for (SplitPattern p : {SplitPattern::gpt2, SplitPattern::gpt4}) {
    EXPECT_EQ(count_chunks(text, p, 1), count_chunks(text, p, 4));
  }
}

// The heap-and-index trainer takes the same merges, in the same order, as the naive loop.
static void expect_fast_equals_naive(const std::string& text, int vocab) {
  for (SplitPattern p : {SplitPattern::gpt2, SplitPattern::gpt4}) {
    ChunkCounts counts = count_chunks(text, p, 2);
    BpeTrainResult fast = train_bpe(counts, vocab), naive = train_bpe_naive(counts, vocab);
    ASSERT_EQ(fast.merges.size(), naive.merges.size());
    for (size_t k = 0; k < fast.merges.size(); ++k) ASSERT_EQ(fast.merges[k], naive.merges[k]) << "merge " << k;
    EXPECT_EQ(fast.ranks, naive.ranks);
  }
}

TEST(BpeTrain, FastEqualsNaive) {
  {
    SCOPED_TRACE("mixed text");
    expect_fast_equals_naive(mixed_text(), 256 + 150);
  }
  SCOPED_TRACE("runs of one letter");
  expect_fast_equals_naive(std::string(300, 'a') + " " + std::string(77, 'a') + " abababab ab", 256 + 8);
}

TEST(BpeTrain, FastEqualsNaiveOnTinyShakespeare) {
  SOG_REQUIRE_DATA(path, "tinyshakespeare.txt");
  expect_fast_equals_naive(read_file(path).substr(0, 30000), 256 + 150);
}

TEST(BpeTrain, SaveLoadEncodesIdenticallyAndHasExactVocabSize) {
  const std::string text = mixed_text();
  for (SplitPattern p : {SplitPattern::gpt2, SplitPattern::gpt4}) {
    Tokenizer tok = make_tokenizer(train_bpe(count_chunks(text, p, 2), 400), p);
    EXPECT_EQ(tok.n_ranks(), 400);
    EXPECT_EQ(tok.n_vocab(), 400 + static_cast<int32_t>(kSpecialTokens.size()));
    EXPECT_EQ(tok.eot_id(), 400);
    fs::path dir = temp_dir("saveload");
    tok.save(dir.string());
    Tokenizer loaded = Tokenizer::load(dir.string());
    EXPECT_EQ(loaded.n_vocab(), tok.n_vocab());
    EXPECT_EQ(loaded.pattern(), p);
    std::vector<int32_t> ids = tok.encode(text);
    EXPECT_EQ(loaded.encode(text), ids);
    EXPECT_LT(ids.size(), text.size() / 2) << "400 ranks trained on this very text should at least halve it";
    EXPECT_EQ(loaded.decode(ids), text);
    // a training chunk encodes to one token when a merge made it whole
    EXPECT_EQ(loaded.encode(" speak").size(), 1u);
    fs::remove_all(dir);
  }
}

TEST(BpeTrain, DeterministicToTheByte) {
  const std::string text = mixed_text();
  std::string files[2][3];
  for (int run = 0; run < 2; ++run) {
    // different thread counts must not change anything either
    Tokenizer tok = make_tokenizer(train_bpe(count_chunks(text, SplitPattern::gpt4, run + 1), 350), SplitPattern::gpt4);
    fs::path dir = temp_dir("determinism" + std::to_string(run));
    tok.save(dir.string());
    const char* names[3] = {"tokenizer.tiktoken", "tokenizer.json", "vocab.txt"};
    for (int f = 0; f < 3; ++f) files[run][f] = read_file((dir / names[f]).string());
    fs::remove_all(dir);
  }
  for (int f = 0; f < 3; ++f) {
    EXPECT_FALSE(files[0][f].empty());
    EXPECT_EQ(files[0][f], files[1][f]) << "saved file " << f << " differs between two identical trainings";
  }
}

TEST(BpeTrain, ErrorsSayWhy) {
  ChunkCounts counts{{"abc", 2}, {"ab", 1}};
  for (auto* train : {&train_bpe, &train_bpe_naive}) {
    std::string msg = error_of([&] { (*train)(counts, 255); });
    EXPECT_NE(msg.find("at least 256"), std::string::npos) << msg;
    EXPECT_NE(msg.find("255"), std::string::npos) << msg;
    // "abc" and "ab" allow exactly 2 merges: (a,b), then (ab,c)
    EXPECT_NO_THROW((*train)(counts, 258));
    msg = error_of([&] { (*train)(counts, 259); });
    EXPECT_NE(msg.find("allows only 2"), std::string::npos) << msg;
    msg = error_of([&] { (*train)(ChunkCounts{}, 300); });
    EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  }
  // vocabulary 256: no merge, plain bytes
  EXPECT_EQ(train_bpe(counts, 256).ranks.size(), 256u);

  fs::path dir = temp_dir("errors");
  std::string empty = (dir / "empty.txt").string();
  write_file_atomic(empty, "");
  std::string msg = error_of([&] { count_chunks_in_files({empty}, SplitPattern::gpt2); });
  EXPECT_NE(msg.find(empty), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  std::string missing = (dir / "missing.txt").string();
  msg = error_of([&] { count_chunks_in_files({missing}, SplitPattern::gpt2); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  fs::remove_all(dir);
}

// Byte-level BPE does not need UTF-8: invalid bytes are just bytes.
TEST(BpeTrain, NonUtf8InputTrainsAndRoundTrips) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "caf\xe9 na\xefve \xff\xfe\xff\xfe \x80\x80 ok " + std::to_string(i * 37) + "\n";
  fs::path dir = temp_dir("latin1");
  std::string path = (dir / "latin1.txt").string();
  write_file_atomic(path, text);
  for (SplitPattern p : {SplitPattern::gpt2, SplitPattern::gpt4}) {
    ChunkCounts counts = count_chunks_in_files({path}, p, 2);
    BpeTrainResult fast = train_bpe(counts, 266);
    EXPECT_EQ(fast.merges, train_bpe_naive(counts, 266).merges);
    Tokenizer tok = make_tokenizer(std::move(fast), p);
    std::vector<int32_t> ids = tok.encode(text);
    EXPECT_EQ(tok.decode_bytes(ids), text);
    EXPECT_LT(ids.size(), text.size());
  }
  fs::remove_all(dir);
}

TEST(BpeTrain, RandomBytesRoundTrip) {
  std::mt19937 rng(1234);
  std::string text(20000, '\0');
  // a skewed distribution so that some pairs are frequent
  for (char& c : text) c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : rng() % 16);
  for (SplitPattern p : {SplitPattern::gpt2, SplitPattern::gpt4}) {
    ChunkCounts counts = count_chunks(text, p, 2);
    Tokenizer tok = make_tokenizer(train_bpe(counts, 512), p);
    std::vector<int32_t> ids = tok.encode(text);
    EXPECT_EQ(tok.decode_bytes(ids), text);
    EXPECT_LT(ids.size(), text.size());
    std::string other(3000, '\0');
    for (char& c : other) c = static_cast<char>(rng() % 256);
    EXPECT_EQ(tok.decode_bytes(tok.encode(other)), other);
  }
}
