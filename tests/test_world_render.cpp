// Render: same seed → byte-identical files; every JSONL line parses and has the documented
// schema; the manifest's counts match the files; generation is fast.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <sstream>

#include "common/io/atomic_file.h"
#include "common/world/grader.h"
#include "common/world/render.h"
#include "common/world/world_options.h"

using namespace sog;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("sog_world_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

std::vector<json> read_jsonl(const fs::path& path) {
  std::vector<json> rows;
  std::istringstream in(read_file(path.string()));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    n++;
    EXPECT_NO_THROW(rows.push_back(json::parse(line))) << path << ":" << n;
  }
  return rows;
}

std::set<std::string> keys_of(const json& row) {
  std::set<std::string> k;
  for (auto& [key, value] : row.items()) k.insert(key);
  return k;
}

void expect_task_row(const json& row, const fs::path& file, bool seen_flag) {
  std::set<std::string> expected = {"prompt", "answer", "task"};
  if (seen_flag) expected.insert("seen_in_qa");
  ASSERT_EQ(keys_of(row), expected) << file << ": " << row.dump();
  EXPECT_TRUE(row["prompt"].is_string() && !row["prompt"].get<std::string>().empty()) << row.dump();
  EXPECT_TRUE(row["answer"].is_string() && !row["answer"].get<std::string>().empty()) << row.dump();
  EXPECT_NO_THROW(task_kind_from_name(row["task"].get<std::string>())) << row.dump();
  if (seen_flag) { EXPECT_TRUE(row["seen_in_qa"].is_boolean()); }
  // prompts are bare questions
  EXPECT_EQ(row["prompt"].get<std::string>().find("<|"), std::string::npos) << row.dump();
}

// A smaller world for the byte-identity check (the default one is checked once for schema).
WorldConfig small_config(uint64_t seed) {
  WorldConfig c;
  c.seed = seed;
  c.people = 60;
  c.docs_per_person = 2;
  c.fact_qa_documents = 20;
  c.arith_direct_train = 200;
  c.arith_worked_train = 100;
  c.string_direct_train = 100;
  c.string_worked_train = 50;
  c.tool_traces_train = 40;
  c.sft_train = 200;
  c.sft_val = 50;
  c.ppo_prompts = 100;
  c.eval_per_task = 20;
  c.preference_prompts = 50;
  return c;
}

}  // namespace

TEST(WorldRender, SameSeedSameBytesOtherSeedOtherBytes) {
  const fs::path a = temp_dir("a"), b = temp_dir("b"), c = temp_dir("c");
  ASSERT_EQ(write_world(small_config(7), a.string()), 0);
  ASSERT_EQ(write_world(small_config(7), b.string()), 0);
  ASSERT_EQ(write_world(small_config(8), c.string()), 0);
  for (const std::string& name : world_file_names()) {
    ASSERT_TRUE(fs::exists(a / name)) << name;
    const std::string x = read_file((a / name).string());
    EXPECT_FALSE(x.empty()) << name;
    EXPECT_EQ(x, read_file((b / name).string())) << name << " differs between two runs with the same seed";
    EXPECT_NE(x, read_file((c / name).string())) << name << " is the same for another seed";
  }
  // no temporary files left behind
  for (const auto& entry : fs::directory_iterator(a))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  fs::remove_all(a);
  fs::remove_all(b);
  fs::remove_all(c);
}

TEST(WorldRender, DefaultWorldSchemaAndManifest) {
  const fs::path dir = temp_dir("default");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(write_world(WorldConfig{}, dir.string()), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(seconds, 5.0);  // about 0.1 s in a release build; generous for sanitizer builds

  const json manifest = json::parse(read_file((dir / "manifest.json").string()));
  EXPECT_EQ(manifest["schema_version"], world_schema_version);
  EXPECT_EQ(manifest["seed"], WorldConfig{}.seed);
  EXPECT_EQ(manifest["config"], json::parse(config_to_json(WorldConfig{}).dump()));
  EXPECT_EQ(manifest["people"]["train"], 48);  // 80 people, 40% held out for the library
  for (TaskKind k : all_task_kinds) {
    double p = manifest["chance_level"][std::string(task_name(k))];
    EXPECT_GT(p, 0.0);
    EXPECT_LE(p, 0.5);
  }
  EXPECT_DOUBLE_EQ(manifest["chance_level"]["city"].get<double>(), 1.0 / 20);
  EXPECT_DOUBLE_EQ(manifest["chance_level"]["palindrome"].get<double>(), 0.5);
  // Every file of the world but the manifest itself has its entry, eval_tools.jsonl included.
  std::set<std::string> listed(world_file_names().begin(), world_file_names().end()), entries;
  listed.erase("manifest.json");
  for (const auto& [name, entry] : manifest["files"].items()) entries.insert(name);
  EXPECT_EQ(entries, listed);
  EXPECT_TRUE(listed.contains("eval_tools.jsonl"));
  for (const std::string& name : world_file_names()) EXPECT_TRUE(fs::exists(dir / name)) << name;

  // Documents: separated by <|endoftext|>, counts as in the manifest, few MB at most.
  for (const char* name : {"pretrain.txt", "library.txt"}) {
    const std::string text = read_file((dir / name).string());
    size_t docs = 0;
    for (size_t k = text.find("<|endoftext|>"); k != std::string::npos; k = text.find("<|endoftext|>", k + 1)) docs++;
    EXPECT_EQ(docs, manifest["files"][name]["documents"].get<size_t>()) << name;
    EXPECT_EQ(text.size(), manifest["files"][name]["bytes"].get<size_t>()) << name;
    EXPECT_TRUE(text.ends_with("<|endoftext|>")) << name;
  }
  EXPECT_LT(manifest["files"]["pretrain.txt"]["bytes"].get<size_t>(), 4u << 20);

  // SFT: messages of (system?) user assistant, string contents; tool answers only with the tool prompt.
  for (const char* name : {"sft_train.jsonl", "sft_val.jsonl"}) {
    auto rows = read_jsonl(dir / name);
    EXPECT_EQ(rows.size(), manifest["files"][name]["lines"].get<size_t>());
    for (const json& row : rows) {
      ASSERT_EQ(keys_of(row), std::set<std::string>{"messages"}) << row.dump();
      const json& m = row["messages"];
      ASSERT_TRUE(m.is_array() && (m.size() == 2 || m.size() == 3)) << row.dump();
      const size_t u = m.size() - 2;
      if (m.size() == 3) { EXPECT_EQ(m[0]["role"], "system"); }
      EXPECT_EQ(m[u]["role"], "user");
      EXPECT_EQ(m[u + 1]["role"], "assistant");
      for (const json& msg : m) {
        ASSERT_EQ(keys_of(msg), (std::set<std::string>{"role", "content"}));
        EXPECT_FALSE(msg["content"].get<std::string>().empty());
      }
      const std::string answer = m[u + 1]["content"];
      EXPECT_EQ(answer.find("<|tool_call|>") != std::string::npos, m.size() == 3) << row.dump();
      EXPECT_EQ(answer.find("<|end|>"), std::string::npos);
    }
  }
  // Task rows.
  for (const char* name : {"ppo_prompts.jsonl", "eval_val.jsonl", "eval_test.jsonl", "eval_seen.jsonl", "eval_constraint.jsonl",
                            "eval_tools.jsonl"}) {
    auto rows = read_jsonl(dir / name);
    EXPECT_EQ(rows.size(), manifest["files"][name]["lines"].get<size_t>()) << name;
    EXPECT_GT(rows.size(), 0u);
    for (const json& row : rows) expect_task_row(row, dir / name, std::string(name) == "eval_seen.jsonl");
  }
  // Evaluation covers every task in both held-out splits; the constraint task has a file of its own.
  for (const char* name : {"eval_val.jsonl", "eval_test.jsonl"})
    for (TaskKind k : all_task_kinds)
      EXPECT_GE(manifest["files"][name]["by_task"].value(std::string(task_name(k)), 0), is_constraint_task(k) ? 0 : 10)
          << name << " " << task_name(k);
  EXPECT_EQ(manifest["files"]["eval_constraint.jsonl"]["by_task"], json({{"avoid", 45}}));
  // SFT's shares (self-checks, constraint requests, documents, overrides, the mental-arithmetic
  // prompt, large calculator problems, lookups of invented people) on top of the answered
  // questions; val holds each share in the same proportion to its answers, rounded.
  const WorldConfig d;
  const std::vector<int> shares = {d.sft_self_check, d.sft_constraint, d.sft_documents, d.sft_override,
                                   d.sft_mental,     d.sft_large_calc, d.sft_lookup_names};
  auto val_share = [&](int n) { return static_cast<int>(std::lround(double(n) * d.sft_val / d.sft_train)); };
  int train_lines = d.sft_train, val_lines = d.sft_val;
  for (int n : shares) train_lines += n, val_lines += val_share(n);
  EXPECT_EQ(manifest["files"]["sft_train.jsonl"]["lines"], train_lines);
  EXPECT_EQ(manifest["files"]["sft_train.jsonl"]["self_checks"], d.sft_self_check);
  EXPECT_EQ(manifest["files"]["sft_val.jsonl"]["lines"], val_lines);
  EXPECT_EQ(manifest["files"]["sft_val.jsonl"]["self_checks"], val_share(d.sft_self_check));
  // eval_tools: eval_test's multiplications and facts, and eval_per_task large additions.
  const json& tools = manifest["files"]["eval_tools.jsonl"]["by_task"];
  const json& test = manifest["files"]["eval_test.jsonl"]["by_task"];
  EXPECT_EQ(tools["add"], d.eval_per_task);
  EXPECT_EQ(tools["mul"], test["mul"]);
  for (const char* fact : {"age", "city", "job", "pet", "color", "hobby"}) EXPECT_EQ(tools[fact], test[fact]) << fact;
  EXPECT_EQ(tools.size(), 8u) << tools.dump();
  // Preferences: TRL's three strings, chosen really preferred by the grader's rules.
  auto prefs = read_jsonl(dir / "preferences_train.jsonl");
  EXPECT_EQ(prefs.size(), manifest["files"]["preferences_train.jsonl"]["lines"].get<size_t>());
  EXPECT_GT(prefs.size(), 1000u);
  for (const json& row : prefs) {
    ASSERT_EQ(keys_of(row), (std::set<std::string>{"prompt", "chosen", "rejected"})) << row.dump();
    EXPECT_NE(row["chosen"], row["rejected"]);
  }
  fs::remove_all(dir);
}

TEST(WorldRender, GoldAnswersGradeCorrect) {
  // Every assistant message of SFT and every gold answer is graded correct by the grader, and
  // SFT answers are well-formed for their format.
  const World w = generate_world(WorldConfig{});
  for (const auto* convs : {&w.sft_train, &w.sft_val})
    for (const Conversation& c : *convs) {
      EXPECT_TRUE(is_correct(c.assistant, c.answer)) << c.user << " → " << c.assistant;
      EXPECT_TRUE(is_well_formed(c.assistant, c.format)) << format_name(c.format) << ": " << c.assistant;
    }
  for (const Task& t : w.ppo_prompts) EXPECT_TRUE(is_correct(t.answer, t.answer)) << t.answer;
  for (const auto* qs : {&w.eval_val, &w.eval_test, &w.eval_seen, &w.eval_tools})
    for (const EvalQuestion& q : *qs) EXPECT_TRUE(is_correct(q.task.answer, q.task.answer)) << q.task.answer;
}

TEST(WorldRender, EvalSeenFlagsMatchPretraining) {
  const World w = generate_world(WorldConfig{});
  const std::string pretrain = render_documents(w.pretrain_docs);
  int seen = 0;
  for (const EvalQuestion& q : w.eval_seen) {
    const std::string qa = "Q: " + q.task.prompt + "\nA: " + q.task.answer + "\n";
    EXPECT_EQ(pretrain.find(qa) != std::string::npos, q.seen_in_qa) << qa;
    seen += q.seen_in_qa;
  }
  // qa_fact_fraction = 0.5: about half were asked in Q/A documents, the rest read in prose only
  const double share = static_cast<double>(seen) / w.eval_seen.size();
  EXPECT_GT(share, 0.35);
  EXPECT_LT(share, 0.65);
}

TEST(WorldRender, BadConfigIsRejectedWithTheFieldName) {
  WorldConfig c;
  c.people = 5000;
  try {
    generate_world(c);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("WorldConfig.people"), std::string::npos) << e.what();
  }
  c = WorldConfig{};
  c.student_error_rate = 1.5;
  EXPECT_THROW(generate_world(c), std::invalid_argument);
}

TEST(WorldRender, CommandLineOptions) {
  CLI::App app;
  WorldConfig c;
  add_world_options(app, c);
  std::vector<std::string> args = {"--library-fraction", "0.3", "--people", "120", "--seed", "9"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(c.seed, 9u);
  EXPECT_EQ(c.people, 120);
  EXPECT_DOUBLE_EQ(c.library_fraction, 0.3);
  EXPECT_EQ(c.docs_per_person, WorldConfig{}.docs_per_person);
}

// read_chance_levels gives back the manifest's chance levels, and refuses what is not a manifest.
TEST(WorldRender, ChanceLevelsReadBackFromTheManifest) {
  const fs::path dir = temp_dir("chance");
  const WorldConfig config = small_config(7);
  ASSERT_EQ(write_world(config, dir.string()), 0);
  const std::string manifest = (dir / "manifest.json").string();
  const std::map<std::string, double> chance = read_chance_levels(manifest);
  ASSERT_EQ(chance.size(), all_task_kinds.size());
  for (TaskKind k : all_task_kinds) EXPECT_EQ(chance.at(std::string(task_name(k))), chance_level(k, config)) << task_name(k);

  auto error = [&](const std::string& text) {
    write_file_atomic((dir / "bad.json").string(), text);
    try {
      read_chance_levels((dir / "bad.json").string());
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error("{\"schema_version\": 9}").find("bad.json: expected a world's manifest.json with schema_version 1, found 9"),
            std::string::npos);
  EXPECT_NE(error("{\"schema_version\": 1}").find("bad.json: no \"chance_level\" object"), std::string::npos);
  EXPECT_NE(error("{\"schema_version\": 1, \"chance_level\": {\"add\": \"x\"}}").find("chance_level.add is not a number"),
            std::string::npos);
  EXPECT_NE(error("not json").find("bad.json: expected a world's manifest.json (valid JSON)"), std::string::npos);
  EXPECT_NE(error("[1]").find("found none"), std::string::npos);
  fs::remove_all(dir);
}
