// `pretrain fewshot`: the talk's "a base model is a document completer" made measurable.
//
// A base model does not answer questions; it continues documents. Give it a document that looks
// like a page of questions and answers — K solved examples, then the question — and completing the
// page IS answering. Zero-shot is the same page with no examples: the format alone.
//
//   Q: What is 12 + 7?          ← K examples drawn (seeded) from --shots-from, same task
//   A: 19
//   Q: How old is Catherine?    ← the question
//   A:                          ← greedy completion up to the end of the line, graded exactly
//
// Grading is the world's (common/world/grader.h): the first line must equal the gold answer.
#include "02_pretrain/fewshot.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/generate/generate.h"
#include "common/io/metrics.h"
#include "common/nn/gpt.h"
#include "common/nn/load_model.h"
#include "common/tensor/random.h"
#include "common/tokenizer/tokenizer.h"
#include "common/world/grader.h"
#include "common/world/question_set.h"
#include "common/world/task.h"
#include "common/world/world.h"

namespace sog {

using json = nlohmann::json;

FewshotReport run_fewshot(const FewshotOptions& opt) {
  Tokenizer tok = Tokenizer::load(opt.tokenizer);
  LoadedModel loaded = load_model(opt.model, "", tok, opt.tokenizer);
  GPT& model = *loaded.model;
  const std::vector<QuestionRow> questions = read_question_rows(opt.eval_file);
  const ShotPool pool(read_question_rows(opt.shots_from.empty() ? opt.eval_file : opt.shots_from));

  Rng rng(opt.seed);
  Sampler greedy({0.0f, 0, 1.0f});
  GenerateOptions gen;
  gen.max_new_tokens = opt.max_new_tokens;
  gen.stop_ids = {tok.eot_id()};
  gen.should_stop = [&](const std::vector<int32_t>& ids) {
    return tok.decode_bytes(ids).find('\n') != std::string::npos;
  };

  FewshotReport report;
  std::map<std::string, std::pair<int, int>> per_task;  // correct, total
  int64_t done = 0;
  for (const QuestionRow& q : questions) {
    if (opt.max_per_task > 0 && per_task[q.task].second >= opt.max_per_task) continue;
    const std::string page = qa_sheet(pool.draw(q, opt.shots, rng), q.prompt);
    std::vector<int32_t> ids = tok.encode(page);
    ids.insert(ids.begin(), tok.eot_id());  // a new document starts
    const int64_t room = model.config().max_T - opt.max_new_tokens;
    if (static_cast<int64_t>(ids.size()) > room) {  // keep the question: drop the oldest examples
      ids.erase(ids.begin(), ids.end() - room);
    }
    std::vector<int32_t> out = generate(model, ids, gen, greedy);
    std::string completion = tok.decode(out);
    const bool ok = is_correct(completion, q.answer);
    per_task[q.task].first += ok;
    per_task[q.task].second += 1;
    if (report.examples.size() < 12 || (!ok && report.failures.size() < 12)) {
      (ok ? report.examples : report.failures).push_back({q.prompt, q.answer, completion, page});
    }
    if (++done % 100 == 0) std::fprintf(stderr, "fewshot: %lld questions\n", static_cast<long long>(done));
  }
  for (const auto& [task, ct] : per_task) {
    report.tasks.push_back({task, ct.first, ct.second});
  }
  return report;
}

json fewshot_json(const FewshotReport& r, const FewshotOptions& opt) {
  json tasks = json::array();
  int correct = 0, total = 0;
  for (const auto& t : r.tasks) {
    tasks.push_back({{"task", t.task}, {"correct", t.correct}, {"total", t.total},
                     {"accuracy", t.total ? static_cast<double>(t.correct) / t.total : 0.0}});
    correct += t.correct;
    total += t.total;
  }
  json examples = json::array(), failures = json::array();
  auto record = [](const FewshotExample& e) {
    return json{{"prompt", e.prompt}, {"answer", e.answer}, {"completion", e.completion}, {"page", e.page}};
  };
  for (const auto& e : r.examples) examples.push_back(record(e));
  for (const auto& e : r.failures) failures.push_back(record(e));
  return {{"model", opt.model}, {"eval", opt.eval_file}, {"shots", opt.shots}, {"seed", opt.seed},
          {"accuracy", total ? static_cast<double>(correct) / total : 0.0}, {"tasks", tasks},
          {"examples", examples}, {"failures", failures}};
}

}  // namespace sog
