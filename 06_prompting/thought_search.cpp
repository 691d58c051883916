#include "06_prompting/thought_search.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "common/autograd/tape.h"
#include "common/chat/chat_template.h"
#include "common/eval/techniques.h"
#include "common/generate/generate_batch.h"
#include "common/io/progress.h"
#include "common/nn/response_logprobs.h"
#include "common/reward/preferences.h"
#include "common/reward/reward_model.h"
#include "common/world/grader.h"

namespace sog {

using json = nlohmann::json;

// The prompt followed by a partial solution's own sampled ids (never re-encoded from text: the
// tokens the model wrote are the tokens it reads and is scored on).
static std::vector<int32_t> with_partial(const std::vector<int32_t>& prompt, const std::vector<int32_t>& partial) {
  std::vector<int32_t> ids = prompt;
  ids.insert(ids.end(), partial.begin(), partial.end());
  return ids;
}

json evaluate_tree_of_thoughts(GPT& model, const Tokenizer& tok, const std::vector<QuestionRow>& questions,
                               const ThoughtEvalOptions& o, LoadedModel* reward) {
  if (o.judge != "logprob" && o.judge != "rm") throw std::invalid_argument("--judge '" + o.judge + "': expected logprob or rm");
  if (o.judge == "rm" && (!reward || !reward->head)) throw std::invalid_argument("--judge rm needs --reward-model");
  NoGradGuard no_grad;
  const ChatTokens ct(tok);
  const double t0 = steady_seconds();
  int64_t tokens = 0, candidates = 0, depths = 0, finished = 0;
  AccuracyTally tally;
  json examples = json::array();
  for (size_t q = 0; q < questions.size(); q++) {
    const Task task = task_of(questions[q]);
    const std::string asked = questions[q].prompt + std::string(step_by_step_suffix);
    const Chat chat = {{ChatRole::user, asked}};
    const std::vector<int32_t> prompt = render_for_completion(tok, chat);
    int call = 0;
    // Each partial solution's text (its bytes, the search's key) → the ids that were sampled.
    std::map<std::string, std::vector<int32_t>> ids_of = {{"", {}}};
    const ThoughtProposer propose = [&](const std::vector<std::string>& partials, int breadth) {
      std::vector<std::vector<int32_t>> prompts;
      std::vector<uint64_t> seeds;
      int64_t room = o.max_line_tokens;  // the longest partial must still fit the context with its line
      for (size_t p = 0; p < partials.size(); p++) {
        for (int b = 0; b < breadth; b++) {
          prompts.push_back(with_partial(prompt, ids_of.at(partials[p])));
          room = std::min(room, model.config().max_T - static_cast<int64_t>(prompts.back().size()));
          seeds.push_back(o.seed * 1000003ull + q * 7919ull + static_cast<uint64_t>(call) * 131ull + p * 17ull + b);
        }
      }
      call++;
      std::vector<std::vector<std::string>> lines(partials.size());
      if (room < 1) {  // the context is full: every partial ends here (an empty, unterminated line)
        for (auto& l : lines) l.assign(breadth, "");
        return lines;
      }
      std::vector<Sampler> samplers = make_samplers({o.temperature, 0, 1.0f}, seeds);
      BatchGenerateOptions go;
      go.max_new_tokens = room;
      go.stop_ids = {ct.end, ct.eot};
      go.should_stop = [&tok](int64_t, const std::vector<int32_t>& ids) {
        return tok.decode_bytes(ids).find('\n') != std::string::npos;
      };
      const std::vector<GeneratedRow> rows = generate_batch(model, prompts, go, samplers);
      for (size_t i = 0; i < rows.size(); i++) {
        tokens += static_cast<int64_t>(rows[i].tokens.size());
        std::vector<int32_t> ids = rows[i].tokens;
        // A special token (<|end|>, or any other) ends the reply: the line stops before it, unterminated.
        const auto special = std::find_if(ids.begin(), ids.end(), [&](int32_t id) { return id >= tok.n_ranks(); });
        ids.erase(special, ids.end());
        const std::string line = tok.decode_bytes(ids);  // ends at its first newline (the stop rule)
        const std::string& partial = partials[i / breadth];
        std::vector<int32_t> grown = ids_of.at(partial);
        grown.insert(grown.end(), ids.begin(), ids.end());
        ids_of.emplace(partial + line, std::move(grown));
        lines[i / breadth].push_back(line);
      }
      return lines;
    };
    const ThoughtScorer score = [&](const std::vector<std::string>& partials) {
      std::vector<double> out;
      if (o.judge == "rm") {
        std::vector<std::pair<Chat, std::string>> items;
        for (const std::string& p : partials) items.push_back({chat, std::string(reply_text(tok.decode(ids_of.at(p))))});
        for (float s : score_completions(*reward->model, *reward->head, tok, items, 64, true)) out.push_back(s);
        return out;
      }
      std::vector<std::vector<int32_t>> ps, rs;
      for (const std::string& p : partials) {
        std::vector<int32_t> r = ids_of.at(p);
        if (r.empty()) r.push_back(ct.end);  // an empty reply: scored as closing at once
        ps.push_back(prompt), rs.push_back(std::move(r));
      }
      const ResponseLogprobs lp = response_logprobs(model, ps, rs);
      for (size_t b = 0; b < ps.size(); b++) {
        double sum = 0;
        for (float v : response_values(lp.logprobs, static_cast<int64_t>(b), static_cast<int64_t>(ps[b].size()),
                                       static_cast<int64_t>(rs[b].size())))
          sum += v;
        out.push_back(sum / static_cast<double>(rs[b].size()));  // mean per token
      }
      return out;
    };
    ThoughtSearchResult r = tree_of_thoughts(propose, score, o.search);
    r.solution = tok.decode(ids_of.at(r.solution));  // the bytes as text
    const bool right = grade(task, std::string(reply_text(r.solution))).correct;
    tally.add(questions[q].task, right);
    candidates += r.candidates, depths += r.depth, finished += r.finished;
    if (examples.size() < 6) examples.push_back({{"prompt", asked}, {"answer", questions[q].answer}, {"solution", r.solution}, {"correct", right}});
  }
  const double wall = steady_seconds() - t0;
  const double total = tally.total();
  json row = tally.json();
  row.update({{"technique", "tot"}, {"tokens_per_question", total ? static_cast<double>(tokens) / total : 0.0},
              {"wall_time_s", wall}, {"examples", examples},
              {"settings", {{"breadth", o.search.breadth}, {"width", o.search.width}, {"max_depth", o.search.max_depth},
                            {"temperature", o.temperature}, {"judge", o.judge}, {"seed", o.seed}}},
              {"mean_depth", total ? static_cast<double>(depths) / total : 0.0},
              {"candidates_per_question", total ? static_cast<double>(candidates) / total : 0.0},
              {"finished_fraction", total ? static_cast<double>(finished) / total : 0.0}});
  return row;
}

}  // namespace sog
