// The tokenizer runtime: exact GPT-2 parity with tiktoken (tests/fixtures/gpt2_parity.json), the
// round trip on every text of the data folder, encode_parallel == encode, decoding, the file formats
// (save -> load, GPT-2's files) and their errors, which must name the file and the line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/io/atomic_file.h"
#include "common/tokenizer/base64.h"
#include "common/tokenizer/tokenizer.h"
#include "tests/test_data.h"

namespace sog {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("sog_test_tokenizer_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// The message of the exception fn throws (fails the test if it throws none).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}
#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "\"" << (haystack) << "\" lacks \"" << (needle) << "\""

// A toy vocabulary: the 256 bytes (in byte order), then a few merges.
Tokenizer toy_tokenizer(SplitPattern p) {
  std::vector<std::string> ranks;
  for (int b = 0; b < 256; ++b) ranks.emplace_back(1, static_cast<char>(b));
  for (const char* m : {"th", " t", " th", "he", " the", "in", "ing", "\xe4\xb8", "\xe4\xb8\xad"}) ranks.emplace_back(m);
  std::vector<std::pair<std::string, int32_t>> specials;
  for (size_t i = 0; i < kSpecialTokens.size(); ++i) specials.emplace_back(kSpecialTokens[i], 265 + static_cast<int32_t>(i));
  return Tokenizer::from_ranks(std::move(ranks), p, std::move(specials));
}

class Gpt2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = ::sog::testing::third_party_data("gpt2/encoder.json");
    if (!dir.empty()) gpt2_ = new Tokenizer(Tokenizer::load(fs::path(dir).parent_path().string()));
  }
  static void TearDownTestSuite() {
    delete gpt2_;
    gpt2_ = nullptr;
  }
  void SetUp() override {
    if (!gpt2_) GTEST_SKIP() << "third-party data file 'gpt2/encoder.json' is missing (run scripts/get_data.sh)";
  }
  static Tokenizer* gpt2_;
};
Tokenizer* Gpt2::gpt2_ = nullptr;

nlohmann::json parity_fixture() {
  std::ifstream in(std::string(SOG_SOURCE_DIR) + "/tests/fixtures/gpt2_parity.json");
  if (!in) throw std::runtime_error("tests/fixtures/gpt2_parity.json: missing (run tests/make_gpt2_fixture.py)");
  return nlohmann::json::parse(in);
}

TEST_F(Gpt2, Vocabulary) {
  EXPECT_EQ(gpt2_->n_ranks(), 50256);
  EXPECT_EQ(gpt2_->n_vocab(), 50257);
  EXPECT_EQ(gpt2_->eot_id(), 50256);
  EXPECT_EQ(gpt2_->pattern(), SplitPattern::gpt2);
  EXPECT_EQ(gpt2_->token_bytes(0), "!");
  EXPECT_EQ(gpt2_->token_bytes(262), " the");
  EXPECT_EQ(gpt2_->token_bytes(198), "\n");
  EXPECT_EQ(gpt2_->token_bytes(50256), "<|endoftext|>");
  EXPECT_FALSE(gpt2_->special_id("<|user|>"));
}

TEST_F(Gpt2, MatchesTiktokenExactly) {
  const nlohmann::json fixture = parity_fixture();
  ASSERT_GE(fixture["cases"].size(), 40u);
  // GPT-2's ranks under the cl100k pattern: checks our gpt4 split against tiktoken's own engine.
  std::vector<std::string> ranks;
  for (int32_t id = 0; id < gpt2_->n_ranks(); ++id) ranks.push_back(gpt2_->token_bytes(id));
  const Tokenizer gpt2_ranks_gpt4_split = Tokenizer::from_ranks(ranks, SplitPattern::gpt4, gpt2_->specials());
  for (const auto& c : fixture["cases"]) {
    const std::string text = c["text"];
    const std::string shown = nlohmann::json(text).dump().substr(0, 120);
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(gpt2_->encode(text), ids) << shown;
    EXPECT_EQ(gpt2_->encode_ordinary(text), ids) << shown;
    EXPECT_EQ(gpt2_->encode(text, AllowedSpecial::all), c["ids_all_special"].get<std::vector<int32_t>>()) << shown;
    EXPECT_EQ(gpt2_ranks_gpt4_split.encode(text), c["ids_gpt4_pattern"].get<std::vector<int32_t>>()) << shown;
    EXPECT_EQ(gpt2_->decode(ids), text) << shown;
  }
}

TEST(Utf8, ReplaceInvalidMatchesPython) {
  const nlohmann::json fixture = parity_fixture();
  ASSERT_FALSE(fixture["utf8_replace_cases"].empty());
  for (const auto& c : fixture["utf8_replace_cases"]) {
    const std::string hex = c["bytes_hex"];
    std::string bytes;
    for (size_t i = 0; i < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    EXPECT_EQ(utf8_replace_invalid(bytes), c["text"].get<std::string>()) << hex;
  }
}

TEST(Utf8, RenderToken) {
  EXPECT_EQ(render_token("\n hi\xe2"), "\\u000a hi\\xe2");
  EXPECT_EQ(render_token("\xe4\xb8\xad!"), "\xe4\xb8\xad!");
}

TEST(Utf8, StreamHoldsBackAnUnfinishedCharacter) {
  Utf8Stream a;
  EXPECT_EQ(a.push("a\xc3"), "a");           // é = C3 A9: its lead byte waits
  EXPECT_EQ(a.push("\xa9" "b"), "\xc3\xa9" "b");
  EXPECT_EQ(a.push("\xf0\x9f"), "");         // 😀 = F0 9F 98 80, one byte at a time
  EXPECT_EQ(a.push("\x98"), "");
  EXPECT_EQ(a.push("\x80!"), "\xf0\x9f\x98\x80!");
  EXPECT_EQ(a.finish(), "");

  Utf8Stream cut;  // a character that never finishes comes out as U+FFFD at the end
  EXPECT_EQ(cut.push("x\xe2\x82"), "x");
  EXPECT_EQ(cut.finish(), "\xef\xbf\xbd");
  EXPECT_EQ(cut.push("y"), "y");  // and the stream starts over

  Utf8Stream bad;  // bytes that can never be UTF-8 are replaced at once, not held back
  EXPECT_EQ(bad.push("\xff\x80z"), "\xef\xbf\xbd\xef\xbf\xbdz");

  // Any split of a text into pieces streams back the same text.
  const std::string text = "na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80.";
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    Utf8Stream s;
    std::string out;
    for (size_t i = 0; i < text.size();) {
      const size_t n = std::min<size_t>(text.size() - i, 1 + rng() % 4);
      out += s.push(std::string_view(text).substr(i, n));
      i += n;
    }
    out += s.finish();
    EXPECT_EQ(out, text);
  }
}

TEST(Base64, RoundTripAndRejects) {
  EXPECT_EQ(base64_encode(" the"), "IHRoZQ==");
  std::mt19937 rng(3);
  for (int len = 0; len < 40; ++len) {
    std::string s(static_cast<size_t>(len), '\0');
    for (char& ch : s) ch = static_cast<char>(rng());
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  }
  for (const char* bad : {"IHRoZQ=", "IHRo!Q==", "I=Ro", "IHRoZR==", "====", "IHRoZQ==IHRo"}) EXPECT_FALSE(base64_decode(bad)) << bad;
}

// Every text of the data folder: decode(encode(text)) == text, and the parallel encoder agrees.
// One test per file, so that a missing file is reported skipped by name rather than left out.
class Gpt2OnDataText : public Gpt2, public ::testing::WithParamInterface<std::string> {};

TEST_P(Gpt2OnDataText, RoundTripAndParallel) {
  const std::string name = GetParam();
  SOG_REQUIRE_DATA(path, name);
  const std::string text = read_file(path);
  const auto ids = gpt2_->encode(text);
  EXPECT_EQ(gpt2_->decode_bytes(ids), text);
  EXPECT_EQ(gpt2_->decode(ids), text);  // valid UTF-8 in, so no replacement
  EXPECT_EQ(gpt2_->encode_parallel(text, AllowedSpecial::none, 2), ids);
  EXPECT_EQ(gpt2_->encode_parallel(text, AllowedSpecial::none, 3), ids);
  EXPECT_LT(ids.size(), text.size());
}

INSTANTIATE_TEST_SUITE_P(DataFiles, Gpt2OnDataText,
                         ::testing::Values("tinyshakespeare.txt", "wikitext2_valid.txt", "wikitext2_test.txt",
                                           "code_c_lua.txt", "code_python_click.txt", "chinese_classics.txt"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find('.'));  // "tinyshakespeare"
                         });

TEST_F(Gpt2, ParallelWithSpecialTokensAndOddBytes) {
  std::mt19937 rng(5);
  std::string text;
  const std::vector<std::string> pieces = {"word", " the", "\n", "\n\n", "  ", "<|endoftext|>", "\xff", "\xe4\xb8\xad", "12345", "'s", "\t"};
  while (text.size() < 400000) text += pieces[rng() % pieces.size()];
  for (AllowedSpecial a : {AllowedSpecial::none, AllowedSpecial::all}) {
    const auto ids = gpt2_->encode(text, a);
    EXPECT_EQ(gpt2_->encode_parallel(text, a, 2), ids);
    EXPECT_EQ(gpt2_->encode_parallel(text, a, 4), ids);
    EXPECT_EQ(gpt2_->decode_bytes(ids), text);  // invalid UTF-8 round-trips as bytes
  }
}

TEST_F(Gpt2, SpecialTokens) {
  const std::string text = "a<|endoftext|>b";
  EXPECT_EQ(gpt2_->encode(text, AllowedSpecial::all), (std::vector<int32_t>{64, 50256, 65}));
  EXPECT_GT(gpt2_->encode(text).size(), 3u);  // ordinary text by default: never 50256
  for (int32_t id : gpt2_->encode(text)) EXPECT_NE(id, 50256);
  // GPT-2 plus the chat tokens: new ids after 50256.
  const Tokenizer chat = gpt2_->with_specials(kSpecialTokens);
  EXPECT_EQ(chat.n_vocab(), 50264);
  EXPECT_EQ(chat.eot_id(), 50256);
  EXPECT_EQ(chat.special_id(kUser), 50258);
  const auto ids = chat.encode("<|user|>hi<|end|><|assistant|>", AllowedSpecial::all);
  EXPECT_EQ(ids, (std::vector<int32_t>{50258, 5303, 50260, 50259}));
  EXPECT_EQ(chat.decode(ids), "<|user|>hi<|end|><|assistant|>");
}

TEST_F(Gpt2, DecodeErrorsAndReplacement) {
  // A lone lead byte is a token of its own: raw bytes keep it, text replaces it.
  const int32_t e2 = *gpt2_->rank_of("\xe2");
  const std::vector<int32_t> ids = {*gpt2_->rank_of("a"), e2};
  EXPECT_EQ(gpt2_->decode_bytes(ids), "a\xe2");
  EXPECT_EQ(gpt2_->decode(ids), "a\xef\xbf\xbd");
  const std::string msg = error_of([&] { gpt2_->decode(std::vector<int32_t>{1, 2, 50257}); });
  EXPECT_HAS(msg, "50257");
  EXPECT_HAS(msg, "position 2");
  EXPECT_HAS(error_of([&] { gpt2_->decode_bytes(std::vector<int32_t>{-1}); }), "-1");
  EXPECT_HAS(error_of([&] { gpt2_->token_bytes(70000); }), "70000");
}

TEST_F(Gpt2, SaveLoadGivesTheSameEncoding) {
  TempDir dir;
  gpt2_->save(dir.path.string());
  const Tokenizer back = Tokenizer::load(dir.path.string());
  EXPECT_EQ(back.n_vocab(), gpt2_->n_vocab());
  EXPECT_EQ(back.specials(), gpt2_->specials());
  const std::string text = "Hello world! It's 2024.\n\n\tcode();  <|endoftext|> \xe4\xbd\xa0\xe5\xa5\xbd";
  EXPECT_EQ(back.encode(text), gpt2_->encode(text));
  EXPECT_EQ(back.encode(text, AllowedSpecial::all), gpt2_->encode(text, AllowedSpecial::all));
  const std::string vocab = read_file(dir / "vocab.txt");
  EXPECT_HAS(vocab, "\n262 [ the] <- [ t][he]\n");
  EXPECT_HAS(vocab, "\n50256 [<|endoftext|>] special\n");
  const std::string ranks = read_file(dir / "tokenizer.tiktoken");
  EXPECT_EQ(ranks.substr(0, 7), "IQ== 0\n");  // "!" is rank 0
}

TEST(Tokenizer, SaveWritesTheDocumentedJson) {
  TempDir dir;
  const Tokenizer t = toy_tokenizer(SplitPattern::gpt4);
  t.save(dir.path.string());
  const nlohmann::json meta = nlohmann::json::parse(read_file(dir / "tokenizer.json"));
  EXPECT_EQ(meta["format"], "stateofgpt-tokenizer");
  EXPECT_EQ(meta["version"], 1);
  EXPECT_EQ(meta["pattern"], "gpt4");
  EXPECT_EQ(meta["pattern_regex"], split_pattern_regex(SplitPattern::gpt4));
  EXPECT_EQ(meta["n_ranks"], 265);
  EXPECT_EQ(meta["special_tokens"]["<|endoftext|>"], 265);
  EXPECT_EQ(meta["special_tokens"]["<|tool_end|>"], 272);
  const Tokenizer back = Tokenizer::load(dir.path.string());
  EXPECT_EQ(back.pattern(), SplitPattern::gpt4);
  EXPECT_EQ(back.n_vocab(), 273);
  const std::string text = "<|user|>the thing 中中<|end|>";
  EXPECT_EQ(back.encode(text, AllowedSpecial::all), t.encode(text, AllowedSpecial::all));
  EXPECT_EQ(t.encode(" the", AllowedSpecial::none), (std::vector<int32_t>{260}));
}

TEST(Tokenizer, FromRanksRejectsBadVocabularies) {
  std::vector<std::string> bytes;
  for (int b = 0; b < 256; ++b) bytes.emplace_back(1, static_cast<char>(b));
  auto missing = bytes;
  missing[65] = "AB";
  EXPECT_HAS(error_of([&] { Tokenizer::from_ranks(missing, SplitPattern::gpt2, {}); }), "byte 65");
  auto duplicate = bytes;
  duplicate.push_back("ab");
  duplicate.push_back("ab");
  EXPECT_HAS(error_of([&] { Tokenizer::from_ranks(duplicate, SplitPattern::gpt2, {}); }), "ranks 256 and 257");
  EXPECT_HAS(error_of([&] { Tokenizer::from_ranks(bytes, SplitPattern::gpt2, {{"<|a|>", 10}}); }), "id 10");
  EXPECT_HAS(error_of([&] { Tokenizer::from_ranks(bytes, SplitPattern::gpt2, {{"<|a|>", 300}, {"<|b|>", 300}}); }), "clash");
  EXPECT_HAS(error_of([&] { Tokenizer::from_ranks(bytes, SplitPattern::gpt2, {}).eot_id(); }), "<|endoftext|>");
}

TEST(Tokenizer, CachesOfTwoVocabulariesDoNotMix) {
  // The per-thread chunk cache is keyed by vocabulary: interleaving two tokenizers stays exact.
  const Tokenizer a = toy_tokenizer(SplitPattern::gpt2);
  std::vector<std::string> ranks;
  for (int b = 0; b < 256; ++b) ranks.emplace_back(1, static_cast<char>(b));
  const Tokenizer bytes_only = Tokenizer::from_ranks(ranks, SplitPattern::gpt2, {});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a.encode(" thing"), (std::vector<int32_t>{258, 262}));  // " th" + "ing"
    EXPECT_EQ(bytes_only.encode(" thing").size(), 6u);
  }
}

// ---- corrupted, truncated and missing files ------------------------------------------------------

void write(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

TEST(TokenizerFiles, OurFormatErrorsNameFileAndLine) {
  TempDir dir;
  const Tokenizer t = toy_tokenizer(SplitPattern::gpt2);
  t.save(dir.path.string());
  const std::string ranks = read_file(dir / "tokenizer.tiktoken"), meta = read_file(dir / "tokenizer.json");
  const std::string rank_file = dir / "tokenizer.tiktoken";
  auto load = [&] { Tokenizer::load(dir.path.string()); };
  auto line_start = [&](int line) {  // byte offset of a 1-based line
    size_t pos = 0;
    for (int i = 1; i < line; ++i) pos = ranks.find('\n', pos) + 1;
    return pos;
  };

  std::string bad = ranks;
  bad.replace(line_start(3), 4, "A!==");  // line 3: "Ag== 2" -> "A!== 2"
  write(rank_file, bad);
  std::string msg = error_of(load);
  EXPECT_HAS(msg, "tokenizer.tiktoken:3:");
  EXPECT_HAS(msg, "base64");

  bad = ranks;
  bad.replace(line_start(5), ranks.find('\n', line_start(5)) - line_start(5), "BA== 7");  // rank 4 -> 7: a gap
  write(rank_file, bad);
  msg = error_of(load);
  EXPECT_HAS(msg, "tokenizer.tiktoken:5:");
  EXPECT_HAS(msg, "expected rank 4");

  write(rank_file, ranks.substr(0, line_start(100) + 3));  // truncated inside line 100
  msg = error_of(load);
  EXPECT_HAS(msg, "tokenizer.tiktoken:100:");

  write(rank_file, ranks.substr(0, line_start(200)));  // truncated at a line boundary
  msg = error_of(load);
  EXPECT_HAS(msg, "tokenizer.tiktoken:200:");
  EXPECT_HAS(msg, "expected 265 ranks");

  write(rank_file, ranks);
  write(dir / "tokenizer.json", meta.substr(0, meta.size() / 2));
  msg = error_of(load);
  EXPECT_HAS(msg, "tokenizer.json:");
  EXPECT_HAS(msg, "valid JSON");

  std::string bad_meta = meta;
  bad_meta.replace(bad_meta.find("\"gpt2\""), 6, "\"gpt5\"");
  write(dir / "tokenizer.json", bad_meta);
  msg = error_of(load);
  EXPECT_HAS(msg, "tokenizer.json:4:");
  EXPECT_HAS(msg, "\"pattern\"");
  EXPECT_HAS(msg, "gpt5");

  write(dir / "tokenizer.json", meta);
  fs::remove(rank_file);
  EXPECT_HAS(error_of(load), "tokenizer.tiktoken: no such file");
  fs::remove(dir / "tokenizer.json");
  EXPECT_HAS(error_of(load), "expected a tokenizer folder");
  EXPECT_HAS(error_of([] { Tokenizer::load_tiktoken("/nonexistent/x.tiktoken", SplitPattern::gpt4, {}); }), "/nonexistent/x.tiktoken");
}

// A miniature GPT-2 release: the first 20 merges of the real vocab.bpe and the matching entries of
// encoder.json, with <|endoftext|> right after them.
struct MiniGpt2 {
  std::string encoder, merges;
};
MiniGpt2 mini_gpt2(const std::string& encoder_path, const std::string& vocab_path) {
  const std::string vocab = read_file(vocab_path);
  size_t pos = 0;
  for (int line = 0; line < 21; ++line) pos = vocab.find('\n', pos) + 1;
  nlohmann::ordered_json mini;
  const nlohmann::json full = nlohmann::json::parse(read_file(encoder_path));
  for (const auto& [key, id] : full.items()) {
    if (id.get<int>() < 276) mini[key] = id;
  }
  mini["<|endoftext|>"] = 276;
  return {mini.dump(), vocab.substr(0, pos)};
}

TEST(TokenizerFiles, Gpt2FormatErrorsNameFileAndLine) {
  SOG_REQUIRE_DATA(encoder_path, "gpt2/encoder.json");
  SOG_REQUIRE_DATA(vocab_path, "gpt2/vocab.bpe");
  TempDir dir;
  const MiniGpt2 mini = mini_gpt2(encoder_path, vocab_path);
  auto load = [&] { return Tokenizer::load(dir.path.string()); };
  write(dir / "encoder.json", mini.encoder);
  write(dir / "vocab.bpe", mini.merges);
  const Tokenizer ok = load();
  EXPECT_EQ(ok.n_ranks(), 276);
  EXPECT_EQ(ok.eot_id(), 276);
  EXPECT_EQ(ok.encode(" the"), (std::vector<int32_t>{262}));  // merges 1 and 6: " t", " t"+"he"

  auto merge_line_start = [&](int line) {
    size_t pos = 0;
    for (int i = 1; i < line; ++i) pos = mini.merges.find('\n', pos) + 1;
    return pos;
  };
  std::string bad = mini.merges;
  bad.insert(merge_line_start(5), "a b c\n");
  write(dir / "vocab.bpe", bad);
  std::string msg = error_of(load);
  EXPECT_HAS(msg, "vocab.bpe:5:");
  EXPECT_HAS(msg, "two tokens");

  bad = mini.merges;
  bad.insert(merge_line_start(7), bad.substr(merge_line_start(3), merge_line_start(4) - merge_line_start(3)));
  write(dir / "vocab.bpe", bad);
  msg = error_of(load);
  EXPECT_HAS(msg, "vocab.bpe:7:");
  EXPECT_HAS(msg, "already made on line 3");

  write(dir / "vocab.bpe", "0.2\n" + mini.merges.substr(merge_line_start(2)));
  EXPECT_HAS(error_of(load), "vocab.bpe:1:");

  write(dir / "vocab.bpe", mini.merges.substr(0, merge_line_start(15)));  // truncated: 13 merges
  msg = error_of(load);
  EXPECT_HAS(msg, "encoder.json");
  EXPECT_HAS(msg, "truncated");

  write(dir / "vocab.bpe", mini.merges);
  write(dir / "encoder.json", mini.encoder.substr(0, 500));
  msg = error_of(load);
  EXPECT_HAS(msg, "encoder.json:1:");
  EXPECT_HAS(msg, "valid JSON");

  fs::remove(dir / "encoder.json");
  EXPECT_HAS(error_of([&] { Tokenizer::load_gpt2(dir / "encoder.json", dir / "vocab.bpe"); }), "encoder.json: no such file");
}

}  // namespace
}  // namespace sog
