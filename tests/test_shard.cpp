// llm.c token shards: write → read round trip, header layout byte by byte, and the errors a loader
// must give (wrong magic / version, truncated body, id too large), each naming the file and
// saying what was expected and what was found.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "test_util.h"
#include "common/data/shard.h"
#include "common/io/atomic_file.h"

namespace fs = std::filesystem;
using namespace sog;

namespace {

using sog::testing::error_of;
fs::path temp_dir(const std::string& name) { return sog::testing::fresh_temp_dir("test_shard_" + name); }

}  // namespace

TEST(Shard, RoundTripAndHeaderLayout) {
  fs::path dir = temp_dir("roundtrip");
  std::vector<int32_t> tokens = {0, 1, 50256, 65535, 7, 300, 0};
  std::string path = (dir / "train_000000.bin").string();
  write_shard(path, tokens);

  EXPECT_EQ(fs::file_size(path), 1024u + 2u * tokens.size());
  std::string bytes = read_file(path);
  int32_t header[256];
  std::memcpy(header, bytes.data(), sizeof(header));
  EXPECT_EQ(header[0], 20240520);
  EXPECT_EQ(header[1], 1);
  EXPECT_EQ(header[2], static_cast<int32_t>(tokens.size()));
  for (int i = 3; i < 256; ++i) ASSERT_EQ(header[i], 0) << "header slot " << i;
  // the first token sits right after the header, little-endian
  EXPECT_EQ(static_cast<unsigned char>(bytes[1024 + 2 * 2]), 50256 & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(bytes[1024 + 2 * 2 + 1]), 50256 >> 8);

  std::vector<uint16_t> back = read_shard(path);
  ASSERT_EQ(back.size(), tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(back[i], tokens[i]) << "token " << i;
  EXPECT_EQ(shard_token_count(path), static_cast<int64_t>(tokens.size()));
  // no temporary file is left behind
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) { (void)e; ++files; }
  EXPECT_EQ(files, 1);
  fs::remove_all(dir);
}

TEST(Shard, EmptyShardRoundTrips) {
  fs::path dir = temp_dir("empty");
  std::string path = (dir / "val_000000.bin").string();
  write_shard(path, std::vector<int32_t>{});
  EXPECT_EQ(fs::file_size(path), 1024u);
  EXPECT_TRUE(read_shard(path).empty());
  fs::remove_all(dir);
}

TEST(Shard, WrongMagicNamesExpectedAndFound) {
  fs::path dir = temp_dir("magic");
  std::string path = (dir / "s.bin").string();
  write_shard(path, std::vector<int32_t>{1, 2, 3});
  sog::testing::patch_int32(path, 0, 20240326);  // a model checkpoint's magic
  std::string msg = error_of([&] { read_shard(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 20240520"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 20240326"), std::string::npos) << msg;
  fs::remove_all(dir);
}

TEST(Shard, WrongVersionNamesExpectedAndFound) {
  fs::path dir = temp_dir("version");
  std::string path = (dir / "s.bin").string();
  write_shard(path, std::vector<int32_t>{1, 2, 3});
  sog::testing::patch_int32(path, 1, 2);
  std::string msg = error_of([&] { read_shard(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("version"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 2"), std::string::npos) << msg;
  fs::remove_all(dir);
}

TEST(Shard, TruncatedBodyAndHeader) {
  fs::path dir = temp_dir("truncated");
  std::string path = (dir / "s.bin").string();
  write_shard(path, std::vector<int32_t>{1, 2, 3, 4, 5});
  fs::resize_file(path, 1024 + 2 * 3);  // 3 of the 5 tokens
  std::string msg = error_of([&] { read_shard(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 5 tokens"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 1030 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  fs::resize_file(path, 100);  // not even a header
  msg = error_of([&] { read_shard(path); });
  EXPECT_NE(msg.find("truncated shard header"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 1024 bytes, found 100"), std::string::npos) << msg;

  msg = error_of([&] { read_shard((dir / "missing.bin").string()); });
  EXPECT_NE(msg.find("missing.bin"), std::string::npos) << msg;
  fs::remove_all(dir);
}

TEST(Shard, IdTooLargeIsAnErrorNamingIt) {
  fs::path dir = temp_dir("bigid");
  std::string path = (dir / "s.bin").string();
  std::string msg = error_of([&] { write_shard(path, std::vector<int32_t>{5, 65536, 7}); });
  EXPECT_NE(msg.find("65536"), std::string::npos) << msg;
  EXPECT_NE(msg.find("position 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(path)) << "a failed write must leave no file";
  msg = error_of([&] { write_shard(path, std::vector<int32_t>{-1}); });
  EXPECT_NE(msg.find("-1"), std::string::npos) << msg;
  fs::remove_all(dir);
}
