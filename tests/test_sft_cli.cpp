// bin/sft end to end on a nano base model made here: full and LoRA training, resume, merge, chat
// (one prompt and the REPL), eval, and bad data.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/autograd/tape.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/nn/gpt.h"
#include "common/nn/lora.h"
#include "common/tokenizer/special_tokens.h"
#include "common/tokenizer/tokenizer.h"
#include "byte_tokenizer.h"
#include "common/world/people_file.h"
#include "test_util.h"
#include "text_shards.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string kSft = std::string(SOG_BINARY_DIR) + "/bin/sft";

struct Result {
  int status;
  std::string out, err;
  std::string all() const { return out + err; }
};

Result run(const fs::path& scratch, const std::string& args, const std::string& stdin_file = "") {
  sog::testing::CommandResult r = sog::testing::run_command(kSft, args, scratch, stdin_file);
  return {r.rc, r.out, r.err};
}

std::string conversation(const std::string& q, const std::string& a) {
  return json({{"messages", {{{"role", "user"}, {"content", q}}, {{"role", "assistant"}, {"content", a}}}}}).dump();
}
std::string two_turns(const std::string& q1, const std::string& a1, const std::string& q2, const std::string& a2) {
  return json({{"messages",
                {{{"role", "user"}, {"content", q1}}, {{"role", "assistant"}, {"content", a1}},
                 {{"role", "user"}, {"content", q2}}, {{"role", "assistant"}, {"content", a2}}}}})
      .dump();
}

// A byte tokenizer with the project's special tokens, a random nano base (L=2 C=32, maxT 64) and
// a handful of conversations a nano model memorises in a few dozen steps.
class SftCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kSft)) GTEST_SKIP() << kSft << " is not built";
    // A nano model is fastest on one thread, and a busy machine makes OpenMP's barriers slow.
    ::setenv("OMP_NUM_THREADS", "1", 1);
    dir_ = sog::testing::fresh_temp_dir("sft_cli");
    sog::testing::byte_tokenizer().save((dir_ / "tok").string());
    GPTConfig cfg = gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size()));
    cfg.max_T = 64;
    GPT base(cfg);
    base.init_gpt2(3);
    base.save((dir_ / "base.bin").string());
    std::string data;
    for (int i = 0; i < 4; i++) {
      data += conversation("hi", "hello") + "\n";
      data += conversation("2+3?", "5") + "\n";
      data += conversation("4+4?", "8") + "\n";
      data += two_turns("4+4?", "8", "hi", "hello") + "\n";
    }
    write_file_atomic((dir_ / "train.jsonl").string(), data);
    write_file_atomic((dir_ / "val.jsonl").string(), conversation("2+3?", "5") + "\n" + conversation("hi", "hello") + "\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string p(const std::string& rel) const { return (dir_ / rel).string(); }
  std::string train_args(int steps, const std::string& extra = "", const std::string& lr = "1e-2") const {
    return "train --model " + p("base.bin") + " --tokenizer " + p("tok") + " --data " + p("train.jsonl") +
           " --val-data " + p("val.jsonl") + " -B 4 -T 32 --steps " + std::to_string(steps) + " --lr " +
           lr + " --min-lr 1e-3 --warmup 2 --eval-every 20 --eval-batches 1 --samples 2 --seed 5 " + extra;
  }
  fs::path dir_;
};

std::vector<double> train_losses(const std::string& metrics, const char* key = "train_loss") {
  std::vector<double> out;
  for (const auto& r : read_jsonl(metrics))
    if (r.contains(key)) out.push_back(r[key].get<double>());
  return out;
}

// Logits of the last position of a fixed sequence (B=1).
std::vector<float> last_logits(GPT& model, const std::vector<int32_t>& ids) {
  NoGradGuard no_grad;
  Tensor logits = model.forward(Tensor::from_ids({1, static_cast<int64_t>(ids.size())}, ids));
  const int64_t Vp = model.config().Vp;
  const float* row = logits.f32() + (ids.size() - 1) * Vp;
  return std::vector<float>(row, row + model.config().V);
}

}  // namespace

// Full fine-tuning memorises the three answers; the run folder has every output; `chat --prompt`
// answers and stops at <|end|>; the REPL keeps answering turn after turn.
TEST_F(SftCli, FullFineTuningThenChat) {
  Result r = run(dir_, train_args(200, "--out " + p("full")));
  ASSERT_EQ(r.status, 0) << r.all();
  for (const char* f : {"model.bin", "state.bin", "run.json", "metrics.jsonl", "summary.json", "loss.svg", "samples.txt"})
    EXPECT_TRUE(fs::exists(dir_ / "full" / f)) << f;
  std::vector<double> losses = train_losses(p("full/metrics.jsonl"));
  ASSERT_EQ(losses.size(), 200u);
  EXPECT_LT(losses.back(), 0.1 * losses.front()) << "memorising 3 answers";
  json s = json::parse(read_file(p("full/summary.json")));
  EXPECT_EQ(s["method"], "full");
  EXPECT_DOUBLE_EQ(s["trainable_percent"].get<double>(), 100.0);
  for (const char* key : {"final_val_loss", "peak_rss_mb", "wall_time_s", "weights_file_bytes", "trainable_parameters"})
    EXPECT_TRUE(s.contains(key)) << key;
  EXPECT_NE(read_file(p("full/samples.txt")).find("assistant: 5\n"), std::string::npos) << read_file(p("full/samples.txt"));

  const std::string chat = "chat --model " + p("full/model.bin") + " --tokenizer " + p("tok") + " --temperature 0";
  Result once = run(dir_, chat + " --prompt '2+3?'");
  ASSERT_EQ(once.status, 0) << once.all();
  EXPECT_EQ(once.out, "assistant: 5\n");  // stops at <|end|>: nothing after the answer

  // `sft eval` in chat mode: every answer right and in the assistant's format (one line, then <|end|>).
  write_file_atomic(p("eval.jsonl"), R"({"prompt":"2+3?","answer":"5","task":"add"})" "\n"
                                     R"({"prompt":"4+4?","answer":"8","task":"add"})" "\n"
                                     R"({"prompt":"hi","answer":"hello","task":"greet"})" "\n");
  Result ev = run(dir_, "eval --model " + p("full/model.bin") + " --tokenizer " + p("tok") + " --eval " + p("eval.jsonl") +
                            " --mode chat --out " + p("eval.json"));
  ASSERT_EQ(ev.status, 0) << ev.all();
  json e = json::parse(read_file(p("eval.json")));
  EXPECT_EQ(e["correct"], 3) << e.dump(1);
  EXPECT_EQ(e["well_formed"], 3) << e.dump(1);
  ASSERT_EQ(e["tasks"].size(), 2u);
  EXPECT_EQ(e["tasks"][0]["task"], "add");
  EXPECT_EQ(e["tasks"][0]["total"], 2);
  EXPECT_NE(ev.out.find("100.0%"), std::string::npos) << ev.out;
  // The fields the pipeline's report reads, and the evaluator's additions.
  for (const char* key : {"accuracy", "well_formed_rate", "total", "examples", "failures", "lora", "mode", "accuracy_interval"})
    EXPECT_TRUE(e.contains(key)) << key;
  for (const char* key : {"task", "accuracy", "total", "well_formed_rate"}) EXPECT_TRUE(e["tasks"][0].contains(key)) << key;
  EXPECT_EQ(e["examples"][0]["completion"], " 5<|end|>") << "what follows the prompt: the template's space, the answer, <|end|>";

  // With a manifest the table has the chance level of each task it names; a system prompt and
  // chain of thought go into the prompt.
  write_file_atomic(p("manifest.json"), R"({"schema_version": 1, "chance_level": {"add": 0.005, "greet": 0.25}})");
  Result cot = run(dir_, "eval --model " + p("full/model.bin") + " --tokenizer " + p("tok") + " --eval " + p("eval.jsonl") +
                             " --manifest " + p("manifest.json") + " --system 'Be brief.' --chain-of-thought --out " +
                             p("cot.json") + " --markdown " + p("cot.md"));
  ASSERT_EQ(cot.status, 0) << cot.all();
  json c = json::parse(read_file(p("cot.json")));
  EXPECT_EQ(c["tasks"][0]["chance"], 0.005);
  EXPECT_EQ(c["chance"], (0.005 * 2 + 0.25) / 3);
  EXPECT_EQ(c["system"], "Be brief.");
  EXPECT_EQ(c["chain_of_thought"], true);
  EXPECT_EQ(c["max_new_tokens"], 32) << "a worked reply gets room: 64 tokens, or half the context of 64";
  for (const char* list : {"examples", "failures"})
    for (const auto& r : c[list])
      EXPECT_EQ(r["page"], "<|system|> Be brief.<|end|><|user|> " + r["prompt"].get<std::string>() +
                               " Think step by step.<|end|><|assistant|>");
  EXPECT_EQ(c["examples"].size() + c["failures"].size(), 3u);
  EXPECT_NE(read_file(p("cot.md")).find("| task | questions | chance |"), std::string::npos);

  write_file_atomic(p("script.txt"), "4+4?\nhi\n/reset\n2+3?\n/quit\nnever read\n");
  Result repl = run(dir_, chat, p("script.txt"));
  ASSERT_EQ(repl.status, 0) << repl.all();
  EXPECT_EQ(repl.out, "assistant: 8\nassistant: hello\n(conversation reset)\nassistant: 5\n");
}

// Stop at step 6, resume to 12: the losses and the weights equal an uninterrupted run's, for full
// fine-tuning and for LoRA (with adapter dropout, whose RNG is part of the state).
TEST_F(SftCli, ResumeEqualsUninterrupted) {
  for (const std::string extra : {std::string(""), std::string("--lora-rank 2 --lora-alpha 4 --lora-dropout 0.1 --lora-targets all")}) {
    ASSERT_EQ(run(dir_, train_args(12, extra + " --decay-steps 12 --out " + p("whole"))).status, 0);
    Result a = run(dir_, train_args(6, extra + " --decay-steps 12 --out " + p("part")));
    ASSERT_EQ(a.status, 0) << a.all();
    Result b = run(dir_, train_args(12, "--decay-steps 12 --resume " + p("part")));
    ASSERT_EQ(b.status, 0) << b.all();
    std::vector<double> x = train_losses(p("whole/metrics.jsonl")), y = train_losses(p("part/metrics.jsonl"));
    ASSERT_EQ(x.size(), 12u);
    ASSERT_EQ(y.size(), 12u);
    for (size_t i = 0; i < 12; i++) EXPECT_EQ(x[i], y[i]) << extra << " step " << i;
    const char* weights = extra.empty() ? "model.bin" : "adapter.bin";
    EXPECT_EQ(read_file(p(std::string("whole/") + weights)), read_file(p(std::string("part/") + weights))) << extra;
    fs::remove_all(dir_ / "whole");
    fs::remove_all(dir_ / "part");
  }
}

// Pretraining text mixed into SFT: every step also trains rows of chapter 01's shards, whose loss
// is recorded and falls; the run resumes exactly (the shards' loader is part of the state); shards
// of another vocabulary and a non-positive weight are clear errors.
TEST_F(SftCli, MixesPretrainingTextAndResumesExactly) {
  Tokenizer tok = Tokenizer::load(p("tok"));
  std::string text;
  for (int i = 0; i < 40; i++) text += "the cat sat on the mat. the dog sat on the log. ";
  sog::testing::write_text_shards(dir_ / "shards", tok, text);
  const std::string mix = " --mix-data " + p("shards") + " --mix-rows 2 --mix-weight 0.5 --decay-steps 24";
  Result whole = run(dir_, train_args(24, mix + " --out " + p("whole")));
  ASSERT_EQ(whole.status, 0) << whole.all();
  EXPECT_NE(whole.out.find("mixed in: 2 rows of 32 tokens of pretraining text per step"), std::string::npos) << whole.out;
  std::vector<double> mixed = train_losses(p("whole/metrics.jsonl"), "mix_loss");
  ASSERT_EQ(mixed.size(), 24u);
  for (double l : mixed) EXPECT_TRUE(std::isfinite(l));
  EXPECT_LT(mixed.back(), mixed.front() - 1.0) << "the pretraining rows are trained too";
  json config = json::parse(read_file(p("whole/run.json")));
  EXPECT_EQ(config["mix_rows"], 2) << config.dump();

  // The conversations' losses differ from a run without the mix from the second step on (the
  // first step's loss is the same: the weights have not moved yet).
  ASSERT_EQ(run(dir_, train_args(24, "--decay-steps 24 --out " + p("plain"))).status, 0);
  std::vector<double> with = train_losses(p("whole/metrics.jsonl")), without = train_losses(p("plain/metrics.jsonl"));
  EXPECT_EQ(with[0], without[0]);
  EXPECT_NE(with[1], without[1]);

  Result part = run(dir_, train_args(10, mix + " --out " + p("part")));
  ASSERT_EQ(part.status, 0) << part.all();
  Result rest = run(dir_, train_args(24, "--decay-steps 24 --resume " + p("part")));
  ASSERT_EQ(rest.status, 0) << rest.all();
  std::vector<double> resumed = train_losses(p("part/metrics.jsonl"), "mix_loss");
  ASSERT_EQ(resumed.size(), 24u);
  for (size_t i = 0; i < 24; i++) EXPECT_EQ(resumed[i], mixed[i]) << "step " << i;
  EXPECT_EQ(read_file(p("whole/model.bin")), read_file(p("part/model.bin")));

  sog::testing::write_text_shards(dir_ / "other", tok, text);  // then said to be of another vocabulary
  json meta = json::parse(read_file(p("other/meta.json")));
  meta["n_vocab"] = tok.n_vocab() + 1;
  write_file_atomic(p("other/meta.json"), meta.dump());
  Result vocab = run(dir_, train_args(2, "--mix-data " + p("other") + " --out " + p("x")));
  EXPECT_NE(vocab.status, 0);
  EXPECT_NE(vocab.err.find("the shards in " + p("other") + " were written with n_vocab"), std::string::npos) << vocab.all();
  Result weight = run(dir_, train_args(2, "--mix-data " + p("shards") + " --mix-weight 0 --out " + p("y")));
  EXPECT_NE(weight.status, 0);
  EXPECT_NE(weight.err.find("--mix-weight must be positive"), std::string::npos) << weight.all();
  Result alone = run(dir_, train_args(2, "--mix-rows 2 --out " + p("z")));
  EXPECT_NE(alone.status, 0);
  EXPECT_NE(alone.all().find("--mix-data"), std::string::npos) << alone.all();
}

// LoRA trains a small slice into a small file; merged and attached give the same logits and the
// same greedy answers; the bf16 base trains too.
TEST_F(SftCli, LoRATrainMergeAndEval) {
  Result r = run(dir_, train_args(100, "--lora-rank 4 --lora-alpha 8 --lora-targets all --out " + p("lora")));
  ASSERT_EQ(r.status, 0) << r.all();
  json s = json::parse(read_file(p("lora/summary.json")));
  EXPECT_EQ(s["method"], "lora");
  EXPECT_LT(s["trainable_percent"].get<double>(), 100.0 * 0.5);
  EXPECT_LT(s["weights_file_bytes"].get<double>(), 0.5 * static_cast<double>(fs::file_size(p("base.bin"))));
  EXPECT_FALSE(fs::exists(p("lora/model.bin"))) << "the base is not rewritten";
  // The frozen random base's tied embedding (std 0.02) keeps the logits small, so the adapters move
  // the loss slowly here; the validation loss still falls steadily.
  std::vector<double> val = train_losses(p("lora/metrics.jsonl"), "val_loss");
  ASSERT_EQ(val.size(), 6u);
  EXPECT_LT(val.back(), val.front() - 0.3);

  Result m = run(dir_, "merge --model " + p("base.bin") + " --lora " + p("lora/adapter.bin") + " --out " + p("merged.bin"));
  ASSERT_EQ(m.status, 0) << m.all();
  // Directly: base + attached adapter vs the merged checkpoint (tolerance: the merged W + (α/r)BA
  // is rounded once to f32; the attached path adds the same product in a different order).
  GPT base = GPT::load(p("base.bin"));
  LoRA lora = LoRA::load(p("lora/adapter.bin"), base.config());
  base.attach_lora(&lora);
  GPT merged = GPT::load(p("merged.bin"));
  const std::vector<int32_t> ids = {256, 258, 50, 43, 51, 63, 260, 259};  // <eot><user>2+3?<end><assistant>
  std::vector<float> a = last_logits(base, ids), b = last_logits(merged, ids);
  float max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); i++) max_diff = std::max(max_diff, std::fabs(a[i] - b[i])), max_abs = std::max(max_abs, std::fabs(a[i]));
  EXPECT_LT(max_diff, 1e-4f * std::max(1.0f, max_abs));
  GPT plain = GPT::load(p("base.bin"));
  std::vector<float> c = last_logits(plain, ids);
  float adapter_effect = 0;
  for (size_t i = 0; i < a.size(); i++) adapter_effect = std::max(adapter_effect, std::fabs(a[i] - c[i]));
  EXPECT_GT(adapter_effect, 100 * max_diff) << "the adapter changed the model";

  // Through `sft eval`: the same per-question completions with the adapter attached or merged.
  write_file_atomic(p("eval.jsonl"), R"({"prompt":"2+3?","answer":"5","task":"add"})" "\n"
                                     R"({"prompt":"4+4?","answer":"8","task":"add"})" "\n"
                                     R"({"prompt":"hi","answer":"hello","task":"greet"})" "\n");
  const std::string eval = " --tokenizer " + p("tok") + " --eval " + p("eval.jsonl") + " --mode chat";
  Result e1 = run(dir_, "eval --model " + p("base.bin") + " --lora " + p("lora/adapter.bin") + eval + " --out " + p("e1.json"));
  Result e2 = run(dir_, "eval --model " + p("merged.bin") + eval + " --out " + p("e2.json"));
  ASSERT_EQ(e1.status, 0) << e1.all();
  ASSERT_EQ(e2.status, 0) << e2.all();
  json j1 = json::parse(read_file(p("e1.json"))), j2 = json::parse(read_file(p("e2.json")));
  EXPECT_EQ(j1["tasks"], j2["tasks"]);
  EXPECT_EQ(j1["examples"].size() + j1["failures"].size(), 3u);
  for (size_t i = 0; i < j1["examples"].size(); i++) EXPECT_EQ(j1["examples"][i]["completion"], j2["examples"][i]["completion"]);
  EXPECT_EQ(j1["total"], 3);
  EXPECT_EQ(j1["tasks"][0]["task"], "add");

  Result bf16 = run(dir_, train_args(8, "--lora-rank 4 --bf16-base --out " + p("lora_bf16")));
  ASSERT_EQ(bf16.status, 0) << bf16.all();
  EXPECT_NE(bf16.all().find("bf16"), std::string::npos) << bf16.all();
  // the few-shot modes run on any model
  for (const char* mode : {"fewshot-doc", "qa-fewshot"}) {
    Result f = run(dir_, "eval --model " + p("base.bin") + " --tokenizer " + p("tok") + " --eval " + p("eval.jsonl") +
                             " --shots 1 --mode " + mode);
    ASSERT_EQ(f.status, 0) << mode << f.all();
    EXPECT_NE(f.out.find(std::string("mode ") + mode), std::string::npos) << f.out;
  }
}

TEST_F(SftCli, BadDataIsAClearError) {
  write_file_atomic(p("bad.jsonl"), conversation("a", "b") + "\n" + conversation("c", "d") + "\n" +
                                        R"({"messages":[{"role":"wizard","content":"x"}]})" "\n" + conversation("e", "f") + "\n");
  const std::string args = "train --model " + p("base.bin") + " --tokenizer " + p("tok") + " --data " + p("bad.jsonl") +
                           " -B 2 -T 16 --steps 2 --eval-every 0 --samples 0 --out " + p("run");
  Result r = run(dir_, args);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find(p("bad.jsonl") + ":3: message 0: unknown role \"wizard\""), std::string::npos) << r.all();
  Result skip = run(dir_, args + " --skip-bad-lines");
  ASSERT_EQ(skip.status, 0) << skip.all();
  EXPECT_EQ(json::parse(read_file(p("run/summary.json")))["skipped_lines"], 1);
  Result no_model = run(dir_, "train --tokenizer " + p("tok") + " --out " + p("x"));
  EXPECT_NE(no_model.status, 0);
  EXPECT_NE(no_model.err.find("--model"), std::string::npos) << no_model.all();
  Result mode = run(dir_, "eval --model " + p("base.bin") + " --tokenizer " + p("tok") + " --eval " + p("bad.jsonl") + " --mode poem");
  EXPECT_NE(mode.status, 0);
  EXPECT_NE(mode.err.find("chat, fewshot-doc, qa-fewshot or solution-doc"), std::string::npos) << mode.all();
}

// A run that diverges stops at once with a message naming the step and saves nothing: a poisoned
// base makes the first loss NaN, for full fine-tuning and for LoRA (where only the adapters train,
// and the NaN comes from the frozen base).
TEST_F(SftCli, StopsAtTheFirstNonFiniteLoss) {
  GPT base = GPT::load(p("base.bin"));
  base.lnfw.f32()[0] = NAN;  // the final LayerNorm's first gain: every logit becomes NaN
  base.save(p("poisoned.bin"));
  for (const std::string lora : {"", "--lora-rank 4"}) {
    std::string args = train_args(10, lora + " --out " + p("run"));
    args.replace(args.find(p("base.bin")), p("base.bin").size(), p("poisoned.bin"));
    args.replace(args.find("--eval-every 20"), 15, "--eval-every 0");
    Result r = run(dir_, args);
    EXPECT_NE(r.status, 0) << lora << r.all();
    EXPECT_NE(r.err.find("step 0: the training loss is NaN: training diverged"), std::string::npos) << lora << r.all();
    EXPECT_FALSE(fs::exists(p("run/model.bin")) || fs::exists(p("run/adapter.bin"))) << lora;
  }
  // With validation at step 0, the validation loss is the first to say so.
  Result v = run(dir_, "train --model " + p("poisoned.bin") + " --tokenizer " + p("tok") + " --data " + p("train.jsonl") +
                           " --val-data " + p("val.jsonl") + " -B 4 -T 32 --steps 4 --eval-every 2 --eval-batches 1 --samples 0 --out " +
                           p("run_val"));
  EXPECT_NE(v.status, 0);
  EXPECT_NE(v.err.find("step 0: the validation loss is NaN"), std::string::npos) << v.all();
}

// `chat --tools`: a nano model fine-tuned on two tool traces writes the calls; the runtime runs
// them (calc; lookup on --world's people.jsonl, or its error without one) and shows each as a
// [tool] line; the flags and a bad --world are clear errors.
TEST_F(SftCli, ChatWithTools) {
  auto tool_conversation = [](const std::string& q, const std::string& call, const std::string& result) {
    return json({{"messages",
                  {{{"role", "system"}, {"content", "tools"}},
                   {{"role", "user"}, {"content", q}},
                   {{"role", "assistant"},
                    {"content", "<|tool_call|>" + call + "<|tool_end|><|tool_result|>" + result + "<|tool_end|>\nAnswer: " + result}}}}})
        .dump();
  };
  std::string data;
  for (int i = 0; i < 4; i++)
    data += tool_conversation("7*8?", "calc(7*8)", "56") + "\n" + tool_conversation("Ana?", "lookup(Ana, city)", "Oslo") + "\n";
  write_file_atomic(p("tools.jsonl"), data);
  Result r = run(dir_, "train --model " + p("base.bin") + " --tokenizer " + p("tok") + " --data " + p("tools.jsonl") +
                           " --val-data " + p("tools.jsonl") + " -B 4 -T 48 --steps 200 --lr 1e-2 --min-lr 1e-3 --warmup 2"
                           " --eval-every 0 --samples 0 --seed 5 --out " + p("tools_run"));
  ASSERT_EQ(r.status, 0) << r.all();
  // A world folder with Ana in it (people_file.h), and one without a people.jsonl.
  fs::create_directories(dir_ / "world");
  write_file_atomic(p("world/people.jsonl"),
                    render_people({{"Ana", 30, "Lima", "chef", "cat", "red", "chess", Split::train}}));
  fs::create_directories(dir_ / "empty_world");

  const std::string chat = "chat --model " + p("tools_run/model.bin") + " --tokenizer " + p("tok") +
                           " --temperature 0 --system tools --tools";
  Result calc = run(dir_, chat + " --prompt '7*8?'");
  ASSERT_EQ(calc.status, 0) << calc.all();
  EXPECT_EQ(calc.out, "assistant: [tool] calc(7*8) → 56\nAnswer: 56\n");
  EXPECT_NE(calc.err.find("no --world: lookup has no people"), std::string::npos) << calc.err;
  // The runtime answers from the world's people (Lima, whatever the model memorised), or says it has none.
  Result with_world = run(dir_, chat + " --world " + p("world") + " --prompt 'Ana?'");
  ASSERT_EQ(with_world.status, 0) << with_world.all();
  EXPECT_TRUE(with_world.out.starts_with("assistant: [tool] lookup(Ana, city) → Lima\n")) << with_world.out;
  EXPECT_NE(with_world.err.find("1 people from " + p("world") + "/people.jsonl"), std::string::npos) << with_world.err;
  Result no_world = run(dir_, chat + " --prompt 'Ana?'");
  ASSERT_EQ(no_world.status, 0) << no_world.all();
  EXPECT_TRUE(no_world.out.starts_with("assistant: [tool] lookup(Ana, city) → error: no people are loaded for lookup\n"))
      << no_world.out;
  // The REPL runs tools too, turn after turn.
  write_file_atomic(p("script.txt"), "7*8?\n/reset\n7*8?\n");
  Result repl = run(dir_, chat, p("script.txt"));
  ASSERT_EQ(repl.status, 0) << repl.all();
  EXPECT_EQ(repl.out, "assistant: [tool] calc(7*8) → 56\nAnswer: 56\n(conversation reset)\n"
                      "assistant: [tool] calc(7*8) → 56\nAnswer: 56\n");
  // Without --tools the same model's call is plain text: nothing runs, no [tool] line.
  Result plain = run(dir_, "chat --model " + p("tools_run/model.bin") + " --tokenizer " + p("tok") +
                               " --temperature 0 --system tools --max-new-tokens 12 --prompt '7*8?'");
  ASSERT_EQ(plain.status, 0) << plain.all();
  EXPECT_TRUE(plain.out.starts_with("assistant: <|tool_call|>calc(7*8)<|tool_end|>")) << plain.out;
  EXPECT_EQ(plain.out.find("[tool]"), std::string::npos) << plain.out;

  // A random model with --tools runs and answers something; the flags are checked.
  Result random = run(dir_, "chat --model " + p("base.bin") + " --tokenizer " + p("tok") +
                                " --tools --max-tool-calls 2 --max-new-tokens 8 --prompt hi");
  ASSERT_EQ(random.status, 0) << random.all();
  EXPECT_TRUE(random.out.starts_with("assistant: ")) << random.out;
  EXPECT_TRUE(random.out.ends_with("\n")) << random.out;
  EXPECT_NE(random.err.find("at most 2 calls per reply"), std::string::npos) << random.err;
  Result bad_world = run(dir_, chat + " --world " + p("empty_world") + " --prompt hi");
  EXPECT_EQ(bad_world.status, 1) << bad_world.all();
  EXPECT_NE(bad_world.err.find("sft: error: " + p("empty_world") + "/people.jsonl: cannot open the people file"),
            std::string::npos)
      << bad_world.all();
  Result world_without_tools = run(dir_, "chat --model " + p("base.bin") + " --tokenizer " + p("tok") + " --world " +
                                             p("world") + " --prompt hi");
  EXPECT_NE(world_without_tools.status, 0);
  EXPECT_NE(world_without_tools.err.find("--world requires --tools"), std::string::npos) << world_without_tools.all();
  Result negative = run(dir_, chat + " --max-tool-calls -1 --prompt hi");
  EXPECT_NE(negative.status, 0);
  EXPECT_NE(negative.err.find("--max-tool-calls"), std::string::npos) << negative.all();
}
