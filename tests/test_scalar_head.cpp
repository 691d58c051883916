// The scalar head (common/nn/scalar_head.h): what it computes, its gradients end to end, and its
// file (head.bin).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/autograd/tape.h"
#include "common/nn/gpt.h"
#include "common/nn/scalar_head.h"
#include "common/ops/elementwise.h"
#include "common/ops/reduce.h"
#include "gradcheck.h"
#include "test_util.h"

using namespace sog;
using namespace sog::testing;
namespace fs = std::filesystem;

TEST(ScalarHead, ReadsTheChosenPositionsAndEveryPosition) {
  const int64_t B = 2, T = 3, C = 4;
  ScalarHead head(C);
  head.init(1);
  head.params().f32()[C] = 0.25f;  // a bias to see
  Tensor h = Tensor::randn({B, T, C}, 1.0f, 2);
  Tensor every = head.at_every_position(h);
  ASSERT_EQ(every.shape(), (Shape{B, T}));
  const float* w = head.params().f32();
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      double v = 0.25;
      for (int64_t c = 0; c < C; c++) v += static_cast<double>(h.f32()[(b * T + t) * C + c]) * w[c];
      EXPECT_NEAR(every.f32()[b * T + t], v, 1e-5) << b << "," << t;
    }
  Tensor last = head.at_positions(h, Tensor::from_ids({B}, {2, 1}));  // e.g. right padding: lengths 3 and 2
  ASSERT_EQ(last.shape(), (Shape{B}));
  EXPECT_EQ(last.f32()[0], every.f32()[0 * T + 2]);
  EXPECT_EQ(last.f32()[1], every.f32()[1 * T + 1]);
  head.norm = {2.0f, -1.0f};
  EXPECT_FLOAT_EQ(head.normalized(last).f32()[1], 2.0f * last.f32()[1] - 1.0f);
}

TEST(ScalarHead, InitParameterCountAndSegments) {
  ScalarHead head(32);
  head.init(3);
  EXPECT_EQ(head.num_params(), 33);
  EXPECT_EQ(head.weight.shape(), (Shape{1, 32}));
  EXPECT_EQ(head.params().f32()[32], 0.0f);  // bias 0
  double sq = 0;
  for (int i = 0; i < 32; i++) sq += head.params().f32()[i] * head.params().f32()[i];
  EXPECT_NEAR(std::sqrt(sq / 32), 0.02, 0.01);  // N(0, 0.02)
  auto seg = head.optimizer_segments();
  ASSERT_EQ(seg.size(), 2u);
  EXPECT_TRUE(seg[0].offset == 0 && seg[0].count == 32 && seg[0].decay);
  EXPECT_TRUE(seg[1].offset == 32 && seg[1].count == 1 && !seg[1].decay);
}

// Both readings against central differences, for the head's weight and bias and the hidden states.
// (The checker takes the head's own parameter tensors: it perturbs them in place, and reads their
// gradients after dropping the links into the head's gradient buffer, so each check gets a fresh head.)
TEST(ScalarHead, GradientsOfHeadAndHiddenMatchFiniteDifferences) {
  Tensor positions = Tensor::from_ids({3}, {3, 0, 2});
  for (int mode = 0; mode < 2; mode++) {
    ScalarHead head(5);
    head.init(4);
    for (int64_t i = 0; i < head.num_params(); i++) head.params().f32()[i] = std::cos(0.7f * i);  // O(1) weights
    expect_gradients_match(
        [&](auto& in) { return mode == 0 ? head.at_positions(in[2], positions) : head.at_every_position(in[2]); },
        {head.weight, head.bias, random_input({3, 4, 5}, 5)});
  }
}

// End to end: ids → GPT::hidden → head → a loss; the GPT's and the head's gradients both match
// central differences on a sample of every tensor.
TEST(ScalarHead, EndToEndOnAGptMatchesFiniteDifferences) {
  GPTConfig c = gpt_preset("nano", 20);
  c.L = 1, c.C = 8, c.max_T = 8;  // small enough that h = 1e-2 stays in the linear range of the ×5 weights
  GPT model(c);
  model.init_gpt2(7);
  for (int64_t i = 0; i < model.num_params(); i++) model.params().f32()[i] *= 5.0f;  // larger signal
  ScalarHead head(model.config().C);
  head.init(8);
  for (int64_t i = 0; i < head.num_params(); i++) head.params().f32()[i] = 0.5f * std::sin(1.0f + i);
  Tensor x = random_ids(2, 5, 20, 9);
  Tensor positions = Tensor::from_ids({2}, {4, 2});
  auto loss = [&] {
    Tensor v = head.at_positions(model.hidden(x), positions);  // (B)
    return sum(mul(v, v));
  };
  loss().backward();
  const std::vector<float> g_model = model.grads().to_vector(), g_head = head.grads().to_vector();
  NoGradGuard no_grad;
  auto value = [&] { return static_cast<double>(loss().item()); };
  GradCheckOptions opt;
  std::vector<CheckedTensor> head_segments = {{"w", 0, 8}, {"bias", 8, 1}};
  auto reports = compare_gradients(sample_numeric_gradients(value, head.params().f32(), head_segments, 4, 1e-2f, 10),
                                   g_head, head_segments, opt);
  for (size_t s = 0; s < reports.size(); s++) {
    EXPECT_TRUE(reports[s].ok()) << head_segments[s].name << reports[s].summary();
    EXPECT_GT(reports[s].max_abs_numeric, 10 * opt.atol) << head_segments[s].name << ": too small for the check to see";
  }
  std::vector<CheckedTensor> model_segments;
  for (const char* name : {"wpe", "ln1w", "qkvw", "attprojw", "fcw", "fcprojw", "lnfw", "lnfb"}) {
    Tensor p = model.param(name);
    model_segments.push_back({name, p.f32() - model.params().f32(), p.numel()});
  }
  model_segments.push_back({"wte", 0, 20 * model.config().C});  // the V = 20 real rows (wte is first)
  reports = compare_gradients(sample_numeric_gradients(value, model.params().f32(), model_segments, 4, 1e-2f, 11),
                              g_model, model_segments, opt);
  for (size_t s = 0; s < reports.size(); s++) {
    EXPECT_TRUE(reports[s].ok()) << model_segments[s].name << reports[s].summary();
    EXPECT_GT(reports[s].max_abs_numeric, 10 * opt.atol) << model_segments[s].name << ": too small for the check to see";
  }
}

TEST(HeadFile, RoundTripIsExactAndEveryByteIsWhereTheCommentSays) {
  fs::path d = fresh_temp_dir("head_rt");
  const std::string path = (d / "head.bin").string();
  ScalarHead head(6);
  head.init(12);
  head.norm = {0.5f, -2.25f};
  head.save(path);
  EXPECT_EQ(fs::file_size(path), 1024u + 4u * (6 + 3));
  ScalarHead back = ScalarHead::load(path, 6);
  EXPECT_EQ(back.params().to_vector(), head.params().to_vector());
  EXPECT_EQ(back.norm.gain, 0.5f);
  EXPECT_EQ(back.norm.bias, -2.25f);
  std::ifstream in(path, std::ios::binary);
  std::vector<int32_t> h(256);
  in.read(reinterpret_cast<char*>(h.data()), 1024);
  EXPECT_EQ(h[0], 0x44414548);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.data()), 4), "HEAD");
  EXPECT_EQ(h[1], 1);
  EXPECT_EQ(h[2], 6);
  EXPECT_EQ(h[3], 1);
  for (int i = 4; i < 256; i++) ASSERT_EQ(h[i], 0) << i;
  std::vector<float> body(9);
  in.read(reinterpret_cast<char*>(body.data()), 36);
  for (int i = 0; i < 7; i++) EXPECT_EQ(body[i], head.params().f32()[i]);
  EXPECT_EQ(body[7], 0.5f);
  EXPECT_EQ(body[8], -2.25f);
  fs::remove_all(d);
}

TEST(HeadFile, LoadRejectsWhatIsNotThisModelsHead) {
  fs::path d = fresh_temp_dir("head_err");
  const std::string good = (d / "head.bin").string();
  ScalarHead head(6);
  head.save(good);
  auto variant = [&](const std::string& name) {
    const std::string p = (d / name).string();
    fs::copy_file(good, p, fs::copy_options::overwrite_existing);
    return p;
  };

  std::string p = variant("magic.bin");
  patch_int32(p, 0, 20240326);
  std::string e = error_of([&] { ScalarHead::load(p, 6); });
  EXPECT_NE(e.find(p + ": bad magic number: expected 1145128264 (a scalar head), found 20240326"), std::string::npos) << e;
  EXPECT_NE(e.find("this is an llm.c GPT-2 model checkpoint, not a scalar head"), std::string::npos) << e;

  p = variant("version.bin");
  patch_int32(p, 1, 2);
  e = error_of([&] { ScalarHead::load(p, 6); });
  EXPECT_NE(e.find(p + ": unsupported head version: expected 1, found 2"), std::string::npos) << e;

  e = error_of([&] { ScalarHead::load(good, 8); });
  EXPECT_NE(e.find(good + ": the head was made for a model of width C = 6, expected the model's C = 8"),
            std::string::npos) << e;

  p = variant("outputs.bin");
  patch_int32(p, 3, 2);
  e = error_of([&] { ScalarHead::load(p, 6); });
  EXPECT_NE(e.find("number of outputs: expected 1 (a scalar head), found 2"), std::string::npos) << e;

  p = variant("short.bin");
  fs::resize_file(p, 1024 + 20);
  e = error_of([&] { ScalarHead::load(p, 6); });
  EXPECT_NE(e.find(p + ": wrong size: expected C = 6: w, bias, gain and normalisation bias, 9 float32 (1060 bytes in "
                       "all), found 1044 bytes (truncated?)"),
            std::string::npos) << e;

  p = variant("long.bin");
  fs::resize_file(p, 1024 + 36 + 4);
  e = error_of([&] { ScalarHead::load(p, 6); });
  EXPECT_NE(e.find("found 1064 bytes (4 trailing bytes)"), std::string::npos) << e;

  p = variant("header.bin");
  fs::resize_file(p, 100);
  e = error_of([&] { ScalarHead::load(p, 6); });
  EXPECT_NE(e.find("truncated head header: expected 1024 bytes, found 100 bytes"), std::string::npos) << e;

  e = error_of([&] { ScalarHead::load((d / "none.bin").string(), 6); });
  EXPECT_NE(e.find("none.bin: cannot open scalar head"), std::string::npos) << e;
  fs::remove_all(d);
}
