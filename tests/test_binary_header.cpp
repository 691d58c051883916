// The header every binary file of the project starts with (common/io/binary_header.h): one set of
// checks, one shape of error message (the file, the format, expected, found, a hint).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/io/binary_header.h"
#include "test_util.h"

using namespace sog;
using sog::testing::error_of;
namespace fs = std::filesystem;

namespace {
// A made-up format of 16 words reading versions 2 and 3, for the helper alone.
constexpr BinaryFormat kToyFormat = {"toy table", "toy", 0x594F54, 3, 2, 16, "re-export it with the toy tool"};

void write_toy(const std::string& path, int32_t magic, int32_t version, int32_t count, int extra_bytes = 0) {
  BinaryHeader h(kToyFormat);
  h[0] = magic;
  h[1] = version;
  h[2] = count;
  AtomicFile f(path);
  h.write(f);
  std::vector<float> body(static_cast<size_t>(count), 1.5f);
  f.write(body.data(), body.size() * sizeof(float));
  std::string extra(static_cast<size_t>(extra_bytes), 'x');
  f.write(extra.data(), extra.size());
  f.commit();
}

std::vector<float> read_toy(const std::string& path) {
  BinaryReader r(path, kToyFormat);
  std::vector<float> body(static_cast<size_t>(r[2]));
  r.require_size(r.header().bytes() + body.size() * 4, std::to_string(r[2]) + " float32 values");
  r.read(body.data(), body.size() * 4, "the values");
  return body;
}
}  // namespace

TEST(BinaryHeader, WritesMagicVersionAndZerosAndReadsBack) {
  fs::path d = sog::testing::fresh_temp_dir("binhdr_rt");
  const std::string path = (d / "t.bin").string();
  BinaryHeader h(kToyFormat);
  EXPECT_EQ(h.bytes(), 64u);
  EXPECT_EQ(h[0], 0x594F54);
  EXPECT_EQ(h.version(), 3);
  for (size_t i = 2; i < 16; i++) EXPECT_EQ(h[i], 0);
  write_toy(path, kToyFormat.magic, 2, 3);  // an older version that is still read
  EXPECT_EQ(fs::file_size(path), 64u + 12u);
  EXPECT_EQ(read_toy(path), std::vector<float>(3, 1.5f));
  fs::remove_all(d);
}

TEST(BinaryHeader, EveryRejectionNamesTheFileExpectedAndFound) {
  fs::path d = sog::testing::fresh_temp_dir("binhdr_err");
  const std::string path = (d / "t.bin").string();

  write_toy(path, file_magic::token_shard, 3, 1);  // another of our formats: named
  std::string e = error_of([&] { read_toy(path); });
  EXPECT_NE(e.find(path + ": bad magic number: expected 5853012 (a toy table), found 20240520"), std::string::npos) << e;
  EXPECT_NE(e.find("this is an llm.c token shard, not a toy table"), std::string::npos) << e;

  write_toy(path, 12345, 3, 1);  // a stranger
  e = error_of([&] { read_toy(path); });
  EXPECT_NE(e.find("found 12345 (not a file of this project?)"), std::string::npos) << e;

  write_toy(path, kToyFormat.magic, 4, 1);
  e = error_of([&] { read_toy(path); });
  EXPECT_NE(e.find("unsupported toy version: expected 2 to 3, found 4 — re-export it with the toy tool"),
            std::string::npos) << e;
  write_toy(path, kToyFormat.magic, 1, 1);
  EXPECT_NE(error_of([&] { read_toy(path); }).find("found 1"), std::string::npos);

  write_toy(path, kToyFormat.magic, 3, 4);
  fs::resize_file(path, 64 + 10);
  e = error_of([&] { read_toy(path); });
  EXPECT_NE(e.find("wrong size: expected 4 float32 values (80 bytes in all), found 74 bytes (truncated?)"),
            std::string::npos) << e;

  write_toy(path, kToyFormat.magic, 3, 4, 6);
  e = error_of([&] { read_toy(path); });
  EXPECT_NE(e.find("found 86 bytes (6 trailing bytes)"), std::string::npos) << e;

  fs::resize_file(path, 40);
  e = error_of([&] { read_toy(path); });
  EXPECT_NE(e.find("truncated toy header: expected 64 bytes, found 40 bytes (the header is 16 int32)"),
            std::string::npos) << e;

  e = error_of([&] { read_toy((d / "absent.bin").string()); });
  EXPECT_NE(e.find("absent.bin: cannot open toy table"), std::string::npos) << e;

  write_toy(path, kToyFormat.magic, 3, 2);  // a body shorter than read() asks for
  e = error_of([&] {
    BinaryReader r(path, kToyFormat);
    std::vector<float> v(5);
    r.read(v.data(), 20, "the values");
  });
  EXPECT_NE(e.find("read failed in the values: expected 20 bytes, found 8"), std::string::npos) << e;
  fs::remove_all(d);
}

TEST(BinaryHeader, EveryFormatHasItsOwnMagic) {
  const int32_t magics[] = {file_magic::gpt_checkpoint, file_magic::token_shard, file_magic::lora_adapter,
                            file_magic::scalar_head, file_magic::train_state};
  for (size_t i = 0; i < std::size(magics); i++) {
    EXPECT_FALSE(describe_magic(magics[i]).empty()) << magics[i];
    for (size_t j = i + 1; j < std::size(magics); j++) EXPECT_NE(magics[i], magics[j]);
  }
}
