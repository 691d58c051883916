// 06_prompting — the talk's second half: how to use the models.
//
// "Transformers need tokens to think", "sample several times and vote", "you have to ask for the
// good one": each technique is a way of building the prompt or of spending more samples, measured
// on the world's held-out questions with the pipeline's base, SFT and PPO models.
//
//   bin/prompting eval  --model M --tokenizer DIR --technique T --eval F.jsonl --out F.json
//                       [--shots K] [--samples N --temperature τ --cot] [--persona expert|student|none]
//                       [--tries R --repeats K]   (reflect)
//   bin/prompting table --base B --sft S [--ppo P] --tokenizer DIR --eval F.jsonl --shots-from F.jsonl
//                       [--constraint-eval F.jsonl] --out DIR
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

#include "06_prompting/reflection.h"
#include "06_prompting/thought_search.h"
#include "common/eval/techniques.h"
#include "common/eval/generate_answers.h"
#include "common/io/atomic_file.h"
#include "common/io/metrics.h"
#include "common/io/progress.h"
#include "common/io/svg_plot.h"
#include "common/nn/load_model.h"
#include "common/reward/reward_model.h"
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

static Measured measure(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                        const ShotPool& pool, const TechniqueOptions& o) {
  const EvalSpec spec = technique_spec(o, model.config().max_T);
  Measured m;
  const AnswerGenerator inner = model_answer_generator(model, tok);
  // Every generated token is counted: the technique's cost.
  const AnswerGenerator counted = [&](const std::vector<AnswerRequest>& requests, const AnswerSettings& settings) {
    std::vector<Answer> answers = inner(requests, settings);
    for (const Answer& a : answers) m.tokens += static_cast<int64_t>(a.ids.size());
    return answers;
  };
  const double t0 = steady_seconds();
  m.report = run_evaluation(questions, pool, tok, spec, counted);
  m.row = technique_row(o, m.report, m.tokens, steady_seconds() - t0);
  // Where the context runs out: prompts the evaluator had to cut (their start dropped).
  int cut = 0;
  for (const QuestionResult& q : m.report.questions) {
    cut += static_cast<int64_t>(tok.encode(q.page).size()) + 1 > spec.context_length - spec.max_new_tokens;
  }
  m.row["prompts_cut"] = cut;
  return m;
}

struct EvalConfig {
  std::string model_path, tokenizer_dir, eval_path, shots_from, out_path, reward_path;
  TechniqueOptions technique;
  ThoughtEvalOptions thoughts;
  ReflectionEvalOptions reflection;
  std::string technique_name = "direct";
};

static int run_eval(EvalConfig c) {
  const bool tot = c.technique_name == "tot", reflect = c.technique_name == "reflect";
  if (!tot && !reflect) c.technique.technique = technique_from_name(c.technique_name);
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
  } else {
    r = measure(*m.model, tok, questions, pool, c.technique);
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
// table

struct TableConfig {
  std::string base_path, sft_path, ppo_path, tokenizer_dir, eval_path, shots_from, constraint_path, out_dir;
  int max_per_task = 12;
  int tries = 4;            // reflection: attempts per question at most
  int constraint_repeats = 4;  // reflection on the constraint task: each request asked this many times
  int arith_per_task = 40;  // self-consistency and the personas: arithmetic questions per task
  int tot_per_task = 15;    // tree of thoughts: arithmetic questions per task (the first of the above)
  int sc_samples = 17;
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
  eval->add_option("--technique", ec.technique_name, "fewshot | direct | cot | self-consistency | expert | tot | reflect")->capture_default_str();
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
  eval->add_option("--out", ec.out_path, "the row as JSON");

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
    if (*table) return run_table(tc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prompting: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
