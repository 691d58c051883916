// `sft eval`: the chapter's table. Each held-out question is asked greedily and graded exactly by
// the world's grader (common/world/grader.h); accuracy is reported per task.
//
//   chat         (a) a base model, zero-shot, in the chat format it never saw; (c), (d) the SFT
//                models. The prompt is the chat template's completion prompt:
//                  <|endoftext|><|user|>How old is Catherine?<|end|><|assistant|>
//                and the reply runs to <|end|> (or <|endoftext|>, or max_new_tokens).
//   fewshot-doc  (b) the talk's trick: a base model made to act as an assistant by a document
//                that looks like a transcript of one (chat_template.h), K solved examples of the
//                same task, then "User: QUESTION\nAssistant:"; the reply runs to the newline.
//   qa-fewshot   chapter 02's "Q:/A:" page, for reference (the format the base model pretrained on).
// Examples come (seeded) from --shots-from, never the question itself.
//
// Beside accuracy, "well-formed": the reply has the assistant's format whether right or wrong —
// the model stopped by itself (chat: it wrote <|end|>; a document: it ended the line) after one
// non-empty line (grader.h's direct format). SFT teaches the format first; the facts and the
// arithmetic have to be in the base model already.
#include "03_sft/evaluate.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "common/chat/chat_template.h"
#include "common/generate/generate.h"
#include "common/io/metrics.h"
#include "common/nn/load_model.h"
#include "common/tensor/random.h"
#include "common/world/grader.h"
#include "common/world/question_set.h"

namespace sog {

using json = nlohmann::json;

EvalMode eval_mode_from_name(const std::string& name) {
  if (name == "chat") return EvalMode::chat;
  if (name == "fewshot-doc") return EvalMode::fewshot_doc;
  if (name == "qa-fewshot") return EvalMode::qa_fewshot;
  throw std::invalid_argument("--mode " + name + ": expected chat, fewshot-doc or qa-fewshot");
}

static const char* mode_name(EvalMode m) {
  return m == EvalMode::chat ? "chat" : m == EvalMode::fewshot_doc ? "fewshot-doc" : "qa-fewshot";
}

json run_eval(const EvalOptions& opt) {
  Tokenizer tok = Tokenizer::load(opt.tokenizer);
  LoadedModel sm = load_model(opt.model, opt.lora, tok, opt.tokenizer);
  GPT& model = *sm.model;
  const ChatTokens chat_tokens(tok);
  const std::vector<QuestionRow> questions = read_question_rows(opt.eval_file);
  const ShotPool pool(read_question_rows(opt.shots_from.empty() ? opt.eval_file : opt.shots_from));

  Rng rng(opt.seed);
  Sampler greedy({0.0f, 0, 1.0f});
  GenerateOptions gen;
  gen.max_new_tokens = opt.max_new_tokens;
  gen.stop_ids = {tok.eot_id()};
  if (opt.mode == EvalMode::chat) {
    gen.stop_ids.push_back(chat_tokens.end);
  } else {  // a document's reply is one line
    gen.should_stop = [&](const std::vector<int32_t>& ids) {
      return tok.decode_bytes(ids).find('\n') != std::string::npos;
    };
  }

  struct Counts {
    int correct = 0, well_formed = 0, total = 0;
  };
  std::map<std::string, Counts> per_task;
  json examples = json::array(), failures = json::array();
  int64_t done = 0;
  for (const QuestionRow& q : questions) {
    if (opt.max_per_task > 0 && per_task[q.task].total >= opt.max_per_task) continue;
    std::vector<int32_t> ids;
    if (opt.mode == EvalMode::chat) {
      ids = render_for_completion(tok, {{ChatRole::user, q.prompt}});
    } else {
      const SolvedExamples shots = pool.draw(q, opt.shots, rng);
      const std::string page = opt.mode == EvalMode::fewshot_doc ? fewshot_assistant_document(shots, q.prompt)
                                                                  : qa_sheet(shots, q.prompt);
      ids = tok.encode(page);
      ids.insert(ids.begin(), tok.eot_id());  // a new document starts
    }
    const int64_t room = model.config().max_T - opt.max_new_tokens;
    if (static_cast<int64_t>(ids.size()) > room) ids.erase(ids.begin(), ids.end() - room);  // keep the question
    std::vector<int32_t> out = generate(model, ids, gen, greedy);
    const std::string completion = tok.decode(out);  // the grader cuts at <|end|> / <|endoftext|>
    const bool ok = is_correct(completion, q.answer);
    // The assistant's format, right or wrong: it stopped by itself (chat: <|end|>; a document: the
    // end of the line) after exactly one non-empty line.
    const bool stopped = opt.mode == EvalMode::chat ? (!out.empty() && out.back() == chat_tokens.end)
                                                    : completion.find('\n') != std::string::npos;
    const bool formed = stopped && is_well_formed(completion, AnswerFormat::direct);
    Counts& c = per_task[q.task];
    c.correct += ok;
    c.well_formed += formed;
    c.total += 1;
    json e = {{"task", q.task}, {"prompt", q.prompt}, {"answer", q.answer}, {"completion", completion},
              {"well_formed", formed}};
    if (ok && examples.size() < 12) examples.push_back(e);
    if (!ok && failures.size() < 12) failures.push_back(e);
    if (++done % 200 == 0) std::fprintf(stderr, "eval: %lld questions\n", static_cast<long long>(done));
  }

  json tasks = json::array();
  int correct = 0, well_formed = 0, total = 0;
  for (const auto& [task, c] : per_task) {
    tasks.push_back({{"task", task}, {"correct", c.correct}, {"well_formed", c.well_formed}, {"total", c.total},
                     {"accuracy", c.total ? static_cast<double>(c.correct) / c.total : 0.0},
                     {"well_formed_rate", c.total ? static_cast<double>(c.well_formed) / c.total : 0.0}});
    correct += c.correct;
    well_formed += c.well_formed;
    total += c.total;
  }
  return {{"model", opt.model}, {"lora", opt.lora}, {"eval", opt.eval_file}, {"mode", mode_name(opt.mode)},
          {"shots", opt.mode == EvalMode::chat ? 0 : opt.shots}, {"seed", opt.seed},
          {"correct", correct}, {"well_formed", well_formed}, {"total", total},
          {"accuracy", total ? static_cast<double>(correct) / total : 0.0},
          {"well_formed_rate", total ? static_cast<double>(well_formed) / total : 0.0}, {"tasks", tasks},
          {"examples", examples}, {"failures", failures}};
}

void print_eval_table(const json& r) {
  std::printf("%-12s %9s %8s %12s\n", "task", "correct", "accuracy", "well-formed");
  for (const auto& t : r["tasks"])
    std::printf("%-12s %4d/%-4d %7.1f%% %11.1f%%\n", t["task"].get<std::string>().c_str(), t["correct"].get<int>(),
                t["total"].get<int>(), 100.0 * t["accuracy"].get<double>(), 100.0 * t["well_formed_rate"].get<double>());
  std::printf("all          %4d/%-4d %7.1f%% %11.1f%% (mode %s)\n", r["correct"].get<int>(), r["total"].get<int>(),
              100.0 * r["accuracy"].get<double>(), 100.0 * r["well_formed_rate"].get<double>(),
              r["mode"].get<std::string>().c_str());
}

}  // namespace sog
