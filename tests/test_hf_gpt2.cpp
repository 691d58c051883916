// Hugging Face's GPT-2 folders (common/nn/hf_gpt2.h): our model out and back in bit for bit, the
// layouts transformers expects, LoRA merged by `pretrain export`, and each refusal named. (The same
// files against the transformers library itself: tests/hf_roundtrip.py.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "byte_tokenizer.h"
#include "common/autograd/tape.h"
#include "common/io/atomic_file.h"
#include "common/io/safetensors.h"
#include "common/nn/hf_gpt2.h"
#include "common/nn/lora.h"
#include "common/tensor/random.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;

namespace {

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

const std::string kPretrain = std::string(SOG_BINARY_DIR) + "/bin/pretrain";

// The byte tokenizer's vocabulary (256 + 8 specials = 264, Vp 384), L=2 NH=2 C=32 maxT=16.
GPTConfig tiny() {
  GPTConfig c = gpt_preset("nano", 264);
  c.max_T = 16;
  return c;
}

// Every parameter N(0, 0.1) — biases and LayerNorms too, so a misplaced one shows — except
// wte's padded rows, which stay 0 as in every model of ours.
GPT random_model(uint64_t seed) {
  GPT m(tiny());
  Rng rng(seed);
  float* p = m.params().f32();
  for (int64_t i = 0; i < m.num_params(); ++i) p[i] = 0.1f * rng.normal();
  const GPTConfig& c = m.config();
  std::fill(p + int64_t{c.V} * c.C, p + int64_t{c.Vp} * c.C, 0.0f);
  return m;
}

// Logits (T, V) of the ids 0, 7, 14, ... (T = maxT).
std::vector<float> logits_of(GPT& m) {
  NoGradGuard no_grad;
  const GPTConfig& c = m.config();
  std::vector<int32_t> ids;
  for (int t = 0; t < c.max_T; ++t) ids.push_back((7 * t) % c.V);
  const std::vector<float> all = m.forward(Tensor::from_ids({1, c.max_T}, ids)).to_vector();
  std::vector<float> out;
  for (int t = 0; t < c.max_T; ++t) out.insert(out.end(), all.begin() + t * c.Vp, all.begin() + t * c.Vp + c.V);
  return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

class HfGpt2 : public sog::testing::ScratchFolderTest {
 protected:
  // An exported folder of random_model(seed) in p("hf").
  std::string exported(uint64_t seed = 1) {
    GPT m = random_model(seed);
    save_hf_gpt2(p("hf"), m, 256);
    return p("hf");
  }
  void edit_config(const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(read_file(p("hf/config.json")));
    edit(j);
    write_file_atomic(p("hf/config.json"), j.dump(2));
  }
  // Rewrites hf/model.safetensors: fn may rename a tensor, change its values or dtype, or drop it
  // (return false); `extra` runs last to add tensors.
  struct Tensor32 {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  void edit_weights(const std::function<bool(Tensor32&)>& fn,
                    const std::function<void(SafetensorsWriter&)>& extra = nullptr) {
    const std::string path = p("hf/model.safetensors");
    const SafetensorsFile in = SafetensorsFile::read(path);
    SafetensorsWriter out;
    out.set_metadata("format", "pt");
    for (const SafetensorsEntry& e : in.tensors()) {
      Tensor32 t{e.name, "F32", e.shape, in.to_f32(e)};
      if (!fn(t)) continue;
      if (t.dtype == "BF16") {
        std::vector<uint16_t> half;
        for (float v : t.values) half.push_back(float_to_bf16(v));
        out.add(t.name, "BF16", t.shape, half.data(), half.size() * 2);
      } else {
        out.add_f32(t.name, t.shape, t.values);
      }
    }
    if (extra) extra(out);
    out.write(path);
  }
  std::string import_error() {
    return sog::testing::error_of([&] { load_hf_gpt2(p("hf"), 264); });
  }
};

}  // namespace

TEST_F(HfGpt2, ExportThenImportIsBitIdentical) {
  GPT m = random_model(1);
  save_hf_gpt2(p("hf"), m, 256);
  HfGpt2Import back = load_hf_gpt2(p("hf"), 264);
  ASSERT_EQ(back.model.num_params(), m.num_params());
  EXPECT_EQ(std::memcmp(back.model.params().f32(), m.params().f32(), m.params().nbytes()), 0);
  EXPECT_EQ(logits_of(back.model), logits_of(m));
  EXPECT_TRUE(back.notes.empty());
}

TEST_F(HfGpt2, WritesTransformersNamesLayoutsAndConfig) {
  GPT m = random_model(2);
  save_hf_gpt2(p("hf"), m, 256);
  const SafetensorsFile st = SafetensorsFile::read(p("hf/model.safetensors"));
  EXPECT_EQ(st.metadata().at("format"), "pt");
  EXPECT_EQ(st.tensors().size(), 2u + 12u * 2 + 2u);  // wte wpe, 12 per layer, ln_f
  EXPECT_EQ(st.find("lm_head.weight"), nullptr) << "tied to wte";
  const SafetensorsEntry* wte = st.find("transformer.wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->shape, (std::vector<int64_t>{264, 32})) << "the real vocabulary, not Vp";
  // Conv1D stores (in, out): c_attn.weight[k][r] is our qkvw[r][k].
  const SafetensorsEntry* qkv = st.find("transformer.h.1.attn.c_attn.weight");
  ASSERT_NE(qkv, nullptr);
  EXPECT_EQ(qkv->shape, (std::vector<int64_t>{32, 96}));
  const std::vector<float> hf = st.to_f32(*qkv);
  const float* ours = m.layers[1].qkvw.f32();  // (3C, C)
  for (int r = 0; r < 96; r += 7)
    for (int k = 0; k < 32; k += 5) ASSERT_EQ(hf[k * 96 + r], ours[r * 32 + k]) << r << "," << k;
  EXPECT_EQ(st.find("transformer.h.0.mlp.c_proj.weight")->shape, (std::vector<int64_t>{128, 32}));
  EXPECT_EQ(st.to_f32(*st.find("transformer.h.0.ln_2.bias")), m.layers[0].ln2b.to_vector());

  const nlohmann::json c = nlohmann::json::parse(read_file(p("hf/config.json")));
  EXPECT_EQ(c["model_type"], "gpt2");
  EXPECT_EQ(c["architectures"][0], "GPT2LMHeadModel");
  EXPECT_EQ(c["vocab_size"], 264);
  EXPECT_EQ(c["n_positions"], 16);
  EXPECT_EQ(c["n_embd"], 32);
  EXPECT_EQ(c["n_layer"], 2);
  EXPECT_EQ(c["n_head"], 2);
  EXPECT_EQ(c["activation_function"], "gelu_new");
  EXPECT_EQ(c["tie_word_embeddings"], true);
  EXPECT_EQ(c["eos_token_id"], 256);
  EXPECT_EQ(nlohmann::json::parse(read_file(p("hf/generation_config.json")))["eos_token_id"], 256);
  // With the chat tokens, generation stops at an assistant turn's end too.
  save_hf_gpt2(p("hf_chat"), m, 256, 260);
  EXPECT_EQ(nlohmann::json::parse(read_file(p("hf_chat/generation_config.json")))["eos_token_id"],
            (nlohmann::json{256, 260}));
  EXPECT_EQ(nlohmann::json::parse(read_file(p("hf_chat/config.json")))["eos_token_id"], 256);
}

TEST_F(HfGpt2, ReadsBf16NamesWithoutPrefixMaskBuffersAndATiedHead) {
  GPT m = random_model(3);
  save_hf_gpt2(p("hf"), m, 256);
  edit_weights([](Tensor32& t) {  // as the original GPT-2 upload: no "transformer.", mask buffers
    t.name = t.name.substr(std::string("transformer.").size());
    t.dtype = "BF16";
    return true;
  }, [](SafetensorsWriter& w) {
    const std::vector<float> mask(16 * 16, 1.0f), head(264 * 32, 0.5f);
    w.add_f32("h.0.attn.bias", {1, 1, 16, 16}, mask);
    w.add_f32("h.1.attn.masked_bias", {1}, std::vector<float>{-1e4f});
    w.add_f32("lm_head.weight", {264, 32}, head);  // tied: its values are not used (as in transformers)
  });
  HfGpt2Import back = load_hf_gpt2(p("hf"), 264);
  const float* a = m.params().f32();
  const float* b = back.model.params().f32();
  for (int64_t i = 0; i < m.num_params(); ++i) ASSERT_EQ(b[i], bf16_to_float(float_to_bf16(a[i]))) << i;
  ASSERT_EQ(back.notes.size(), 1u);
  EXPECT_EQ(back.notes[0], "BF16 weights widened to f32");
}

TEST_F(HfGpt2, KeepsTheTokenizersRowsOfALargerVocabulary) {
  exported();
  edit_config([](nlohmann::json& j) { j["vocab_size"] = 300; });
  edit_weights([](Tensor32& t) {
    if (t.name == "transformer.wte.weight") {
      t.shape = {300, 32};
      t.values.resize(300 * 32, 9.0f);
    }
    return true;
  });
  HfGpt2Import back = load_hf_gpt2(p("hf"), 264);
  EXPECT_EQ(back.model.config().V, 264);
  EXPECT_EQ(back.model.wte.f32()[264 * 32], 0.0f) << "padded rows stay 0";
  ASSERT_EQ(back.notes.size(), 1u);
  EXPECT_HAS(back.notes[0], "wte: rows 264..299 left out");
}

TEST_F(HfGpt2, ExportMergesALoRA) {
  if (!fs::exists(kPretrain)) GTEST_SKIP() << kPretrain << " is not built";
  GPT base = random_model(4);
  LoRA lora(base.config(), LoRAConfig::with_targets({}, "all"));
  lora.init(5);
  Rng rng(6);
  for (int64_t i = 0; i < lora.num_params(); ++i) lora.params().f32()[i] = 0.2f * rng.normal();  // B ≠ 0
  base.save(p("model.bin"));
  lora.save(p("adapter.bin"));
  sog::testing::byte_tokenizer().save(p("tok"));
  const auto r = sog::testing::run_command(kPretrain, "export --model " + p("model.bin") + " --tokenizer " + p("tok") +
                                                          " --lora " + p("adapter.bin") + " --format hf --out " + p("hf"), dir_);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_HAS(r.out, "LoRA merged");
  for (const char* f : {"model.safetensors", "config.json", "generation_config.json", "vocab.json", "merges.txt",
                        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    EXPECT_TRUE(fs::exists(p("hf") + "/" + f)) << f;
  }
  const std::vector<float> plain = logits_of(base);
  base.attach_lora(&lora);
  const std::vector<float> with_lora = logits_of(base);
  HfGpt2Import merged = load_hf_gpt2(p("hf"), 264);
  const std::vector<float> exported_logits = logits_of(merged.model);
  EXPECT_GT(max_abs_diff(with_lora, plain), 0.1f) << "the adapter changes the model";
  EXPECT_LT(max_abs_diff(exported_logits, with_lora), 1e-4f) << "W + (alpha/rank)·B·A computes what the adapter does";
}

TEST_F(HfGpt2, RefusesAnotherModelType) {
  exported();
  edit_config([](nlohmann::json& j) { j["model_type"] = "llama"; });
  EXPECT_HAS(import_error(), p("hf/config.json") + ": field \"model_type\": expected \"gpt2\", found \"llama\"");
  edit_config([](nlohmann::json& j) {
    j["model_type"] = "gpt2";
    j["architectures"] = {"GPT2ForSequenceClassification"};
  });
  EXPECT_HAS(import_error(), "field \"architectures\": expected GPT2LMHeadModel (or GPT2Model), found \"GPT2ForSequenceClassification\"");
}

TEST_F(HfGpt2, RefusesAConfigThatIsNotJson) {
  exported();
  write_file_atomic(p("hf/config.json"), "{\n  \"model_type\": \"gpt2\",\n  oops\n}\n");
  EXPECT_HAS(import_error(), p("hf/config.json") + ":3: expected valid JSON");
}

TEST_F(HfGpt2, RefusesConfigFlagsItDoesNotImplement) {
  exported();
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"scale_attn_by_inverse_layer_idx", true}, {"reorder_and_upcast_attn", true}, {"scale_attn_weights", false},
      {"add_cross_attention", true}, {"activation_function", "relu"}, {"layer_norm_epsilon", 1e-6}, {"n_inner", 64}};
  const std::string original = read_file(p("hf/config.json"));
  for (const auto& [key, value] : cases) {
    write_file_atomic(p("hf/config.json"), original);
    edit_config([&](nlohmann::json& j) { j[key] = value; });
    EXPECT_HAS(import_error(), p("hf/config.json") + ": field \"" + key + "\"");
  }
  write_file_atomic(p("hf/config.json"), original);
  edit_config([](nlohmann::json& j) { j["vocab_size"] = 200; });
  EXPECT_HAS(import_error(), "field \"vocab_size\": the tokenizer has 264 tokens but the model only 200 embedding rows");
  edit_config([](nlohmann::json& j) { j.erase("n_embd"); });
  EXPECT_HAS(import_error(), "field \"n_embd\": expected a positive integer, found none");
}

TEST_F(HfGpt2, RefusesAMissingOrMisshapenTensor) {
  exported();
  edit_weights([](Tensor32& t) { return t.name != "transformer.h.1.mlp.c_fc.bias"; });
  EXPECT_HAS(import_error(), p("hf/model.safetensors") +
                                 ": tensor \"transformer.h.1.mlp.c_fc.bias\" (or \"h.1.mlp.c_fc.bias\") is missing");
  exported();
  edit_weights([](Tensor32& t) {
    if (t.name == "transformer.h.0.attn.c_proj.weight") t.shape = {16, 64};  // same bytes, wrong shape
    return true;
  });
  EXPECT_HAS(import_error(), "tensor \"transformer.h.0.attn.c_proj.weight\": expected shape (32, 32)");
  EXPECT_HAS(import_error(), "found (16, 64)");
}

TEST_F(HfGpt2, RefusesATensorWithoutAPlace) {
  exported();
  edit_weights([](Tensor32&) { return true; },
               [](SafetensorsWriter& w) { w.add_f32("score.weight", {2, 32}, std::vector<float>(64, 0.0f)); });
  EXPECT_HAS(import_error(), "tensor \"score.weight\" has no place in GPT-2's language model");
}

TEST_F(HfGpt2, RefusesADtypeItDoesNotRead) {
  exported();
  edit_weights([](Tensor32& t) { return t.name != "transformer.ln_f.bias"; }, [](SafetensorsWriter& w) {
    const std::vector<double> bias(32, 0.0);
    w.add("transformer.ln_f.bias", "F64", {32}, bias.data(), bias.size() * 8);
  });
  EXPECT_HAS(import_error(), "tensor \"transformer.ln_f.bias\": dtype F64 is not read here (F32, F16 and BF16 are)");
}

TEST_F(HfGpt2, AcceptsAnUntiedHeadOnlyWhenItEqualsWte) {
  GPT m = random_model(7);
  save_hf_gpt2(p("hf"), m, 256);
  edit_config([](nlohmann::json& j) { j["tie_word_embeddings"] = false; });
  EXPECT_HAS(import_error(), "tensor \"lm_head.weight\" is missing, and config.json's tie_word_embeddings is false");
  std::vector<float> wte(m.wte.f32(), m.wte.f32() + 264 * 32);
  edit_weights([](Tensor32&) { return true; }, [&](SafetensorsWriter& w) { w.add_f32("lm_head.weight", {264, 32}, wte); });
  HfGpt2Import untied = load_hf_gpt2(p("hf"), 264);
  EXPECT_EQ(logits_of(untied.model), logits_of(m));
  wte[5] += 0.25f;
  edit_weights([](Tensor32& t) { return t.name != "lm_head.weight"; },
               [&](SafetensorsWriter& w) { w.add_f32("lm_head.weight", {264, 32}, wte); });
  EXPECT_HAS(import_error(), "tensor \"lm_head.weight\": tie_word_embeddings is false and the LM head differs from wte (max |Δ| = 0.25");
}

TEST_F(HfGpt2, RefusesAPickleOnlyFolder) {
  exported();
  fs::remove(p("hf/model.safetensors"));
  write_file_atomic(p("hf/pytorch_model.bin"), "not read");
  const std::string msg = import_error();
  EXPECT_HAS(msg, p("hf/model.safetensors") + ": no such file");
  EXPECT_HAS(msg, "only pytorch_model.bin, a pickled PyTorch checkpoint, which is not read here");
}

TEST_F(HfGpt2, ImportCommandWritesOurCheckpointAndTokenizer) {
  if (!fs::exists(kPretrain)) GTEST_SKIP() << kPretrain << " is not built";
  GPT m = random_model(8);
  save_hf_gpt2(p("hf"), m, 256);
  const Tokenizer tok = sog::testing::byte_tokenizer();
  tok.save_hf(p("hf"), 16);
  auto r = sog::testing::run_command(kPretrain, "import --format hf --from " + p("hf") + " --out " + p("ours/model.bin"), dir_);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  GPT back = GPT::load(p("ours/model.bin"));
  EXPECT_EQ(std::memcmp(back.params().f32(), m.params().f32(), m.params().nbytes()), 0);
  const Tokenizer back_tok = Tokenizer::load(p("ours/tokenizer"));  // our format, beside model.bin
  EXPECT_TRUE(fs::exists(p("ours/tokenizer/tokenizer.tiktoken")));
  EXPECT_EQ(back_tok.specials(), tok.specials());
  EXPECT_EQ(back_tok.encode("a <|user|> b", AllowedSpecial::all), tok.encode("a <|user|> b", AllowedSpecial::all));

  for (const char* f : {"tokenizer.json", "vocab.json", "merges.txt"}) fs::remove(p("hf/") + f);
  r = sog::testing::run_command(kPretrain, "import --format hf --from " + p("hf") + " --out " + p("ours2/model.bin"), dir_);
  EXPECT_EQ(r.rc, 1);
  EXPECT_HAS(r.err, p("hf") + ": no tokenizer (neither tokenizer.json nor vocab.json + merges.txt); give the model's tokenizer folder with --tokenizer");
  EXPECT_FALSE(fs::exists(p("ours2/model.bin")));
  r = sog::testing::run_command(kPretrain, "import --format hf --from " + p("hf") + " --out " + p("ours2/model.bin") +
                                               " --tokenizer " + p("ours/tokenizer") + " --tokenizer-out " + p("tok2"), dir_);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(p("tok2/tokenizer.tiktoken")));
}

// A base model from elsewhere has <|endoftext|> alone: chapter 03 refuses it, naming the missing
// token and the flag; `import --chat-tokens` adds the project's chat and tool tokens with rows of
// their own (every old weight kept bit for bit, each new row near the mean of the old ones), and
// `sft train` then fine-tunes it into an assistant that `sft chat` runs.
TEST_F(HfGpt2, ImportWithChatTokensGivesAModelThatSftTrains) {
  const std::string sft = std::string(SOG_BINARY_DIR) + "/bin/sft";
  if (!fs::exists(kPretrain) || !fs::exists(sft)) GTEST_SKIP() << kPretrain << " or " << sft << " is not built";
  ::setenv("OMP_NUM_THREADS", "1", 1);  // a nano model is fastest on one thread
  const Tokenizer plain = sog::testing::byte_tokenizer_eot_only();
  GPTConfig cfg = gpt_preset("nano", plain.n_vocab());
  cfg.max_T = 64;
  GPT base(cfg);
  base.init_gpt2(4);
  save_hf_gpt2(p("hf"), base, 256);
  plain.save_hf(p("hf"), cfg.max_T);

  auto r = sog::testing::run_command(kPretrain, "import --format hf --from " + p("hf") + " --out " + p("bare/model.bin"), dir_);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  const std::string conversation =
      R"({"messages": [{"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "5"}]})" "\n"
      R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})" "\n";
  std::string data;
  for (int i = 0; i < 8; i++) data += conversation;
  write_file_atomic(p("train.jsonl"), data);
  auto train = [&](const std::string& folder, const std::string& out) {
    return sog::testing::run_command(sft, "train --model " + p(folder + "/model.bin") + " --tokenizer " + p(folder + "/tokenizer") +
                                              " --data " + p("train.jsonl") + " -B 4 -T 32 --steps 150 --lr 1e-2 --min-lr 1e-3 "
                                              "--warmup 2 --eval-every 1000 --samples 0 --seed 5 --out " + p(out), dir_);
  };
  r = train("bare", "sft_bare");
  EXPECT_EQ(r.rc, 1);
  EXPECT_HAS(r.err, "the tokenizer has no special token <|system|>");
  EXPECT_HAS(r.err, "gets the chat and tool tokens with --chat-tokens");

  r = sog::testing::run_command(kPretrain, "import --format hf --chat-tokens --from " + p("hf") + " --out " + p("chat/model.bin"), dir_);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_HAS(r.out, "--chat-tokens: ids 257..263 added");
  const Tokenizer tok = Tokenizer::load(p("chat/tokenizer"));
  EXPECT_EQ(tok.specials(), sog::testing::byte_tokenizer().specials()) << "the project's tokens, in their order after <|endoftext|>";
  GPT grown = GPT::load(p("chat/model.bin"));
  const GPTConfig& g = grown.config();
  EXPECT_EQ(g.V, 264);
  EXPECT_EQ(g.Vp, 384);
  const int64_t old_wte = int64_t{cfg.V} * cfg.C, wte_rows = int64_t{cfg.Vp} * cfg.C;
  EXPECT_EQ(std::memcmp(grown.params().f32(), base.params().f32(), old_wte * sizeof(float)), 0) << "the old rows";
  EXPECT_EQ(std::memcmp(grown.params().f32() + wte_rows, base.params().f32() + wte_rows,
                        (base.num_params() - wte_rows) * sizeof(float)), 0) << "everything after wte";
  for (int64_t v = cfg.V; v < g.V; v++) {
    for (int64_t c = 0; c < cfg.C; c++) {
      double mean = 0;
      for (int64_t u = 0; u < cfg.V; u++) mean += base.wte.f32()[u * cfg.C + c];
      EXPECT_NEAR(grown.wte.f32()[v * cfg.C + c], mean / cfg.V, 0.02 * 5) << "row " << v << " channel " << c;
    }
  }
  EXPECT_NE(std::memcmp(grown.wte.f32() + 257 * cfg.C, grown.wte.f32() + 258 * cfg.C, cfg.C * sizeof(float)), 0)
      << "two new tokens are not one";
  for (int64_t i = int64_t{g.V} * g.C; i < wte_rows; i++) ASSERT_EQ(grown.wte.f32()[i], 0.0f) << "padded rows stay 0";

  r = train("chat", "sft_chat");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  r = sog::testing::run_command(sft, "chat --model " + p("sft_chat/model.bin") + " --tokenizer " + p("chat/tokenizer") +
                                         " --temperature 0 --prompt '2+3?'", dir_);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "assistant: 5\n");
}

TEST(GrowVocab, RefusesToShrinkALoRAAndABf16Base) {
  GPT m(gpt_preset("nano", 264));
  EXPECT_HAS(sog::testing::error_of([&] { grow_vocab(m, 200, 1); }), "V = 200 is smaller than the model's 264");
  LoRA lora(m.config(), LoRAConfig{});
  m.attach_lora(&lora);
  EXPECT_HAS(sog::testing::error_of([&] { grow_vocab(m, 300, 1); }), "detach (or merge) the LoRA first");
  m.attach_lora(nullptr);
  m.freeze_base_bf16();
  EXPECT_HAS(sog::testing::error_of([&] { grow_vocab(m, 300, 1); }), "the base is kept in bf16");
}
