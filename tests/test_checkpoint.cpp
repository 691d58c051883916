#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/io/atomic_file.h"
#include "common/nn/gpt_checkpoint.h"
#include "common/nn/gpt_params.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() { return sog::testing::fresh_temp_dir("ckpt"); }
std::string error_of(const std::string& path) {
  return sog::testing::error_of([&] { load_checkpoint(path, nullptr); });
}
}  // namespace

TEST(Checkpoint, ParameterTableMatchesGpt2Count) {
  // GPT-2 124M: 124,475,904 parameters with the vocabulary padded to 50304 (llm.c's figure).
  EXPECT_EQ(gpt_num_params(gpt_preset("gpt2", 50257)), 124475904);
}

TEST(Checkpoint, SaveLoadRoundTripAndHeader) {
  GPTConfig cfg = gpt_preset("nano", 300);
  Tensor params = Tensor::randn({gpt_num_params(cfg)}, 0.02f, 3);
  std::string path = (temp_dir() / "model.bin").string();
  save_checkpoint(path, cfg, params);
  EXPECT_EQ(fs::file_size(path), 1024 + params.nbytes());
  GPTConfig back;
  Tensor loaded = load_checkpoint(path, &back);
  EXPECT_EQ(loaded.to_vector(), params.to_vector());
  EXPECT_EQ(back.describe(), cfg.describe());
  EXPECT_EQ(read_checkpoint_config(path).Vp, 384);
  int32_t h[8];
  {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(h), sizeof(h));
  }
  fs::remove_all(fs::path(path).parent_path());
  EXPECT_EQ(h[0], 20240326);
  EXPECT_EQ(h[1], 3);
  EXPECT_EQ(h[2], 32);   // maxT
  EXPECT_EQ(h[3], 300);  // V
  EXPECT_EQ(h[7], 384);  // Vp
}

TEST(Checkpoint, BadFilesGetErrorsThatSayExpectedAndFound) {
  GPTConfig cfg = gpt_preset("nano", 256);
  Tensor params = Tensor::zeros({gpt_num_params(cfg)});
  fs::path d = temp_dir();
  std::string good = (d / "good.bin").string();
  save_checkpoint(good, cfg, params);

  std::string magic = (d / "magic.bin").string();
  fs::copy_file(good, magic, fs::copy_options::overwrite_existing);
  sog::testing::patch_int32(magic, 0, 20240520);
  EXPECT_NE(error_of(magic).find("expected 20240326"), std::string::npos) << error_of(magic);
  EXPECT_NE(error_of(magic).find("token shard"), std::string::npos);

  std::string version = (d / "version.bin").string();
  fs::copy_file(good, version, fs::copy_options::overwrite_existing);
  sog::testing::patch_int32(version, 1, 1);
  EXPECT_NE(error_of(version).find("expected 3"), std::string::npos) << error_of(version);

  std::string sizes = (d / "sizes.bin").string();
  fs::copy_file(good, sizes, fs::copy_options::overwrite_existing);
  sog::testing::patch_int32(sizes, 6, 64);  // C = 64: the body no longer matches
  EXPECT_NE(error_of(sizes).find("wrong size"), std::string::npos) << error_of(sizes);

  std::string trunc = (d / "trunc.bin").string();
  fs::copy_file(good, trunc, fs::copy_options::overwrite_existing);
  fs::resize_file(trunc, fs::file_size(good) - 100);
  EXPECT_NE(error_of(trunc).find("truncated"), std::string::npos) << error_of(trunc);

  std::string tiny = (d / "tiny.bin").string();
  write_file_atomic(tiny, "abc");
  EXPECT_NE(error_of(tiny).find("truncated checkpoint header"), std::string::npos) << error_of(tiny);

  EXPECT_NE(error_of((d / "absent.bin").string()).find("cannot open"), std::string::npos);
  fs::remove_all(d);
}

TEST(AtomicFile, UncommittedWriteLeavesNothingBehind) {
  fs::path d = temp_dir() / "atomic";
  fs::create_directories(d);
  {
    AtomicFile f((d / "out.txt").string());
    f.stream() << "partial";
  }  // destroyed without commit (as on an exception)
  EXPECT_FALSE(fs::exists(d / "out.txt"));
  EXPECT_TRUE(fs::is_empty(d));
  write_file_atomic((d / "out.txt").string(), "done");
  EXPECT_EQ(read_file((d / "out.txt").string()), "done");
  fs::remove_all(d.parent_path());
}
