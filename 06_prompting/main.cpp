// 06_prompting — the talk's second half: how to use the models.
//
// "Transformers need tokens to think", "sample several times and vote", "you have to ask for the
// good one": each technique is a way of building the prompt or of spending more samples, measured
// on the world's held-out questions with the pipeline's base, SFT and PPO models.
//
//   bin/prompting eval  --model M --tokenizer DIR --technique T --eval F.jsonl --out F.json
//                       [--shots K] [--samples N --temperature τ --cot] [--persona expert|student|none]
//                       [--tries R --repeats K]   (reflect)
//                       [--system tools|none|TEXT --world DIR]   (tools: the calculator and lookup)
//                       [--index IDX --world DIR --k K | --oracle --retriever bm25|embed|hybrid
//                        --layout delimited|plain]   (rag)
//   bin/prompting index build --docs F [--docs F …] --out IDX [--embed bm25|mean|last --model M
//                       --vector-index flat|hnsw] --tokenizer DIR
//   bin/prompting index query --index IDX --tokenizer DIR --query TEXT [--k K --retriever R --model M]
//   bin/prompting chat  --model M --tokenizer DIR [--tools --world DIR] [--index IDX --k K]
//   bin/prompting table --base B --sft S [--ppo P] --tokenizer DIR --eval F.jsonl --shots-from F.jsonl
//                       [--constraint-eval F.jsonl] [--tools-eval F.jsonl --world DIR --index IDX] --out DIR
//
//   reads:   models (a checkpoint, a run folder or a model folder), the tokenizer, question JSONL
//            {prompt, answer, task} (the world's eval_test.jsonl; eval_val.jsonl for examples)
//   writes:  eval  → one row as JSON (techniques.h's contract)
//            table → DIR/summary.json (every row), DIR/fewshot.svg, DIR/self_consistency.svg,
//                    DIR/reflection.svg (the stage script writes DIR/report.md from summary.json)
#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/retrieval/rag.h"
#include "06_prompting/reflection.h"
#include "06_prompting/serve.h"
#include "common/eval/tool_use.h"
#include "common/chat/chat_repl.h"
#include "06_prompting/thought_search.h"
#include "common/eval/techniques.h"
#include "common/eval/generate_answers.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/io/progress.h"
#include "common/io/svg_plot.h"
#include "common/nn/load_model.h"
#include "common/reward/reward_model.h"
#include "common/world/people_file.h"
#include "common/world/question_set.h"

using namespace sog;
namespace fs = std::filesystem;
using json = nlohmann::json;

// One technique on one model: the report, the tokens it generated, its wall time, and the row.
struct Measured {
  EvalReport report;
  int64_t tokens = 0;
  json row;
};

// people: lookup's table when the technique runs tools.
static Measured measure(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                        const ShotPool& pool, const TechniqueOptions& o, std::span<const Person> people = {}) {
  MeasuredRun run = run_measured(model, tok, questions, pool, technique_spec(o, model.config().max_T), people);
  Measured m{std::move(run.report), run.tokens, {}};
  m.row = technique_row(o, m.report, m.tokens, run.wall_s);
  m.row["prompts_cut"] = run.prompts_cut;  // where the context runs out
  if (o.technique == Technique::tools) m.row["tool_use"] = tool_use_json(m.report, people);
  return m;
}

// A RAG row on one model: the fact questions of `rows` stuffed with the top k chunks of the index
// (k = 0: closed-book, k < 0: the oracle chunk).
static json measure_rag(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& rows, const RagIndex& index,
                        const std::vector<Person>& people, int k, const RagOptions& o, GPT* embedder) {
  const std::vector<RagQuestion> questions = rag_questions(rows, index.chunks, people);
  std::unique_ptr<Retriever> retriever;
  if (k > 0) retriever = make_index_retriever(index, o.retriever, embedder, tok);
  return rag_row(model, tok, questions, index.chunks, retriever.get(), k, o);
}

struct EvalConfig {
  std::string model_path, tokenizer_dir, eval_path, shots_from, out_path, reward_path;
  std::string world_dir, index_dir, layout = "delimited", retriever = "bm25";
  int k = 3;
  bool oracle = false;
  TechniqueOptions technique;
  ThoughtEvalOptions thoughts;
  ReflectionEvalOptions reflection;
  std::string technique_name = "direct";
};

static int run_eval(EvalConfig c) {
  const bool tot = c.technique_name == "tot", reflect = c.technique_name == "reflect", rag = c.technique_name == "rag";
  if (!tot && !reflect && !rag) c.technique.technique = technique_from_name(c.technique_name);
  if (rag && (c.index_dir.empty() || c.world_dir.empty()))
    throw std::invalid_argument("--technique rag needs --index IDX (prompting index build) and --world DIR (its people)");
  Tokenizer tok = Tokenizer::load(c.tokenizer_dir);
  LoadedModel m = load_model(c.model_path, "", tok, c.tokenizer_dir);
  const std::vector<QuestionRow> questions = first_per_task(read_question_rows(c.eval_path), c.technique.max_per_task);
  const ShotPool pool(read_question_rows(c.shots_from.empty() ? c.eval_path : c.shots_from));
  Measured r;
  if (tot) {
    LoadedModel rm;
    if (!c.reward_path.empty()) rm = load_reward_model(c.reward_path, tok, c.tokenizer_dir, false);
    c.thoughts.seed = c.technique.seed;
    r.row = evaluate_tree_of_thoughts(*m.model, tok, questions, c.thoughts, c.reward_path.empty() ? nullptr : &rm);
  } else if (reflect) {
    ReflectionEvalOptions& ro = c.reflection;
    ro.temperature = c.technique.temperature, ro.cot = c.technique.cot, ro.seed = c.technique.seed;
    ro.max_new_tokens = c.technique.max_new_tokens;
    r.row = evaluate_reflection(*m.model, tok, questions, ro);
  } else if (rag) {
    const RagIndex index = load_rag_index(c.index_dir);
    RagOptions o{c.retriever, layout_from_name(c.layout), c.technique.seed};
    LoadedModel embedder = load_index_embedder(index, c.retriever, tok, c.tokenizer_dir);
    r.row = measure_rag(*m.model, tok, questions, index, world_people(c.world_dir), c.oracle ? -1 : c.k, o,
                        embedder.model.get());
    r.row["technique"] = "rag";
    r.row["index"] = c.index_dir;
    r.row["settings"] = {{"k", r.row["k"]}, {"retriever", r.row["retriever"]}, {"layout", c.layout}};
  } else {
    r = measure(*m.model, tok, questions, pool, c.technique, world_people(c.world_dir));
  }
  r.row["model"] = c.model_path;
  r.row["eval"] = c.eval_path;
  std::printf("| %s | %s | %.3f | %.2f–%.2f | %d | %.1f | %.1f s |\n", r.row["technique"].get<std::string>().c_str(),
              r.row["settings"].dump().c_str(), r.row["accuracy"].get<double>(),
              r.row["accuracy_interval"][0].get<double>(), r.row["accuracy_interval"][1].get<double>(),
              r.row["n"].get<int>(), r.row["tokens_per_question"].get<double>(), r.row["wall_time_s"].get<double>());
  if (!c.out_path.empty()) write_file_atomic(c.out_path, r.row.dump(2) + "\n");
  return 0;
}

// ---------------------------------------------------------------------------------------------
// index build | query, chat

struct IndexConfig {
  IndexBuildOptions build;
  std::string tokenizer_dir, out_dir, index_dir, query, retriever = "bm25";
  int k = 3;
};

static int run_index_build(const IndexConfig& c) {
  Tokenizer tok = Tokenizer::load(c.tokenizer_dir);
  LoadedModel m;
  if (c.build.embed != "bm25" && !c.build.model_path.empty()) m = load_model(c.build.model_path, "", tok, c.tokenizer_dir);
  const double t0 = steady_seconds();
  const json config = build_rag_index(c.build, tok, m.model.get(), c.out_dir);
  std::printf("index: %lld chunks from %zu file(s), %s%s → %s (%.1f s)\n", config["chunks"].get<long long>(),
              c.build.sources.size(), c.build.embed.c_str(),
              config["vector_index"].is_null() ? "" : (" in a " + config["vector_index"].get<std::string>() + " index").c_str(),
              c.out_dir.c_str(), steady_seconds() - t0);
  return 0;
}

static int run_index_query(const IndexConfig& c) {
  Tokenizer tok = Tokenizer::load(c.tokenizer_dir);
  LoadedRetriever r(c.index_dir, c.retriever, tok, c.tokenizer_dir);
  int rank = 1;
  for (const ScoredId& s : r.retriever().top_k(c.query, c.k)) std::printf("%s\n", retrieved_line(r.index(), s, rank++).c_str());
  return 0;
}

struct PromptingChat {
  ChatOptions chat;
  MessageRetrievalOptions retrieval;
};

// --index --k --retriever --layout, for `chat` and `serve`.
static void add_retrieval_options(CLI::App* command, MessageRetrievalOptions& r, const std::string& index_help) {
  command->add_option("--index", r.index_dir, index_help);
  command->add_option("--k", r.k, "chunks retrieved per message")->capture_default_str();
  command->add_option("--retriever", r.retriever, "bm25 | embed | hybrid")->capture_default_str();
  command->add_option("--layout", r.layout, "delimited | plain")->capture_default_str();
}

// `sft chat`'s REPL; with --index each message is first sent to the retriever, the chunks found
// are printed as "[retrieved] …" lines, and the model reads them stuffed around the message.
static int run_prompting_chat(PromptingChat c) {
  const Tokenizer tok = Tokenizer::load(c.chat.tokenizer);
  std::optional<LoadedRetriever> rag;
  const MessageRetrievalOptions& r = c.retrieval;
  if (!r.index_dir.empty()) {
    rag.emplace(r.index_dir, r.retriever, tok, c.chat.tokenizer);
    const DocumentLayout layout = layout_from_name(r.layout);
    c.chat.user_message = [&rag, k = r.k, layout](const std::string& line) {
      StuffedMessage stuffed = retrieve_and_stuff(rag->index(), rag->retriever(), line, k, layout);
      int rank = 1;
      for (const ScoredId& s : stuffed.found) std::printf("[retrieved] %s\n", retrieved_line(rag->index(), s, rank++).c_str());
      std::fflush(stdout);
      return stuffed.message;
    };
  }
  return run_chat(c.chat);
}

// ---------------------------------------------------------------------------------------------
// table

struct TableConfig {
  std::string base_path, sft_path, ppo_path, tokenizer_dir, eval_path, shots_from, constraint_path, out_dir;
  std::string tools_eval_path, world_dir, index_dir, embed_index_dir;
  int max_per_task = 12;
  int tries = 4;            // reflection: attempts per question at most
  int constraint_repeats = 4;  // reflection on the constraint task: each request asked this many times
  int arith_per_task = 40;  // self-consistency and the personas: arithmetic questions per task
  int tot_per_task = 15;    // tree of thoughts: arithmetic questions per task (the first of the above)
  int sc_samples = 17;
  int tools_per_task = 0;   // tool rows: questions per task of the tool questions (0: all)
  int rag_per_task = 0;     // RAG and injection rows: fact questions per task (0: all)
  float temperature = 0.7f;
  uint64_t seed = 1337;
};

static const std::vector<std::string> kSingleTokenHard = {"reverse", "sort", "palindrome", "mul"};
static const std::vector<std::string> kArithmetic = {"add", "sub", "mul"};

static std::vector<QuestionRow> of_tasks(const std::vector<QuestionRow>& rows, const std::vector<std::string>& tasks) {
  std::vector<QuestionRow> out;
  for (const auto& r : rows)
    if (std::find(tasks.begin(), tasks.end(), r.task) != tasks.end()) out.push_back(r);
  if (out.empty()) throw std::runtime_error("the question set has no question of the tasks the row needs");
  return out;
}

// Accuracy over the questions of `tasks` in a row (per_task's counts, summed).
static double accuracy_on(const json& row, const std::vector<std::string>& tasks) {
  double correct = 0, n = 0;
  for (const auto& t : tasks) {
    if (!row["per_task"].contains(t)) continue;
    const json& r = row["per_task"][t];
    correct += r["accuracy"].get<double>() * r["n"].get<double>();
    n += r["n"].get<double>();
  }
  return n > 0 ? correct / n : 0.0;
}

static int run_table(const TableConfig& c) {
  Tokenizer tok = Tokenizer::load(c.tokenizer_dir);
  const std::vector<QuestionRow> every = read_question_rows(c.eval_path);
  const std::vector<QuestionRow> all = first_per_task(every, c.max_per_task);
  const std::vector<QuestionRow> arith = of_tasks(first_per_task(every, c.arith_per_task), kArithmetic);
  const ShotPool pool(read_question_rows(c.shots_from.empty() ? c.eval_path : c.shots_from));
  fs::create_directories(c.out_dir);
  json summary = {{"eval", c.eval_path}, {"max_per_task", c.max_per_task}, {"arith_per_task", c.arith_per_task}, {"tot_per_task", c.tot_per_task}, {"models", {{"base", c.base_path},
                  {"sft", c.sft_path}, {"ppo", c.ppo_path}}}};
  auto base_opts = [&](Technique t) {
    TechniqueOptions o;
    o.technique = t, o.seed = c.seed, o.temperature = c.temperature;
    return o;
  };
  auto report_line = [](const char* what, const json& row) {
    std::fprintf(stderr, "prompting: %s: %.3f (%d questions, %.1f tokens each)\n", what, row["accuracy"].get<double>(),
                 row["n"].get<int>(), row["tokens_per_question"].get<double>());
  };

  // 1. few-shot on the base model: k solved examples
  {
    LoadedModel base = load_model(c.base_path, "", tok, c.tokenizer_dir);
    SvgPlot plot("few-shot: the base model's accuracy against k", "k solved examples in the prompt", "accuracy");
    std::vector<double> ks, acc;
    for (int k : {0, 1, 2, 4, 8}) {
      TechniqueOptions o = base_opts(Technique::fewshot);
      o.shots = k;
      Measured m = measure(*base.model, tok, all, pool, o);
      report_line(("few-shot k=" + std::to_string(k)).c_str(), m.row);
      summary["fewshot"].push_back(m.row);
      ks.push_back(k), acc.push_back(m.row["accuracy"].get<double>());
    }
    plot.add_series("all tasks", ks, acc);
    plot.save(c.out_dir + "/fewshot.svg");
    // 4. asking for an expert: the base model's worked arithmetic, by who is said to solve
    for (const char* persona : {"expert", "student", "none"}) {
      TechniqueOptions o = base_opts(Technique::expert);
      o.persona = persona;
      Measured m = measure(*base.model, tok, arith, pool, o);
      report_line((std::string("persona ") + persona).c_str(), m.row);
      summary["persona"][persona] = m.row;
    }
  }
  // 2. direct vs chain of thought on the assistant(s)
  std::vector<std::pair<std::string, std::string>> assistants = {{"sft", c.sft_path}};
  if (!c.ppo_path.empty()) assistants.push_back({"ppo", c.ppo_path});
  for (const auto& [name, path] : assistants) {
    LoadedModel m = load_model(path, "", tok, c.tokenizer_dir);
    for (Technique t : {Technique::direct, Technique::cot}) {
      Measured r = measure(*m.model, tok, all, pool, base_opts(t));
      report_line((name + " " + technique_name(t)).c_str(), r.row);
      summary["cot"][name][technique_name(t)] = r.row;
    }
    if (name != "sft") continue;
    // 3. self-consistency on the assistant's arithmetic: N samples once, the vote of the first n
    SvgPlot by_n("self-consistency: majority vote of n samples (arithmetic)", "n samples", "accuracy");
    SvgPlot by_tokens("the same against the tokens spent per question", "tokens generated per question", "accuracy");
    std::vector<int> ns;
    for (int n : {1, 3, 5, 9, 17})
      if (n <= c.sc_samples) ns.push_back(n);
    EvalReport cot_samples;  // the step-by-step samples, for the comparison with tree of thoughts
    double cot_per_sample = 0;
    for (bool cot : {false, true}) {
      TechniqueOptions o = base_opts(Technique::self_consistency);
      o.samples = c.sc_samples, o.cot = cot;
      Measured r = measure(*m.model, tok, arith, pool, o);
      const double per_sample = r.row["tokens_per_question"].get<double>() / c.sc_samples;
      if (cot) cot_samples = r.report, cot_per_sample = per_sample;
      const json curve = vote_curve(r.report, ns, per_sample);
      summary["self_consistency"][cot ? "cot" : "direct"] = curve;
      std::vector<double> x, t, y;
      for (const json& p : curve) {
        x.push_back(p["samples"].get<double>());
        t.push_back(p["tokens_per_question"].get<double>());
        y.push_back(p["accuracy"].get<double>());
      }
      by_n.add_series(cot ? "step by step" : "direct", x, y);
      by_tokens.add_series(cot ? "step by step" : "direct", t, y);
      report_line(cot ? "self-consistency (cot)" : "self-consistency", curve.back());
    }
    // 5. tree of thoughts on the same questions: breadth 3, width 2, judged by the model itself
    ThoughtEvalOptions to;
    to.seed = c.seed, to.temperature = c.temperature;
    summary["tot"] = evaluate_tree_of_thoughts(*m.model, tok, first_per_task(arith, c.tot_per_task), to);
    // Self-consistency with step by step on the same questions: the same tokens, spent on votes.
    std::map<std::string, int> taken;
    std::vector<QuestionResult> same;
    for (const QuestionResult& q : cot_samples.questions)
      if (taken[q.question.task]++ < c.tot_per_task) same.push_back(q);
    cot_samples.questions = std::move(same);
    summary["tot_questions_self_consistency"] = vote_curve(cot_samples, ns, cot_per_sample);
    report_line("tree of thoughts", summary["tot"]);
    by_tokens.add_series("tree of thoughts (b 3, w 2)", {summary["tot"]["tokens_per_question"].get<double>()},
                         {summary["tot"]["accuracy"].get<double>()});
    save_grid(c.out_dir + "/self_consistency.svg", {by_n, by_tokens}, 2, 520, 360);

    // 6. reflection: each attempt checked by the model itself, a "no" sends it back (up to R tries)
    ReflectionEvalOptions ro;
    ro.tries = c.tries, ro.temperature = c.temperature, ro.seed = c.seed;
    std::vector<std::pair<std::string, std::vector<QuestionRow>>> sets = {{"all", all}};
    if (!c.constraint_path.empty()) sets.push_back({"constraint", read_question_rows(c.constraint_path)});
    SvgPlot by_tries("reflection: accuracy after up to R tries (the SFT assistant)", "R tries", "accuracy");
    for (const auto& [set, rows] : sets) {
      ro.repeats = set == "constraint" ? c.constraint_repeats : 1;
      summary["reflection"][set] = evaluate_reflection(*m.model, tok, rows, ro);
      report_line(("reflection (" + set + ")").c_str(), summary["reflection"][set]);
      std::vector<double> x, y, oracle;
      for (const json& p : summary["reflection"][set]["tries"]) {
        x.push_back(p["tries"].get<double>());
        y.push_back(p["accuracy"].get<double>());
        oracle.push_back(p["oracle_accuracy"].get<double>());
      }
      by_tries.add_series(set + ": its own check", x, y);
      by_tries.add_series(set + ": a perfect check", x, oracle);
    }
    by_tries.save(c.out_dir + "/reflection.svg");
  }

  // 7. tools: the calculator and lookup run inside generation, on multiplications, large additions
  //    and held-out people's facts
  static const std::vector<std::string> kFacts = {"age", "city", "job", "pet", "color", "hobby"};
  if (!c.tools_eval_path.empty()) {
    const std::vector<QuestionRow> questions = first_per_task(read_question_rows(c.tools_eval_path), c.tools_per_task);
    const std::vector<Person> people = world_people(c.world_dir);
    for (const auto& [name, path] : assistants) {
      LoadedModel m = load_model(path, "", tok, c.tokenizer_dir);
      std::vector<std::pair<std::string, TechniqueOptions>> settings = {{"no tools", base_opts(Technique::direct)}};
      TechniqueOptions o = base_opts(Technique::tools);
      o.system = "none";
      if (name == "sft") settings.push_back({"runtime, no system prompt", o});
      o.system = "tools";
      settings.push_back({"tools prompt", o});
      o.system = std::string(mental_arithmetic_prompt);
      if (name == "sft") settings.push_back({"mental-arithmetic prompt", o});
      for (const auto& [setting, opts] : settings) {
        Measured r = measure(*m.model, tok, questions, pool, opts, people);
        r.row["setting"] = setting;
        r.row["facts_accuracy"] = accuracy_on(r.row, kFacts);
        report_line((name + " " + setting).c_str(), r.row);
        summary["tools"][name].push_back(r.row);
      }
    }
  }
  // 8. retrieval-augmented generation and prompt injection, on held-out people's facts
  if (!c.index_dir.empty()) {
    const RagIndex index = load_rag_index(c.index_dir);
    const std::vector<Person> people = world_people(c.world_dir);
    const std::vector<QuestionRow> facts = first_per_task(every, c.rag_per_task);
    const std::vector<RagQuestion> questions = rag_questions(facts, index.chunks, people);
    // Retrieval alone: is a chunk that states the answer among the top k?
    std::vector<std::string> asked;
    std::vector<std::vector<int64_t>> answering;
    for (const RagQuestion& q : questions)
      if (!q.answering.empty()) asked.push_back(q.row.prompt), answering.push_back(q.answering);
    const std::vector<int64_t> ks = {1, 3, 5};
    std::vector<std::tuple<std::string, const RagIndex*, std::string>> retrievers = {{"bm25", &index, "bm25"}};
    RagIndex embedded;
    LoadedModel embedder;
    if (!c.embed_index_dir.empty()) {
      embedded = load_rag_index(c.embed_index_dir);
      embedder = load_index_embedder(embedded, "embed", tok, c.tokenizer_dir);
      const std::string label = embedded.config["embed"].get<std::string>() + "-pooled " +
                                fs::path(embedded.config["model"].get<std::string>()).parent_path().filename().string();
      retrievers.push_back({"embed (" + label + ")", &embedded, "embed"});
      retrievers.push_back({"hybrid (bm25 + " + label + ")", &embedded, "hybrid"});
    }
    for (const auto& [label, idx, mode] : retrievers) {
      std::unique_ptr<Retriever> r = make_index_retriever(*idx, mode, embedder.model.get(), tok);
      const std::vector<double> recall = recall_at_k(asked, answering, *r, ks);
      summary["retrieval"].push_back({{"retriever", label}, {"k", ks}, {"recall", recall}, {"questions", asked.size()},
                                      {"chunks", idx->chunks.size()}});
    }
    summary["retrieval_questions"] = {{"facts", questions.size()}, {"with_answering_chunk", asked.size()}};
    for (const auto& [name, path] : assistants) {
      LoadedModel m = load_model(path, "", tok, c.tokenizer_dir);
      const RagOptions o{"bm25", DocumentLayout::delimited, c.seed};
      std::unique_ptr<Retriever> bm25 = make_index_retriever(index, "bm25", nullptr, tok);
      for (int k : {0, 1, 3, -1}) {
        const json row = rag_row(*m.model, tok, questions, index.chunks, bm25.get(), k, o);
        report_line((name + " rag " + row["setting"].get<std::string>()).c_str(), row);
        summary["rag"][name].push_back(row);
      }
      if (name == "sft" && !c.embed_index_dir.empty()) {
        const std::vector<RagQuestion> on_embedded = rag_questions(facts, embedded.chunks, people);
        for (const char* mode : {"embed", "hybrid"}) {
          std::unique_ptr<Retriever> r = make_index_retriever(embedded, mode, embedder.model.get(), tok);
          json row = rag_row(*m.model, tok, on_embedded, embedded.chunks, r.get(), 3, {mode, DocumentLayout::delimited, c.seed});
          report_line(("sft rag k=3 " + std::string(mode)).c_str(), row);
          summary["rag_retrievers"].push_back(row);
        }
      }
      summary["injection"][name] = injection_rows(*m.model, tok, questions, index.chunks, c.seed);
      for (const json& row : summary["injection"][name])
        std::fprintf(stderr, "prompting: %s injection, %s: obeyed %.3f, accuracy %.3f (clean %.3f)\n", name.c_str(),
                     row["layout"].get<std::string>().c_str(), row["obey_rate"].get<double>(),
                     row["accuracy"].get<double>(), row["clean_accuracy"].get<double>());
    }
  }

  // The claims, computed from the rows.
  const json& sft_direct = summary["cot"]["sft"]["direct"];
  const json& sft_cot = summary["cot"]["sft"]["cot"];
  const double d = accuracy_on(sft_direct, kSingleTokenHard), w = accuracy_on(sft_cot, kSingleTokenHard);
  summary["claims"]["chain_of_thought"] = {{"tasks", kSingleTokenHard}, {"direct", d}, {"cot", w},
                                          {"target", "cot ≥ direct + 0.10"}, {"met", w >= d + 0.10}};
  const json& sc = summary["self_consistency"]["direct"];
  double n1 = sc.front()["accuracy"].get<double>(), n9 = n1;
  for (const json& p : sc)
    if (p["samples"].get<int>() == 9) n9 = p["accuracy"].get<double>();
  summary["claims"]["self_consistency"] = {{"n1", n1}, {"n9", n9}, {"target", "N = 9 ≥ N = 1 + 0.05"},
                                           {"met", n9 >= n1 + 0.05}};
  const double ex = summary["persona"]["expert"]["accuracy"].get<double>();
  const double st = summary["persona"]["student"]["accuracy"].get<double>();
  summary["claims"]["expert"] = {{"expert", ex}, {"student", st}, {"target", "expert ≥ student + 0.05"},
                                 {"met", ex >= st + 0.05}};
  for (const auto& [set, r] : summary["reflection"].items()) {
    summary["claims"]["reflection"][set] = {
        {"first_attempt", r["first_attempt"]}, {"with_check", r["accuracy"]}, {"tries", c.tries},
        {"perfect_check", r["tries"].back()["oracle_accuracy"]}, {"check_agreement", r["check"]["agreement"]},
        {"check_auc", r["check"]["auc"]}, {"target", "measured (no target)"}};
  }
  if (summary.contains("tools")) {
    const json* with = nullptr;
    for (const json& row : summary["tools"]["sft"])
      if (row["setting"] == "tools prompt") with = &row;
    const double without = accuracy_on(summary["tools"]["sft"][0], {"mul"}), calc = accuracy_on(*with, {"mul"});
    summary["claims"]["tools"] = {{"mul_without", without}, {"mul_with_calculator", calc},
                                  {"target", "mul with the calculator ≥ 0.80"}, {"met", calc >= 0.80}};
  }
  if (summary.contains("rag")) {
    double closed = 0, best = 0, oracle = 0;
    for (const json& row : summary["rag"]["sft"]) {
      const int k = row["k"].get<int>();
      const double a = row["accuracy"].get<double>();
      if (k == 0) closed = a;
      if (k > 0) best = std::max(best, a);
      if (k < 0) oracle = a;
    }
    summary["claims"]["rag"] = {{"closed_book", closed}, {"rag_best", best}, {"oracle", oracle},
                                {"target", "RAG ≥ 0.60 on held-out facts"}, {"met", best >= 0.60}};
  }
  write_json_atomic(c.out_dir + "/summary.json", summary);
  std::printf("prompting table → %s/summary.json\n", c.out_dir.c_str());
  return 0;
}

int main(int argc, char** argv) {
  CLI::App app{"06_prompting: few-shot, chain of thought, self-consistency, asking for an expert, tree of thoughts, "
               "reflection — each measured"};
  app.require_subcommand(1);

  EvalConfig ec;
  auto* eval = app.add_subcommand("eval", "one technique on one model: a row of the table as JSON");
  eval->add_option("--model", ec.model_path, "a checkpoint, run folder or model folder")->required();
  eval->add_option("--tokenizer", ec.tokenizer_dir, "tokenizer folder")->required();
  eval->add_option("--technique", ec.technique_name, "fewshot | direct | cot | self-consistency | expert | tools | tot | reflect | rag")->capture_default_str();
  eval->add_option("--eval", ec.eval_path, "JSONL of {prompt, answer, task} (the world's eval_test.jsonl)")->required();
  eval->add_option("--shots-from", ec.shots_from, "JSONL the few-shot examples come from (default: --eval)");
  eval->add_option("--shots", ec.technique.shots, "fewshot: solved examples in the prompt")->capture_default_str();
  eval->add_option("--samples", ec.technique.samples, "self-consistency: samples per question")->capture_default_str();
  eval->add_option("--temperature", ec.technique.temperature, "self-consistency, reflect: sampling temperature")->capture_default_str();
  eval->add_flag("--cot", ec.technique.cot, "self-consistency, reflect: each sample works step by step");
  eval->add_option("--tries", ec.reflection.tries, "reflect: attempts per question at most (a \"no\" asks again)")->capture_default_str();
  eval->add_option("--repeats", ec.reflection.repeats, "reflect: each question asked this many times")->capture_default_str();
  eval->add_option("--persona", ec.technique.persona, "expert: expert | student | none")->capture_default_str();
  eval->add_option("--max-per-task", ec.technique.max_per_task, "0: every question")->capture_default_str();
  eval->add_option("--max-new-tokens", ec.technique.max_new_tokens, "0: 24 direct, 64 worked")->capture_default_str();
  eval->add_option("--seed", ec.technique.seed)->capture_default_str();
  eval->add_option("--breadth", ec.thoughts.search.breadth, "tot: candidate next lines per partial solution")->capture_default_str();
  eval->add_option("--width", ec.thoughts.search.width, "tot: partial solutions kept per step")->capture_default_str();
  eval->add_option("--max-depth", ec.thoughts.search.max_depth, "tot: lines at most")->capture_default_str();
  eval->add_option("--judge", ec.thoughts.judge, "tot: logprob (the model's own) | rm (a reward model)")->capture_default_str();
  eval->add_option("--reward-model", ec.reward_path, "tot --judge rm: chapter 04's reward model folder");
  eval->add_option("--system", ec.technique.system, "tools: the system message — tools (the world's tools prompt) | none | TEXT")->capture_default_str();
  eval->add_option("--world", ec.world_dir, "tools: lookup's people; rag: the people the questions name (people.jsonl)");
  eval->add_option("--index", ec.index_dir, "rag: an index folder (prompting index build)");
  eval->add_option("--k", ec.k, "rag: chunks stuffed into the prompt (0: closed-book)")->capture_default_str();
  eval->add_flag("--oracle", ec.oracle, "rag: stuff the chunk that states the answer (the upper bound)");
  eval->add_option("--retriever", ec.retriever, "rag: bm25 | embed | hybrid")->capture_default_str();
  eval->add_option("--layout", ec.layout, "rag: delimited | plain (documents.h)")->capture_default_str();
  eval->add_option("--out", ec.out_path, "the row as JSON");

  IndexConfig ic;
  auto* index = app.add_subcommand("index", "retrieval's index: chunk, embed, store (build); retrieve (query)");
  index->require_subcommand(1);
  auto* build = index->add_subcommand("build", "chunk documents, embed them (or not: bm25) and write an index folder");
  build->add_option("--docs", ic.build.sources, "a file of <|endoftext|>-separated documents (repeatable)")->required();
  build->add_option("--tokenizer", ic.tokenizer_dir, "tokenizer folder (chunks are counted in tokens)")->required();
  build->add_option("--out", ic.out_dir, "the index folder")->required();
  build->add_option("--max-tokens", ic.build.max_tokens, "tokens per chunk at most (0: one chunk per document)")->capture_default_str();
  build->add_option("--overlap", ic.build.overlap_tokens, "tokens consecutive chunks share")->capture_default_str();
  build->add_option("--embed", ic.build.embed, "bm25 | mean | last (the model's pooled hidden states)")->capture_default_str();
  build->add_option("--model", ic.build.model_path, "the embedding model (--embed mean|last)");
  build->add_option("--vector-index", ic.build.vector_index, "flat | hnsw")->capture_default_str();
  build->add_option("--M", ic.build.hnsw.M, "hnsw: neighbours per node")->capture_default_str();
  build->add_option("--ef-construction", ic.build.hnsw.ef_construction, "hnsw: beam width while inserting")->capture_default_str();
  build->add_option("--ef-search", ic.build.hnsw.ef_search, "hnsw: beam width of a query")->capture_default_str();
  auto* query = index->add_subcommand("query", "the top k chunks for a query");
  query->add_option("--index", ic.index_dir, "the index folder")->required();
  query->add_option("--tokenizer", ic.tokenizer_dir, "tokenizer folder")->required();
  query->add_option("--query", ic.query, "the text to search for")->required();
  query->add_option("--k", ic.k, "chunks to return")->capture_default_str();
  query->add_option("--retriever", ic.retriever, "bm25 | embed | hybrid (embed, hybrid: the index's model embeds the query)")->capture_default_str();

  PromptingChat pc;
  pc.chat.sampling = {0.0f, 0, 1.0f};
  auto* chat = app.add_subcommand("chat", "talk to a model: tools run as it writes, retrieved chunks are shown and stuffed");
  add_chat_options(chat, pc.chat);
  add_retrieval_options(chat, pc.retrieval, "retrieve from this index folder for every message");

  ServeConfig sc;
  auto* serve = app.add_subcommand("serve", "the model behind OpenAI's HTTP API (/v1/chat/completions, /v1/completions) and a web chat at /");
  serve->add_option("--model", sc.model, "a checkpoint, run folder or model folder")->required();
  serve->add_option("--lora", sc.lora, "a LoRA adapter to attach");
  serve->add_option("--tokenizer", sc.tokenizer, "tokenizer folder")->required();
  serve->add_option("--name", sc.name, "the model id clients name (default: the model's folder name)");
  serve->add_option("--system", sc.system, "a system message for chats that bring none (default with --tools: the world's tools prompt)");
  serve->add_flag("--tools", sc.tools, "run the model's tool calls (calc, lookup) as it writes");
  serve->add_option("--world", sc.world, "lookup's people (a world folder)");
  add_retrieval_options(serve, sc.retrieval, "retrieve from this index folder for every chat's last message");
  serve->add_option("--host", sc.host, "address to listen on (loopback unless told otherwise)")->capture_default_str();
  serve->add_option("--port", sc.port, "port (0: any free one, printed)")->capture_default_str();
  serve->add_option("--rows", sc.rows, "sequences decoded together")->capture_default_str();
  serve->add_option("--max-queued", sc.max_queued, "sequences that may wait for a row (more: HTTP 503)")->capture_default_str();

  TableConfig tc;
  auto* table = app.add_subcommand("table", "every technique on the pipeline's models: summary.json and the curves");
  table->add_option("--base", tc.base_path, "the pretrained base model")->required();
  table->add_option("--sft", tc.sft_path, "the SFT assistant")->required();
  table->add_option("--ppo", tc.ppo_path, "the PPO policy (optional)");
  table->add_option("--tokenizer", tc.tokenizer_dir, "tokenizer folder")->required();
  table->add_option("--eval", tc.eval_path, "held-out questions (eval_test.jsonl)")->required();
  table->add_option("--shots-from", tc.shots_from, "few-shot examples (eval_val.jsonl)");
  table->add_option("--constraint-eval", tc.constraint_path, "the constraint task's requests (eval_constraint.jsonl)");
  table->add_option("--tries", tc.tries, "reflection: attempts per question at most")->capture_default_str();
  table->add_option("--constraint-repeats", tc.constraint_repeats, "reflection: each constraint request asked this many times")->capture_default_str();
  table->add_option("--tools-eval", tc.tools_eval_path, "tool questions (eval_tools.jsonl): the tool rows");
  table->add_option("--world", tc.world_dir, "the world folder: lookup's people, the people RAG questions name");
  table->add_option("--index", tc.index_dir, "a bm25 index folder of the library: the RAG and injection rows");
  table->add_option("--embed-index", tc.embed_index_dir, "an embedding index folder of the same chunks: recall and RAG rows");
  table->add_option("--tools-per-task", tc.tools_per_task, "tool rows: questions per task (0: all)")->capture_default_str();
  table->add_option("--rag-per-task", tc.rag_per_task, "RAG and injection rows: fact questions per task (0: all)")->capture_default_str();
  table->add_option("--out", tc.out_dir, "folder for summary.json and the SVGs")->required();
  table->add_option("--max-per-task", tc.max_per_task, "questions per task")->capture_default_str();
  table->add_option("--arith-per-task", tc.arith_per_task, "self-consistency and personas: questions per arithmetic task")->capture_default_str();
  table->add_option("--tot-per-task", tc.tot_per_task, "tree of thoughts: questions per arithmetic task")->capture_default_str();
  table->add_option("--sc-samples", tc.sc_samples, "self-consistency: samples drawn (the curve's largest N)")->capture_default_str();
  table->add_option("--temperature", tc.temperature, "self-consistency's temperature")->capture_default_str();
  table->add_option("--seed", tc.seed)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (*eval) return run_eval(ec);
    if (*build) return run_index_build(ic);
    if (*query) return run_index_query(ic);
    if (*chat) return run_prompting_chat(pc);
    if (*serve) return run_serve(sc);
    if (*table) return run_table(tc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prompting: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
