// Hugging Face's tokenizer files (common/tokenizer/hf_files.cpp): a trained vocabulary out and back
// with the same ids, GPT-2's own files given back line for line, and what cannot be read refused
// by file and field. (AutoTokenizer on the same files: tests/hf_roundtrip.py.)
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/io/atomic_file.h"
#include "common/tokenizer/bpe_train.h"
#include "common/tokenizer/byte_alphabet.h"
#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/tokenizer.h"
#include "test_data.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;

namespace {

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

const char* kCorpus =
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs! "
    "How vexingly quick daft zebras jump; the five boxing wizards jump quickly. "
    "Sphinx of black quartz, judge my vow: 12 + 34 = 46, and 1999 was a year. "
    "Café, naïve, façade, jalapeño — déjà vu. Ünïcödé wörds ãnd ëmojis 🙂🙃 too.\n\n"
    "    indented code(x) { return x*x; }\n\tTabs\tand  double  spaces.\r\n";

const std::vector<std::string> kFixture = {
    "The quick brown fox, the lazy dog.",
    "  leading spaces and trailing   ",
    "numbers 1234567 and 3.14159; symbols #@!?",
    "déjà vu 🙂 and unseen ßŧřăñğê letters",
    "line one\nline two\n\n\tindented\r\n",
    "<|user|>What is 2+3?<|end|><|assistant|>5<|end|><|endoftext|>",
    "it's we're they've I'm you'll he'd",
};

// A vocabulary BPE training made (400 ranks) plus the project's special tokens.
Tokenizer trained(SplitPattern pattern) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += kCorpus;
  BpeTrainResult r = train_bpe(count_chunks(text, pattern, 1), 400);
  std::vector<std::pair<std::string, int32_t>> specials;
  for (size_t i = 0; i < kSpecialTokens.size(); ++i) specials.emplace_back(kSpecialTokens[i], 400 + static_cast<int32_t>(i));
  return Tokenizer::from_ranks(r.ranks, pattern, specials);
}

void expect_same_tokenizer(const Tokenizer& a, const Tokenizer& b) {
  ASSERT_EQ(a.n_vocab(), b.n_vocab());
  ASSERT_EQ(a.n_ranks(), b.n_ranks());
  for (int32_t id = 0; id < a.n_ranks(); ++id) ASSERT_EQ(a.token_bytes(id), b.token_bytes(id)) << id;
  EXPECT_EQ(a.specials(), b.specials());
  EXPECT_EQ(a.pattern(), b.pattern());
  for (const std::string& text : kFixture) EXPECT_EQ(a.encode(text, AllowedSpecial::all), b.encode(text, AllowedSpecial::all)) << text;
}

class TokenizerHf : public sog::testing::ScratchFolderTest {};

}  // namespace

TEST(ByteAlphabet, SpellsEveryByteAndBack) {
  EXPECT_EQ(bytes_to_alphabet(" the"), "Ġthe");
  EXPECT_EQ(bytes_to_alphabet("\n\n"), "ĊĊ");
  EXPECT_EQ(bytes_to_alphabet("\xC3\xA9"), "Ã©");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(alphabet_to_bytes(bytes_to_alphabet(all)), all);
  EXPECT_EQ(alphabet_to_bytes("a\xE2\x82\xAC"), std::nullopt) << "€ is outside the alphabet";
  EXPECT_EQ(byte_alphabet_order()[0], '!');
}

TEST_F(TokenizerHf, TrainedVocabularyComesBackWithTheSameIds) {
  for (SplitPattern pattern : {SplitPattern::gpt2, SplitPattern::gpt4}) {
    SCOPED_TRACE(std::string(split_pattern_name(pattern)));
    const Tokenizer tok = trained(pattern);
    tok.save_hf(p("hf"), 64);
    expect_same_tokenizer(tok, Tokenizer::load_hf(p("hf")));
    expect_same_tokenizer(tok, Tokenizer::load(p("hf")));  // load() recognises the folder

    const nlohmann::json tj = nlohmann::json::parse(read_file(p("hf/tokenizer.json")));
    EXPECT_EQ(tj["model"]["type"], "BPE");
    EXPECT_EQ(tj["model"]["merges"].size(), 400u - 256u);
    EXPECT_EQ(tj["added_tokens"].size(), kSpecialTokens.size());
    EXPECT_EQ(tj["added_tokens"][0]["content"], "<|endoftext|>");
    EXPECT_EQ(tj["added_tokens"][0]["special"], true);
    EXPECT_EQ(tj["pre_tokenizer"]["type"], pattern == SplitPattern::gpt2 ? "ByteLevel" : "Sequence");
    const nlohmann::json tc = nlohmann::json::parse(read_file(p("hf/tokenizer_config.json")));
    EXPECT_EQ(tc["eos_token"], "<|endoftext|>");
    EXPECT_EQ(tc["model_max_length"], 64);
    EXPECT_EQ(tc["additional_special_tokens"].size(), kSpecialTokens.size() - 1);
    // The merges in rank order: line k + 2 makes token 256 + k.
    const std::string merges = read_file(p("hf/merges.txt"));
    EXPECT_TRUE(merges.starts_with("#version: 0.2\n"));
    const auto parents = tok.merge_parents(256);
    ASSERT_TRUE(parents);
    EXPECT_EQ(merges.substr(14, merges.find('\n', 14) - 14),
              bytes_to_alphabet(tok.token_bytes(parents->first)) + " " + bytes_to_alphabet(tok.token_bytes(parents->second)));
  }
}

TEST_F(TokenizerHf, ReadsVocabAndMergesAloneWithAddedTokensFromTheConfig) {
  const Tokenizer tok = trained(SplitPattern::gpt2);
  tok.save_hf(p("hf"), 64);
  fs::remove(p("hf/tokenizer.json"));  // as a slow GPT2Tokenizer's folder
  expect_same_tokenizer(tok, Tokenizer::load_hf(p("hf")));
  fs::remove(p("hf/tokenizer_config.json"));  // then only <|endoftext|> is known to be special
  const Tokenizer bare = Tokenizer::load_hf(p("hf"));
  EXPECT_EQ(bare.specials().size(), 1u);
  EXPECT_EQ(bare.eot_id(), 400);
}

TEST_F(TokenizerHf, Gpt2FilesComeBackLineForLine) {
  SOG_REQUIRE_DATA(encoder, "gpt2/encoder.json");
  SOG_REQUIRE_DATA(vocab_bpe, "gpt2/vocab.bpe");
  const Tokenizer gpt2 = Tokenizer::load(fs::path(encoder).parent_path().string());
  gpt2.save_hf(p("hf"), 1024);
  EXPECT_EQ(read_file(p("hf/merges.txt")), read_file(vocab_bpe)) << "every merge recovered from the ranks";
  EXPECT_EQ(nlohmann::json::parse(read_file(p("hf/vocab.json"))), nlohmann::json::parse(read_file(encoder)));
  const Tokenizer back = Tokenizer::load_hf(p("hf"));
  expect_same_tokenizer(gpt2, back);
}

TEST_F(TokenizerHf, RefusesMergesThatOurRanksCannotOrder) {
  const Tokenizer tok = trained(SplitPattern::gpt2);
  tok.save_hf(p("hf"), 64);
  fs::remove(p("hf/tokenizer.json"));
  std::string merges = read_file(p("hf/merges.txt"));  // swap the first two merges
  const size_t a = merges.find('\n') + 1, b = merges.find('\n', a) + 1, c = merges.find('\n', b) + 1;
  merges = merges.substr(0, a) + merges.substr(b, c - b) + merges.substr(a, b - a) + merges.substr(c);
  write_file_atomic(p("hf/merges.txt"), merges);
  const std::string msg = sog::testing::error_of([&] { Tokenizer::load_hf(p("hf")); });
  EXPECT_HAS(msg, p("hf/merges.txt") + ":3: merge");
  EXPECT_HAS(msg, "makes id 256 after an earlier merge made id 257");

  write_file_atomic(p("hf/merges.txt"), merges.substr(0, b) + "a b c\n" + merges.substr(b));  // three tokens on line 3
  EXPECT_HAS(sog::testing::error_of([&] { Tokenizer::load_hf(p("hf")); }),
             p("hf/merges.txt") + ":3: expected a merge \"<first> <second>\" (two tokens, one space), found \"a b c\"");
}

TEST_F(TokenizerHf, RefusesPipelinesItDoesNotRun) {
  const Tokenizer tok = trained(SplitPattern::gpt2);
  tok.save_hf(p("hf"), 64);
  const std::string original = read_file(p("hf/tokenizer.json"));
  auto with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(original);
    edit(j);
    write_file_atomic(p("hf/tokenizer.json"), j.dump());
    return sog::testing::error_of([&] { Tokenizer::load_hf(p("hf")); });
  };
  EXPECT_HAS(with([](nlohmann::json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}}; }),
             p("hf/tokenizer.json") + ": field \"pre_tokenizer\": expected GPT-2's ByteLevel");
  EXPECT_HAS(with([](nlohmann::json& j) { j["pre_tokenizer"]["add_prefix_space"] = true; }), "field \"pre_tokenizer\"");
  EXPECT_HAS(with([](nlohmann::json& j) { j["normalizer"] = {{"type", "NFC"}}; }), "field \"normalizer\": expected null");
  EXPECT_HAS(with([](nlohmann::json& j) { j["model"]["type"] = "WordPiece"; }), "field \"model.type\": expected \"BPE\"");
  EXPECT_HAS(with([](nlohmann::json& j) { j["model"]["vocab"].erase("Ġ"); }),
             "the single byte 32 (\"Ġ\") is not in the vocabulary");
  EXPECT_HAS(with([](nlohmann::json& j) { j["added_tokens"][0]["id"] = 5; }),
             "added token \"<|endoftext|>\" has id 5, which is a mergeable token's");
}

TEST_F(TokenizerHf, RefusesToWriteATokenNoMergeMakes) {
  std::vector<std::string> ranks;
  for (int b = 0; b < 256; ++b) ranks.emplace_back(1, static_cast<char>(b));
  ranks.push_back("abc");  // neither "ab" nor "bc" is a token
  const Tokenizer odd = Tokenizer::from_ranks(ranks, SplitPattern::gpt2, {});
  const std::string msg = sog::testing::error_of([&] { odd.save_hf(p("hf"), 16); });
  EXPECT_HAS(msg, p("hf/merges.txt") + ": token 256 \"abc\" is not the merge of two tokens of lower rank");
}
