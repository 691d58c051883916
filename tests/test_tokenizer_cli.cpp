// bin/tokenizer end to end, as a user runs it: train → encode → decode round trip, --jsonl order
// and errors, --allowed-special, shard files and meta.json, and decode's error for a bad id.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/data/shard.h"
#include "common/io/atomic_file.h"
#include "common/tokenizer/tokenizer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace sog;

namespace {

const std::string kBinary = SOG_BINARY_DIR "/bin/tokenizer";

using Result = sog::testing::CommandResult;
using sog::testing::shell_quote;
std::string quote(const std::string& s) { return shell_quote(s); }

// Runs `bin/tokenizer <args>` with `stdin_file` (may be empty) on stdin.
Result run_tokenizer(const std::string& args, const fs::path& dir, const std::string& stdin_file = "") {
  return sog::testing::run_command(kBinary, args, dir, stdin_file);
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::istringstream in(s);
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

std::string corpus() {
  std::string s;
  for (int i = 0; i < 20; ++i) {
    s += "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n";
    s += "def f(x):\n    return x * " + std::to_string(i) + "\n";
    s += "学而时习之，不亦说乎？\n";
  }
  return s;
}

class TokenizerCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kBinary)) GTEST_SKIP() << kBinary << " is not built (build the 'tokenizer' target)";
    dir_ = fs::temp_directory_path() / ("sog_test_tokenizer_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    text_file_ = (dir_ / "corpus.txt").string();
    write_file_atomic(text_file_, corpus());
    tok_dir_ = (dir_ / "tok").string();
    Result r = run_tokenizer("train --input " + quote(text_file_) + " --vocab-size 300 --pattern gpt4 --out " + quote(tok_dir_), dir_);
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_NE(r.out.find("merges/s"), std::string::npos) << r.out;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string write(const std::string& name, const std::string& contents) {
    std::string path = (dir_ / name).string();
    write_file_atomic(path, contents);
    return path;
  }
  fs::path dir_;
  std::string text_file_, tok_dir_;
};

}  // namespace

TEST_F(TokenizerCli, TrainEncodeDecodeRoundTrip) {
  for (const char* f : {"tokenizer.tiktoken", "tokenizer.json", "vocab.txt"}) EXPECT_TRUE(fs::exists(fs::path(tok_dir_) / f)) << f;
  Result enc = run_tokenizer("encode --tokenizer " + quote(tok_dir_), dir_, text_file_);
  ASSERT_EQ(enc.rc, 0) << enc.err;
  std::vector<int32_t> ids = parse_ids(enc.out);
  EXPECT_EQ(ids, Tokenizer::load(tok_dir_).encode(corpus()));
  EXPECT_LT(ids.size(), corpus().size());
  std::string ids_file = write("ids.txt", enc.out);
  Result dec = run_tokenizer("decode --tokenizer " + quote(tok_dir_), dir_, ids_file);
  ASSERT_EQ(dec.rc, 0) << dec.err;
  EXPECT_EQ(dec.out, corpus());
}

TEST_F(TokenizerCli, JsonlKeepsOrderAndNamesTheBadLine) {
  std::string good = write("good.jsonl", "{\"text\": \"Speak, speak.\"}\n{\"text\": \"def f(x):\", \"id\": 7}\n\n{\"text\": \"\"}\n");
  Result r = run_tokenizer("encode --jsonl --tokenizer " + quote(tok_dir_), dir_, good);
  ASSERT_EQ(r.rc, 0) << r.err;
  Tokenizer tok = Tokenizer::load(tok_dir_);
  std::istringstream lines(r.out);
  std::vector<std::string> expected_texts = {"Speak, speak.", "def f(x):", ""};
  std::string line;
  size_t n = 0;
  for (; std::getline(lines, line); ++n) {
    ASSERT_LT(n, expected_texts.size()) << "too many output lines";
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["ids"].get<std::vector<int32_t>>(), tok.encode(expected_texts[n])) << "line " << n;
  }
  EXPECT_EQ(n, expected_texts.size());

  std::string bad = write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"fine\"}\n{\"txt\": \"no text field\"}\n");
  r = run_tokenizer("encode --jsonl --tokenizer " + quote(tok_dir_), dir_, bad);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\"text\""), std::string::npos) << r.err;
  bad = write("bad2.jsonl", "{\"text\": \"ok\"}\nnot json at all\n");
  r = run_tokenizer("encode --jsonl --tokenizer " + quote(tok_dir_), dir_, bad);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
}

TEST_F(TokenizerCli, AllowedSpecial) {
  std::string eot_text = write("eot.txt", "<|endoftext|>");
  Tokenizer tok = Tokenizer::load(tok_dir_);
  Result plain = run_tokenizer("encode --tokenizer " + quote(tok_dir_), dir_, eot_text);
  ASSERT_EQ(plain.rc, 0) << plain.err;
  std::vector<int32_t> plain_ids = parse_ids(plain.out);
  EXPECT_GT(plain_ids.size(), 1u) << "without --allowed-special the marker is ordinary text";
  for (int32_t id : plain_ids) EXPECT_LT(id, tok.n_ranks());
  Result all = run_tokenizer("encode --allowed-special all --tokenizer " + quote(tok_dir_), dir_, eot_text);
  ASSERT_EQ(all.rc, 0) << all.err;
  EXPECT_EQ(parse_ids(all.out), std::vector<int32_t>{tok.eot_id()});
  EXPECT_EQ(tok.eot_id(), 300);
}

TEST_F(TokenizerCli, ShardSizesAndMeta) {
  std::string a = write("shakespeare.txt", corpus() + "<|endoftext|>" + corpus());
  std::string b = write("code.txt", "def g(y):\n    return y\n");
  fs::path out = dir_ / "shards";
  Result r = run_tokenizer("shard --tokenizer " + quote(tok_dir_) + " --input " + quote(a) + " --input " + quote(b) +
                               " --weight 3 --weight 1 --val-fraction 0.1 --shard-tokens 500 --out " + quote(out.string()),
                           dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  nlohmann::json meta = nlohmann::json::parse(read_file((out / "meta.json").string()));
  Tokenizer tok = Tokenizer::load(tok_dir_);
  EXPECT_EQ(meta["n_vocab"].get<int>(), tok.n_vocab());
  ASSERT_EQ(meta["sources"].size(), 2u);
  EXPECT_EQ(meta["sources"][0]["name"], "shakespeare");
  EXPECT_EQ(meta["sources"][1]["name"], "code");
  EXPECT_DOUBLE_EQ(meta["sources"][0]["weight"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(meta["sources"][1]["weight"].get<double>(), 1.0);

  // shakespeare: <|endoftext|> doc <|endoftext|> doc, split 90/10, in shards of ≤ 500 tokens
  std::vector<int32_t> expected{tok.eot_id()};
  for (int32_t id : tok.encode(corpus() + "<|endoftext|>" + corpus(), AllowedSpecial::all)) expected.push_back(id);
  const auto& s = meta["sources"][0];
  const size_t n_train = s["train_tokens"], n_val = s["val_tokens"];
  EXPECT_EQ(n_train + n_val, expected.size());
  EXPECT_EQ(n_train, static_cast<size_t>(static_cast<double>(expected.size()) * 0.9));
  std::vector<int32_t> got;
  for (const char* split : {"train", "val"}) {
    const int n_shards = s[std::string(split) + "_shards"];
    EXPECT_EQ(n_shards, static_cast<int>((s[std::string(split) + "_tokens"].get<size_t>() + 499) / 500));
    for (int k = 0; k < n_shards; ++k) {
      char name[32];
      std::snprintf(name, sizeof(name), "%s_%06d.bin", split, k);
      fs::path p = out / "shakespeare" / name;
      std::vector<uint16_t> tokens = read_shard(p.string());
      EXPECT_EQ(fs::file_size(p), 1024 + 2 * tokens.size());
      got.insert(got.end(), tokens.begin(), tokens.end());
    }
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(std::count(got.begin(), got.end(), tok.eot_id()), 2);
  EXPECT_TRUE(fs::exists(out / "code" / "train_000000.bin"));
  EXPECT_TRUE(fs::exists(out / "code" / "val_000000.bin"));
}

TEST_F(TokenizerCli, DecodeRejectsBadIds) {
  Result r = run_tokenizer("decode --tokenizer " + quote(tok_dir_), dir_, write("ids.txt", "72 99999 5\n"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("99999"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
  r = run_tokenizer("decode --tokenizer " + quote(tok_dir_), dir_, write("ids2.txt", "72 seven"));
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("'seven'"), std::string::npos) << r.err;
  // and a valid id that is a lone byte decodes to U+FFFD
  r = run_tokenizer("decode --tokenizer " + quote(tok_dir_), dir_, write("ids3.txt", "255"));
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "\xEF\xBF\xBD");
}

TEST_F(TokenizerCli, ShowAndStats) {
  // stdout is a file here, so show writes plain brackets; the spans spell the text back
  Result r = run_tokenizer("show --tokenizer " + quote(tok_dir_) + " --text 'Speak, speak. 学而'", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string first_line = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(first_line.find("\x1b["), std::string::npos) << "no colour codes when stdout is not a terminal";
  std::string spelled;
  for (char c : first_line) if (c != '[' && c != ']') spelled += c;
  EXPECT_EQ(spelled, "Speak, speak. 学而");
  const size_t n = Tokenizer::load(tok_dir_).encode("Speak, speak. 学而", AllowedSpecial::all).size();
  EXPECT_NE(r.out.find(std::to_string(n) + " tokens, 20 bytes"), std::string::npos) << r.out;

  r = run_tokenizer("stats --tokenizer " + quote(tok_dir_) + " --input " + quote(text_file_), dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const size_t n_tokens = Tokenizer::load(tok_dir_).encode(corpus()).size();
  EXPECT_NE(r.out.find("tokens:         " + std::to_string(n_tokens)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bytes/token:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/ 308"), std::string::npos) << r.out;  // ids used / n_vocab
}
