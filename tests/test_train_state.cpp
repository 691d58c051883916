// The training state (common/io/train_state.h): several named parameter sets, RNG streams and a
// data position; exact resume of a GPT and a scalar head trained together; an error naming the
// file for every way the file can be wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/data/dataset.h"
#include "common/io/train_state.h"
#include "common/nn/model_folder.h"
#include "test_util.h"
#include "two_param_sets.h"

using namespace sog;
using sog::testing::error_of;
using sog::testing::TwoSets;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
Tensor filled(int64_t n, float start) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) v[i] = start + 0.5f * static_cast<float>(i);
  return Tensor::from_vector({n}, v);
}

// Two sets ("policy" of 5, "value" of 3), two RNG streams, a data position.
TrainState sample_state() {
  TrainState st{.step = 17, .best_val_loss = 2.5, .data = {{"epoch", 1}, {"cursor", 4}}};
  st.sets.push_back({"policy", 17, filled(5, 1.0f), filled(5, 100.0f)});
  st.sets.push_back({"value", 9, filled(3, -1.0f), filled(3, 200.0f)});
  st.rngs["dropout"] = {1, 2, 3, 18446744073709551615ull};
  st.rngs["sampler"] = {5, 6, 7, 8};
  return st;
}

class TrainStateFile : public sog::testing::ScratchFolderTest {};
}  // namespace

TEST_F(TrainStateFile, RoundTripsEveryFieldAndTheBytesAreWhereTheCommentSays) {
  const TrainState st = sample_state();
  save_train_state(p("state.bin"), st);
  TrainState back = load_train_state(p("state.bin"));
  EXPECT_EQ(back.path, p("state.bin"));
  EXPECT_EQ(back.step, 17);
  EXPECT_EQ(back.best_val_loss, 2.5);
  EXPECT_EQ(back.data, st.data);
  EXPECT_EQ(back.rngs, st.rngs);  // u64 words survive JSON exactly (decimal strings)
  ASSERT_EQ(back.sets.size(), 2u);
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ(back.sets[i].name, st.sets[i].name);
    EXPECT_EQ(back.sets[i].adam_steps, st.sets[i].adam_steps);
    EXPECT_EQ(back.sets[i].adam_m.to_vector(), st.sets[i].adam_m.to_vector());
    EXPECT_EQ(back.sets[i].adam_v.to_vector(), st.sets[i].adam_v.to_vector());
  }
  // header, JSON, then m and v of each set in order
  std::ifstream in(p("state.bin"), std::ios::binary);
  std::vector<int32_t> h(256);
  in.read(reinterpret_cast<char*>(h.data()), 1024);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.data()), 4), "SGST");
  EXPECT_EQ(h[1], 2);
  EXPECT_EQ(h[3], 2);
  for (int i = 4; i < 256; i++) ASSERT_EQ(h[i], 0) << i;
  std::string text(static_cast<size_t>(h[2]), '\0');
  in.read(text.data(), h[2]);
  const json meta = json::parse(text);
  EXPECT_EQ(meta["sets"][1], json({{"name", "value"}, {"numel", 3}, {"adam_steps", 9}}));
  EXPECT_EQ(meta["rngs"]["dropout"][3], "18446744073709551615");
  std::vector<float> body(16);
  in.read(reinterpret_cast<char*>(body.data()), 64);
  EXPECT_EQ(body[0], 1.0f);     // policy m[0]
  EXPECT_EQ(body[5], 100.0f);   // policy v[0]
  EXPECT_EQ(body[10], -1.0f);   // value m[0]
  EXPECT_EQ(body[13], 200.0f);  // value v[0]
  EXPECT_EQ(fs::file_size(p("state.bin")), 1024u + text.size() + 64u);

  TrainState none;  // no best validation loss yet: null in the JSON, INFINITY back
  save_train_state(p("none.bin"), none);
  EXPECT_TRUE(std::isinf(load_train_state(p("none.bin")).best_val_loss));
}

TEST_F(TrainStateFile, RestoringChecksNamesAndSizes) {
  save_train_state(p("state.bin"), sample_state());
  const TrainState st = load_train_state(p("state.bin"));
  AdamW value(3, {{0, 3, false}}, {});
  st.restore_set("value", value);
  EXPECT_EQ(value.steps_taken(), 9);
  EXPECT_EQ(value.v().to_vector(), filled(3, 200.0f).to_vector());
  std::string e = error_of([&] { st.restore_set("head", value); });
  EXPECT_NE(e.find(p("state.bin") + ": the training state has no parameter set 'head' (it holds: policy, value)"),
            std::string::npos) << e;
  AdamW wrong(4, {{0, 4, false}}, {});
  e = error_of([&] { st.restore_set("policy", wrong); });
  EXPECT_NE(e.find("parameter set 'policy': expected optimizer moments for 4 parameters, found 5"), std::string::npos)
      << e;
  Rng rng(1);
  st.restore_rng("sampler", rng);
  EXPECT_EQ(rng.state(), (std::array<uint64_t, 4>{5, 6, 7, 8}));
  e = error_of([&] { st.restore_rng("loader", rng); });
  EXPECT_NE(e.find("no RNG stream 'loader' (it holds: dropout, sampler)"), std::string::npos) << e;
  e = error_of([&] { st.data_position<LoaderState>(); });  // {"epoch": 1, …} is an SFT position, not a loader's
  EXPECT_NE(e.find(p("state.bin") + ": bad data position in the training state"), std::string::npos) << e;
  TrainState twice;
  twice.add_set("a", value);
  EXPECT_NE(error_of([&] { twice.add_set("a", value); }).find("already"), std::string::npos);
}

TEST_F(TrainStateFile, EveryBadFileIsAClearError) {
  save_train_state(p("good.bin"), sample_state());
  auto variant = [&](const std::string& name) {
    fs::copy_file(p("good.bin"), p(name), fs::copy_options::overwrite_existing);
    return p(name);
  };
  // Version 1: "SOGSTATE", uint32 version, uint32 JSON length, JSON, moments.
  {
    AtomicFile f(p("v1.bin"));
    const uint32_t words[2] = {1, 2};
    f.write("SOGSTATE", 8);
    f.write(words, sizeof(words));
    f.write("{}", 2);
    f.commit();
  }
  std::string e = error_of([&] { load_train_state(p("v1.bin")); });
  EXPECT_NE(e.find(p("v1.bin") + ": unsupported training-state version: expected 2, found 1 (the layout of one "
                                 "parameter set"),
            std::string::npos) << e;
  EXPECT_NE(e.find("start a new run from its weights"), std::string::npos) << e;

  std::string f = variant("future.bin");
  sog::testing::patch_int32(f, 1, 3);
  e = error_of([&] { load_train_state(f); });
  EXPECT_NE(e.find(f + ": unsupported training-state version: expected 2, found 3"), std::string::npos) << e;

  f = variant("magic.bin");
  sog::testing::patch_int32(f, 0, 0x41526F4C);
  e = error_of([&] { load_train_state(f); });
  EXPECT_NE(e.find("this is a LoRA adapter, not a training state"), std::string::npos) << e;

  f = variant("short.bin");
  fs::resize_file(f, fs::file_size(f) - 4);
  e = error_of([&] { load_train_state(f); });
  EXPECT_NE(e.find(f + ": wrong size: expected two float32 moments for each parameter set (5 + 3)"), std::string::npos)
      << e;
  EXPECT_NE(e.find("(truncated?)"), std::string::npos) << e;

  f = variant("long.bin");
  fs::resize_file(f, fs::file_size(f) + 8);
  EXPECT_NE(error_of([&] { load_train_state(f); }).find("(8 trailing bytes)"), std::string::npos);

  f = variant("json_cut.bin");
  fs::resize_file(f, 1024 + 10);
  e = error_of([&] { load_train_state(f); });
  EXPECT_NE(e.find("JSON after the header at least"), std::string::npos) << e;

  f = variant("count.bin");
  sog::testing::patch_int32(f, 3, 1);
  e = error_of([&] { load_train_state(f); });
  EXPECT_NE(e.find("the header counts 1 parameter sets, the JSON lists 2"), std::string::npos) << e;

  e = error_of([&] { load_train_state(p("absent.bin")); });
  EXPECT_NE(e.find("absent.bin: cannot open training state"), std::string::npos) << e;
}

// ---- exact resume of two parameter sets ----------------------------------------------------------

TEST_F(TrainStateFile, TwoParameterSetsResumeBitForBit) {
  const TokenDataset data = sog::testing::tiny_data();
  const int N = 3;
  auto make = [&] { return sog::testing::fresh_two_sets(data); };
  // Uninterrupted: 2N steps.
  TwoSets whole = make();
  std::vector<float> whole_losses;
  for (int i = 0; i < 2 * N; i++) whole_losses.push_back(whole.step());

  // N steps, save everything, restore into fresh objects, N more.
  std::vector<float> losses;
  {
    TwoSets first = make();
    for (int i = 0; i < N; i++) losses.push_back(first.step());
    save_model_folder(p("run"), "value", *first.model, first.head.get());
    TrainState st{.step = N, .data = first.loader->state()};
    st.add_set("gpt", *first.opt_model);
    st.add_set("head", *first.opt_head);
    st.add_rng("dropout", first.dropout);
    save_train_state(p("run/state.bin"), st);
  }
  TwoSets second = sog::testing::two_sets_from_files(data, p("run/model.bin"), p("run/head.bin"));
  const TrainState st = load_train_state(p("run/state.bin"));
  st.restore_set("gpt", *second.opt_model);
  st.restore_set("head", *second.opt_head);
  st.restore_rng("dropout", second.dropout);
  second.loader->restore(st.data_position<LoaderState>());
  EXPECT_EQ(st.step, N);
  for (int i = 0; i < N; i++) losses.push_back(second.step());

  EXPECT_EQ(losses, whole_losses);
  EXPECT_EQ(second.model->params().to_vector(), whole.model->params().to_vector());
  EXPECT_EQ(second.head->params().to_vector(), whole.head->params().to_vector());
  EXPECT_EQ(second.opt_head->v().to_vector(), whole.opt_head->v().to_vector());
  EXPECT_EQ(second.opt_model->steps_taken(), 2 * N);
}
