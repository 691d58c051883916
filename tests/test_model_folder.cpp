// Model folders (common/nn/model_folder.h) and load_model (common/nn/load_model.h): a round trip
// of each part, and an error naming the file for every way a folder can be wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/autograd/tape.h"
#include "common/io/atomic_file.h"
#include "common/nn/load_model.h"
#include "common/nn/model_folder.h"
#include "common/tokenizer/special_tokens.h"
#include "test_util.h"

using namespace sog;
using sog::testing::error_of;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
// Byte-level with <|endoftext|>: V = 257.
Tokenizer byte_tokenizer(int extra_specials = 0) {
  std::vector<std::string> ranks;
  for (int b = 0; b < 256; b++) ranks.push_back(std::string(1, static_cast<char>(b)));
  std::vector<std::pair<std::string, int32_t>> specials = {{std::string(kEndOfText), 256}};
  for (int i = 0; i < extra_specials; i++) specials.push_back({"<|extra" + std::to_string(i) + "|>", 257 + i});
  return Tokenizer::from_ranks(ranks, SplitPattern::gpt2, specials);
}

GPT nano_model(uint64_t seed) {
  GPT model(gpt_preset("nano", 257));
  model.init_gpt2(seed);
  return model;
}

ScalarHead head_for(const GPT& model, uint64_t seed) {
  ScalarHead head(model.config().C);
  head.init(seed);
  head.norm = {0.5f, 1.5f};
  return head;
}

std::vector<float> logits_of(GPT& model) {
  NoGradGuard no_grad;
  return model.forward(Tensor::from_ids({1, 4}, {1, 2, 3, 4})).to_vector();
}

class ModelFolder : public sog::testing::ScratchFolderTest {};
}  // namespace

TEST_F(ModelFolder, RewardModelRoundTripsWithItsHead) {
  GPT model = nano_model(1);
  ScalarHead head = head_for(model, 2);
  save_model_folder(p("rm"), "reward", model, &head);
  for (const char* f : {"model.bin", "head.bin", "config.json"}) EXPECT_TRUE(fs::exists(p("rm") + "/" + f)) << f;
  EXPECT_FALSE(fs::exists(p("rm/adapter.bin")));
  // model.bin is an unchanged llm.c checkpoint: the same bytes GPT::save writes.
  model.save(p("alone.bin"));
  EXPECT_EQ(read_file(p("rm/model.bin")), read_file(p("alone.bin")));
  const json config = json::parse(read_file(p("rm/config.json")));
  EXPECT_EQ(config["format"], "stateofgpt model folder");
  EXPECT_EQ(config["version"], 1);
  EXPECT_EQ(config["kind"], "reward");
  EXPECT_EQ(config["model"]["C"], 32);
  EXPECT_EQ(config["model"]["V"], 257);
  EXPECT_EQ(config["head"]["C"], 32);
  EXPECT_FALSE(config.contains("adapter"));

  LoadedModel back = load_model_folder(p("rm"));
  EXPECT_EQ(back.kind, "reward");
  EXPECT_EQ(back.model->params().to_vector(), model.params().to_vector());
  ASSERT_TRUE(back.head);
  EXPECT_EQ(back.head->params().to_vector(), head.params().to_vector());
  EXPECT_EQ(back.head->norm.gain, 0.5f);
  EXPECT_EQ(back.head->norm.bias, 1.5f);
  EXPECT_FALSE(back.lora);
}

TEST_F(ModelFolder, AdapterRoundTripsAttached) {
  GPT model = nano_model(3);
  LoRA lora(model.config(), LoRAConfig::with_targets({}, "qkv,fc"));
  lora.init(4);
  for (int64_t i = 0; i < lora.num_params(); i++) lora.params().f32()[i] = 0.01f * static_cast<float>(i % 7);
  model.attach_lora(&lora);
  const std::vector<float> expected = logits_of(model);
  save_model_folder(p("sft"), "sft", model, nullptr, &lora);
  EXPECT_EQ(json::parse(read_file(p("sft/config.json")))["adapter"]["targets"], "qkv,fc");
  LoadedModel back = load_model_folder(p("sft"));
  ASSERT_TRUE(back.lora);
  EXPECT_EQ(back.model->lora(), back.lora.get());
  EXPECT_EQ(logits_of(*back.model), expected);
}

TEST_F(ModelFolder, EveryMissingOrDisagreeingFileIsNamed) {
  GPT model = nano_model(5);
  ScalarHead head = head_for(model, 6);
  LoRA lora(model.config(), LoRAConfig{});
  save_model_folder(p("f"), "value", model, &head, &lora);
  auto copy = [&](const std::string& name) {
    fs::copy(p("f"), p(name), fs::copy_options::recursive);
    return p(name);
  };

  fs::create_directories(p("empty"));
  std::string e = error_of([&] { load_model_folder(p("empty")); });
  EXPECT_NE(e.find(p("empty") + "/config.json: missing: the model folder's description"), std::string::npos) << e;

  for (const char* part : {"model.bin", "head.bin", "adapter.bin"}) {
    const std::string d = copy(std::string("no_") + part);
    fs::remove(d + "/" + part);
    e = error_of([&] { load_model_folder(d); });
    EXPECT_NE(e.find(d + "/" + part + ": missing"), std::string::npos) << e;
  }

  // model.bin of another shape than config.json says
  std::string d = copy("other_model");
  GPT other(gpt_preset("char-baby", 257));
  other.save(d + "/model.bin");
  e = error_of([&] { load_model_folder(d); });
  EXPECT_NE(e.find(d + "/model.bin: the model is not the one " + d + "/config.json describes"), std::string::npos) << e;
  EXPECT_NE(e.find("C: expected 32, found 128"), std::string::npos) << e;

  // a head of another width
  d = copy("other_head");
  ScalarHead(16).save(d + "/head.bin");
  e = error_of([&] { load_model_folder(d); });
  EXPECT_NE(e.find(d + "/head.bin: the head was made for a model of width C = 16"), std::string::npos) << e;

  // an adapter other than config.json says
  d = copy("other_adapter");
  LoRA(model.config(), LoRAConfig::with_targets({}, "fc")).save(d + "/adapter.bin");
  e = error_of([&] { load_model_folder(d); });
  EXPECT_NE(e.find(d + "/adapter.bin: the adapter is not the one " + d + "/config.json describes"), std::string::npos)
      << e;

  // config.json itself
  d = copy("bad_kind");
  json config = json::parse(read_file(d + "/config.json"));
  config["kind"] = "oracle";
  write_file_atomic(d + "/config.json", config.dump());
  e = error_of([&] { load_model_folder(d); });
  EXPECT_NE(e.find(d + "/config.json: not a model folder's description: kind: expected one of base, sft, reward, "
                       "value, policy, found \"oracle\""),
            std::string::npos) << e;
  config["kind"] = "value";
  config["version"] = 2;
  write_file_atomic(d + "/config.json", config.dump());
  e = error_of([&] { load_model_folder(d); });
  EXPECT_NE(e.find("version: expected 1, found 2"), std::string::npos) << e;
  write_file_atomic(d + "/config.json", "{\"format\": ");
  EXPECT_NE(error_of([&] { load_model_folder(d); }).find(d + "/config.json: not a model folder's description"),
            std::string::npos);

  // and saving refuses what cannot be a folder
  EXPECT_NE(error_of([&] { save_model_folder(p("x"), "oracle", model); }).find("kind: expected one of"),
            std::string::npos);
  ScalarHead narrow(16);
  EXPECT_NE(error_of([&] { save_model_folder(p("y"), "reward", model, &narrow); }).find("the head has width C = 16"),
            std::string::npos);
}

TEST_F(ModelFolder, LoadModelTakesACheckpointARunFolderOrAModelFolder) {
  const Tokenizer tok = byte_tokenizer();
  GPT model = nano_model(7);
  const std::vector<float> expected = logits_of(model);
  fs::create_directories(p("run"));
  model.save(p("run/model.bin"));
  LoadedModel a = load_model(p("run/model.bin"), "", tok);
  LoadedModel b = load_model(p("run"), "", tok);
  EXPECT_EQ(logits_of(*a.model), expected);
  EXPECT_EQ(logits_of(*b.model), expected);
  EXPECT_EQ(a.kind, "");
  EXPECT_FALSE(a.head || a.lora);

  ScalarHead head = head_for(model, 8);
  save_model_folder(p("rm"), "reward", model, &head);
  LoadedModel c = load_model(p("rm"), "", tok);
  EXPECT_EQ(c.kind, "reward");
  ASSERT_TRUE(c.head);
  EXPECT_EQ(c.head->params().to_vector(), head.params().to_vector());

  // an adapter file attaches, as 03's --lora does
  LoRA lora(model.config(), LoRAConfig{});
  lora.init(9);
  for (int64_t i = 0; i < lora.num_params(); i++) lora.params().f32()[i] = 0.02f;
  lora.save(p("run/adapter.bin"));
  model.attach_lora(&lora);
  LoadedModel d = load_model(p("run/model.bin"), p("run/adapter.bin"), tok);
  ASSERT_TRUE(d.lora);
  EXPECT_EQ(d.model->lora(), d.lora.get());
  EXPECT_EQ(logits_of(*d.model), logits_of(model));
}

TEST_F(ModelFolder, LoadModelChecksTheTokenizerAndThePath) {
  GPT model = nano_model(10);
  model.save(p("model.bin"));
  const Tokenizer wider = byte_tokenizer(3);  // V = 260
  std::string e = error_of([&] { load_model(p("model.bin"), "", wider, "tok/dir"); });
  EXPECT_NE(e.find("the tokenizer in tok/dir has 260 tokens but the model " + p("model.bin") +
                   " was trained with V = 257 — use the tokenizer the model was trained with"),
            std::string::npos) << e;
  fs::create_directories(p("nothing"));
  e = error_of([&] { load_model(p("nothing"), "", byte_tokenizer()); });
  EXPECT_NE(e.find(p("nothing") + ": a folder with neither config.json (a model folder) nor model.bin"),
            std::string::npos) << e;
  e = error_of([&] { load_model(p("absent.bin"), "", byte_tokenizer()); });
  EXPECT_NE(e.find(p("absent.bin") + ": cannot open llm.c GPT-2 model checkpoint"), std::string::npos) << e;
}
