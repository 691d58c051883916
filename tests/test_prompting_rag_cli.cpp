// bin/prompting's retrieval and tool commands on a nano model with the byte tokenizer: index build
// and query, eval --technique rag (closed-book, top k, oracle) and --technique tools, chat with an
// index. The figures a random model cannot decide (hit rates, the oracle's questions, the ranking)
// are recomputed here from the index the command wrote.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "byte_tokenizer.h"
#include "common/eval/prompt_format.h"
#include "common/eval/techniques.h"
#include "common/io/atomic_file.h"
#include "common/nn/gpt.h"
#include "common/retrieval/rag.h"
#include "common/world/people_file.h"
#include "test_util.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;
using sog::testing::run_command;

namespace {

const std::vector<Person> kPeople = {{"Nils", 46, "Paris", "baker", "cat", "green", "chess", Split::test},
                                     {"Goran", 78, "Oslo", "nurse", "dog", "red", "golf", Split::test},
                                     {"Ada", 30, "Lima", "pilot", "fish", "blue", "tennis", Split::val}};

class PromptingRagCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = sog::testing::fresh_temp_dir("prompting_rag_cli");
    sog::testing::byte_tokenizer().save((dir_ / "tok").string());
    GPTConfig cfg = gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size()));
    cfg.max_T = 256;  // room for a stuffed prompt: no prompt is cut
    GPT model(cfg);
    model.init_gpt2(3);
    model.save((dir_ / "m.bin").string());
    cfg.max_T = 64;  // 40 tokens of room before a reply of 24: a question alone fits, stuffed it does not
    GPT small(cfg);
    small.init_gpt2(3);
    small.save((dir_ / "m64.bin").string());
    write_file_atomic((dir_ / "library.txt").string(),
                      "Nils is 46 years old. Nils lives in Paris.\n<|endoftext|>"
                      "Goran lives in Oslo. Goran owns a dog.\n<|endoftext|>"
                      "Ada says hello. Ada is a pilot.\n<|endoftext|>");
    fs::create_directories(dir_ / "world");
    write_file_atomic((dir_ / "world" / "people.jsonl").string(), render_people(kPeople));
    std::string rows;
    for (const QuestionRow& q : questions()) rows += json({{"prompt", q.prompt}, {"answer", q.answer}, {"task", q.task}}).dump() + "\n";
    write_file_atomic((dir_ / "q.jsonl").string(), rows);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override {
    if (!fs::exists(bin())) GTEST_SKIP() << bin() << " is not built";
    ::setenv("OMP_NUM_THREADS", "1", 1);
  }

  static std::vector<QuestionRow> questions() {
    return {{"How old is Nils?", "46", "age"},
            {"Where does Goran live?", "Oslo", "city"},
            {"What is Ada's job?", "pilot", "job"},
            {"What is 2 + 3?", "5", "add"}};
  }
  static std::string bin() { return std::string(SOG_BINARY_DIR) + "/bin/prompting"; }
  static std::string f(const std::string& name) { return (dir_ / name).string(); }
  sog::testing::CommandResult run(const std::string& args) { return run_command(bin(), args, dir_); }
  // `index build` of the library into IDX (windows of 16 tokens overlapping by 4), checked.
  void build_index(const std::string& idx, const std::string& extra = "") {
    const auto r = run("index build --docs " + f("library.txt") + " --tokenizer " + f("tok") + " --out " + f(idx) +
                       " --max-tokens 16 --overlap 4 " + extra);
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    const RagIndex index = load_rag_index(f(idx));
    EXPECT_NE(r.out.find("index: " + std::to_string(index.chunks.size()) + " chunks from 1 file(s)"), std::string::npos) << r.out;
  }
  std::string eval_args() const {
    return "eval --model " + f("m.bin") + " --tokenizer " + f("tok") + " --eval " + f("q.jsonl") + " --world " + f("world");
  }
  json eval_row(const std::string& extra) {
    const auto r = run(eval_args() + " " + extra + " --out " + f("row.json"));
    EXPECT_EQ(r.rc, 0) << extra << "\n" << r.out << r.err;
    return json::parse(read_file(f("row.json")));
  }

  static fs::path dir_;
};
fs::path PromptingRagCli::dir_;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_F(PromptingRagCli, IndexBuildAndQueryPrintTheRanking) {
  build_index("idx");
  const RagIndex index = load_rag_index(f("idx"));
  EXPECT_EQ(index.config["embed"], "bm25");
  EXPECT_EQ(index.config["chunking"], json({{"max_tokens", 16}, {"overlap_tokens", 4}}));
  for (const Chunk& c : index.chunks) EXPECT_LE(c.text.size(), 16u) << c.text;

  const std::string query = "Where does Goran live?";
  const auto r = run("index query --index " + f("idx") + " --tokenizer " + f("tok") + " --query " +
                     sog::testing::shell_quote(query) + " --k 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  std::unique_ptr<Retriever> bm25 = make_index_retriever(index, "bm25", nullptr, sog::testing::shared_byte_tokenizer());
  const std::vector<ScoredId> hits = bm25->top_k(query, 2);
  ASSERT_FALSE(hits.empty());
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), hits.size()) << r.out;
  for (size_t i = 0; i < hits.size(); i++) {
    const Chunk& c = index.chunks.at(static_cast<size_t>(hits[i].id));
    // "[1] library.txt #1 (0.830): Goran lives in"
    EXPECT_TRUE(lines[i].starts_with("[" + std::to_string(i + 1) + "] library.txt #" + std::to_string(c.document) + " ("))
        << lines[i];
    EXPECT_TRUE(lines[i].ends_with("): " + c.text)) << lines[i];
  }
  EXPECT_NE(lines[0].find("Goran"), std::string::npos);

  // An embedding index of the same documents; the query embeds with the model config.json names.
  build_index("eidx", "--embed mean --model " + f("m.bin") + " --vector-index flat");
  const RagIndex embedded = load_rag_index(f("eidx"));
  ASSERT_NE(embedded.vectors, nullptr);
  EXPECT_EQ(embedded.vectors->size(), static_cast<int64_t>(embedded.chunks.size()));
  const std::string own = embedded.chunks.at(1).text;
  const auto e = run("index query --index " + f("eidx") + " --tokenizer " + f("tok") + " --query " +
                     sog::testing::shell_quote(own) + " --k 1 --retriever embed");
  ASSERT_EQ(e.rc, 0) << e.err;
  EXPECT_TRUE(e.out.starts_with("[1] library.txt #" + std::to_string(embedded.chunks[1].document) + " (1.000): " + own))
      << "a chunk's own text finds it: " << e.out;
  // Embeddings asked of a bm25 index: refused, naming its config.
  const auto bad = run("index query --index " + f("idx") + " --tokenizer " + f("tok") + " --query x --retriever embed");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find(f("idx") + "/config.json: retriever 'embed' needs embeddings"), std::string::npos) << bad.err;
}

TEST_F(PromptingRagCli, EvalRagRowsClosedBookTopKAndOracle) {
  build_index("idx");
  const RagIndex index = load_rag_index(f("idx"));
  const std::vector<RagQuestion> facts = rag_questions(questions(), index.chunks, kPeople);
  ASSERT_EQ(facts.size(), 3u) << "the addition is not a fact question";
  // From the index itself: the chunks each setting stuffs, so the hit rate, the questions the oracle
  // can answer and the prompts' lengths (the chat format's tokens, the special ones one token each).
  const Tokenizer& tok = sog::testing::shared_byte_tokenizer();
  std::unique_ptr<Retriever> bm25 = make_index_retriever(index, "bm25", nullptr, tok);
  TechniqueOptions direct;
  direct.technique = Technique::direct;
  const EvalSpec spec = technique_spec(direct, 256);
  struct Case {
    std::string args, setting;
    int k;
    int n = 0, hits = 0;
    double prompt_tokens = 0;
  };
  std::vector<Case> cases = {{"--k 1", "k=1", 1}, {"--k 0", "closed-book", 0}, {"--oracle", "oracle", -1}};
  for (Case& c : cases) {
    for (const RagQuestion& q : facts) {
      std::vector<int64_t> ids;
      if (c.k > 0)
        for (const ScoredId& s : bm25->top_k(q.row.prompt, c.k)) ids.push_back(s.id);
      if (c.k < 0) {
        if (q.answering.empty()) continue;
        ids.push_back(q.answering.front());
      }
      std::vector<std::string> docs;
      for (int64_t id : ids) docs.push_back(index.chunks.at(static_cast<size_t>(id)).text);
      c.n++;
      c.hits += std::any_of(ids.begin(), ids.end(), [&](int64_t id) {
        return std::find(q.answering.begin(), q.answering.end(), id) != q.answering.end();
      });
      const std::string prompt = stuffed(q.row, docs, DocumentLayout::delimited).prompt;
      c.prompt_tokens += static_cast<double>(build_prompt(tok, spec.prompt, {}, prompt).ids.size());
    }
    c.prompt_tokens /= c.n;
  }
  ASSERT_GT(cases[2].n, 0) << "some chunk states an answer";
  EXPECT_EQ(cases[2].hits, cases[2].n) << "the oracle's chunk always answers";

  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const json row = eval_row("--technique rag --index " + f("idx") + " " + c.args);
    for (const char* key : {"technique", "accuracy", "accuracy_interval", "n", "per_task", "hallucination_rate", "hit_rate",
                            "setting", "k", "retriever", "layout", "prompts_cut", "tokens_per_question",
                            "prompt_tokens_per_question", "wall_time_s", "settings", "index", "model", "eval"})
      EXPECT_TRUE(row.contains(key)) << key << " in " << row.dump();
    EXPECT_EQ(row["technique"], "rag");
    EXPECT_EQ(row["setting"], c.setting);
    EXPECT_EQ(row["k"], c.k);
    EXPECT_EQ(row["n"], c.n);
    EXPECT_DOUBLE_EQ(row["hit_rate"].get<double>(), static_cast<double>(c.hits) / c.n);
    EXPECT_NEAR(row["prompt_tokens_per_question"].get<double>(), c.prompt_tokens, 1e-9);
    EXPECT_EQ(row["prompts_cut"], 0) << "maxT 256 holds every stuffed prompt";
    EXPECT_EQ(row["layout"], "delimited");
    EXPECT_EQ(row["retriever"], c.k > 0 ? json("bm25") : json(nullptr));
    EXPECT_EQ(row["index"], f("idx"));
    EXPECT_GT(row["tokens_per_question"].get<double>(), 0.0);
    EXPECT_LE(row["tokens_per_question"].get<double>(), spec.max_new_tokens) << "a direct answer: at most 24 new tokens";
    const double acc = row["accuracy"].get<double>(), halluc = row["hallucination_rate"].get<double>();
    EXPECT_GE(halluc, 0.0);
    EXPECT_LE(acc + halluc, 1.0 + 1e-12) << "a hallucination is a wrong answer";
    EXPECT_FALSE(row["per_task"].contains("add"));
  }
  EXPECT_GT(cases[0].prompt_tokens, cases[1].prompt_tokens + 62) << "the delimited layout's preamble alone is 62 bytes";

  // maxT 64: 40 tokens of room before the reply's 24. The question alone fits (about 20 tokens, its
  // chat markers one token each), a stuffed prompt does not: prompts_cut counts exactly those.
  {
    for (int k : {0, 1}) {
      const auto r = run("eval --model " + f("m64.bin") + " --tokenizer " + f("tok") + " --eval " + f("q.jsonl") +
                         " --world " + f("world") + " --technique rag --index " + f("idx") + " --k " + std::to_string(k) +
                         " --out " + f("row64.json"));
      ASSERT_EQ(r.rc, 0) << r.err;
      int cut = 0;
      for (const RagQuestion& q : facts) {
        std::vector<std::string> docs;
        if (k > 0)
          for (const ScoredId& s : bm25->top_k(q.row.prompt, k)) docs.push_back(index.chunks.at(static_cast<size_t>(s.id)).text);
        const std::string prompt = stuffed(q.row, docs, DocumentLayout::delimited).prompt;
        cut += build_prompt(tok, spec.prompt, {}, prompt).ids.size() > static_cast<size_t>(64 - spec.max_new_tokens);
      }
      EXPECT_EQ(cut, k == 0 ? 0 : 3) << "k " << k;
      EXPECT_EQ(json::parse(read_file(f("row64.json")))["prompts_cut"], cut) << "k " << k;
    }
  }
  // --technique rag without an index or without the people: a clear message, rc 1.
  for (const std::string& args : {eval_args() + " --technique rag",
                                  "eval --model " + f("m.bin") + " --tokenizer " + f("tok") + " --eval " + f("q.jsonl") +
                                      " --technique rag --index " + f("idx")}) {
    const auto r = run(args);
    EXPECT_EQ(r.rc, 1) << args;
    EXPECT_NE(r.err.find("--technique rag needs --index IDX (prompting index build) and --world DIR"), std::string::npos)
        << r.err;
  }
  const auto missing = run(eval_args() + " --technique rag --index " + f("no_such_index"));
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.err.find(f("no_such_index") + "/config.json: no such file"), std::string::npos) << missing.err;
}

TEST_F(PromptingRagCli, EvalToolsRowHasToolUse) {
  for (const std::string system : {"none", "tools"}) {
    SCOPED_TRACE(system);
    const json row = eval_row("--technique tools --system " + system + " --max-new-tokens 6");
    EXPECT_EQ(row["technique"], "tools");
    EXPECT_EQ(row["settings"]["system"], system);
    EXPECT_EQ(row["n"], 4);
    ASSERT_TRUE(row.contains("tool_use")) << row.dump();
    const json& t = row["tool_use"];
    for (const char* key : {"call_rate", "calls_per_question", "parse_rate", "right_call_rate", "accuracy_when_call_right",
                            "accuracy_without_call", "per_task"})
      EXPECT_TRUE(t.contains(key)) << key;
    ASSERT_TRUE(t["call_rate"].is_number()) << "four questions: a rate, not null";
    EXPECT_GE(t["call_rate"].get<double>(), 0.0);
    EXPECT_LE(t["call_rate"].get<double>(), 1.0);
    EXPECT_GE(t["calls_per_question"].get<double>(), 0.0);
    EXPECT_LE(t["right_call_rate"].get<double>(), t["call_rate"].get<double>());
    ASSERT_EQ(t["per_task"].size(), 4u);
    for (const char* task : {"age", "city", "job", "add"}) EXPECT_EQ(t["per_task"][task]["n"], 1) << task;
  }
  // prompts_cut counts the prompts longer than the room the reply leaves, in the ids the model reads.
  TechniqueOptions o;
  o.technique = Technique::tools;
  o.system = "none";
  o.max_new_tokens = 24;
  const EvalSpec spec = technique_spec(o, 64);
  int cut = 0;
  for (const QuestionRow& q : questions())
    cut += build_prompt(sog::testing::shared_byte_tokenizer(), spec.prompt, {}, q.prompt).ids.size() >
           static_cast<size_t>(64 - spec.max_new_tokens);
  EXPECT_EQ(cut, 0) << "a question alone fits";
  const auto r = run("eval --model " + f("m64.bin") + " --tokenizer " + f("tok") + " --eval " + f("q.jsonl") + " --world " +
                     f("world") + " --technique tools --system none --max-new-tokens 24 --out " + f("row64.json"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(read_file(f("row64.json")))["prompts_cut"], cut);
}

TEST_F(PromptingRagCli, ChatShowsWhatItRetrieved) {
  build_index("idx");
  const RagIndex index = load_rag_index(f("idx"));
  const auto r = run("chat --model " + f("m.bin") + " --tokenizer " + f("tok") + " --prompt hello --index " + f("idx") +
                     " --k 1 --max-new-tokens 4");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  // bm25 finds the one chunk with "hello".
  size_t hello = index.chunks.size();
  for (size_t i = 0; i < index.chunks.size(); i++)
    if (index.chunks[i].text.find("hello") != std::string::npos && hello == index.chunks.size()) hello = i;
  ASSERT_LT(hello, index.chunks.size());
  const size_t retrieved = r.out.find("[retrieved] [1] library.txt #2 (");
  ASSERT_NE(retrieved, std::string::npos) << r.out;
  const size_t line_end = r.out.find('\n', retrieved);
  EXPECT_EQ(r.out.substr(line_end - index.chunks[hello].text.size(), index.chunks[hello].text.size()), index.chunks[hello].text);
  const size_t assistant = r.out.find("assistant:");
  ASSERT_NE(assistant, std::string::npos) << r.out;
  EXPECT_GT(assistant, retrieved) << "the chunks are shown before the reply";
  EXPECT_EQ(r.out.find("[retrieved] [2]"), std::string::npos) << "--k 1";
}
