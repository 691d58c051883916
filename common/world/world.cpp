#include "common/world/world.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "common/world/arithmetic.h"
#include "common/world/constraint.h"
#include "common/world/documents.h"
#include "common/world/grader.h"
#include "common/world/splits.h"
#include "common/world/strings.h"
#include "common/world/tools.h"

namespace sog {

// ---- config -------------------------------------------------------------------------------------

void validate(const WorldConfig& c) {
  auto need = [](bool ok, const char* field, double value, const char* expected) {
    if (!ok)
      throw std::invalid_argument(std::string("WorldConfig.") + field + " = " + std::to_string(value) +
                                  ", expected " + expected);
  };
  const double max_people = static_cast<double>(first_names().size());
  need(c.people >= 10 && c.people <= max_people, "people", c.people, "10 … 270 (the built-in names)");
  need(c.library_fraction >= 0 && c.library_fraction <= 0.9, "library_fraction", c.library_fraction, "0 … 0.9");
  need(c.library_val_share >= 0 && c.library_val_share <= 1, "library_val_share", c.library_val_share, "0 … 1");
  need(c.docs_per_person >= 0, "docs_per_person", c.docs_per_person, ">= 0");
  need(c.library_docs_per_person >= 1, "library_docs_per_person", c.library_docs_per_person, ">= 1");
  need(c.fact_qa_documents >= 0, "fact_qa_documents", c.fact_qa_documents, ">= 0");
  need(c.qa_per_document >= 1, "qa_per_document", c.qa_per_document, ">= 1");
  need(c.qa_fact_fraction > 0 && c.qa_fact_fraction <= 1, "qa_fact_fraction", c.qa_fact_fraction, "0 (excluded) … 1");
  need(c.direct_max_digits >= 2 && c.direct_max_digits <= 6, "direct_max_digits", c.direct_max_digits,
       "2 … 6 (one-digit pairs are digit facts, never held out)");
  need(c.worked_max_digits >= 2 && c.worked_max_digits <= 6, "worked_max_digits", c.worked_max_digits, "2 … 6");
  need(c.arith_direct_train >= 0, "arith_direct_train", c.arith_direct_train, ">= 0");
  need(c.arith_worked_train >= 0, "arith_worked_train", c.arith_worked_train, ">= 0");
  need(c.expert_fraction >= 0 && c.expert_fraction <= 1, "expert_fraction", c.expert_fraction, "0 … 1");
  need(c.student_error_rate >= 0 && c.student_error_rate <= 1, "student_error_rate", c.student_error_rate, "0 … 1");
  need(c.pair_val_fraction >= 0 && c.pair_test_fraction >= 0 && c.pair_val_fraction + c.pair_test_fraction <= 0.5,
       "pair_val_fraction + pair_test_fraction", c.pair_val_fraction + c.pair_test_fraction, "each >= 0, sum <= 0.5");
  need(c.word_val_fraction >= 0 && c.word_test_fraction >= 0 && c.word_val_fraction + c.word_test_fraction <= 0.5,
       "word_val_fraction + word_test_fraction", c.word_val_fraction + c.word_test_fraction, "each >= 0, sum <= 0.5");
  need(c.string_direct_train >= 0, "string_direct_train", c.string_direct_train, ">= 0");
  need(c.string_worked_train >= 0, "string_worked_train", c.string_worked_train, ">= 0");
  need(c.tool_traces_train >= 0, "tool_traces_train", c.tool_traces_train, ">= 0");
  need(c.sft_train >= 0, "sft_train", c.sft_train, ">= 0");
  need(c.sft_val >= 0, "sft_val", c.sft_val, ">= 0");
  need(c.sft_self_check >= 0, "sft_self_check", c.sft_self_check, ">= 0");
  need(c.sft_constraint >= 0, "sft_constraint", c.sft_constraint, ">= 0");
  need(c.sft_documents >= 0, "sft_documents", c.sft_documents, ">= 0");
  need(c.document_injection_rate >= 0 && c.document_injection_rate <= 1, "document_injection_rate",
       c.document_injection_rate, "0 … 1");
  need(c.sft_override >= 0, "sft_override", c.sft_override, ">= 0");
  need(c.sft_mental >= 0, "sft_mental", c.sft_mental, ">= 0");
  need(c.sft_large_calc >= 0, "sft_large_calc", c.sft_large_calc, ">= 0");
  need(c.sft_lookup_names >= 0, "sft_lookup_names", c.sft_lookup_names, ">= 0");
  need(c.sft_repeat >= 0, "sft_repeat", c.sft_repeat, ">= 0");
  need(c.large_digits >= 3 && c.large_digits <= 6, "large_digits", c.large_digits, "3 … 6");
  need(c.ppo_prompts >= 0, "ppo_prompts", c.ppo_prompts, ">= 0");
  need(c.eval_per_task >= 1, "eval_per_task", c.eval_per_task, ">= 1");
  need(c.preference_prompts >= 0, "preference_prompts", c.preference_prompts, ">= 0");
  need(c.pairs_per_prompt >= 1, "pairs_per_prompt", c.pairs_per_prompt, ">= 1");
  const int heldout = static_cast<int>(std::lround(c.people * c.library_fraction));
  need(c.people - heldout >= 2, "people · (1 − library_fraction)", c.people - heldout, ">= 2 train people");
}

nlohmann::json config_to_json(const WorldConfig& c) {
  return {
      {"seed", c.seed}, {"people", c.people}, {"library_fraction", c.library_fraction},
      {"library_val_share", c.library_val_share}, {"library_includes_all", c.library_includes_all},
      {"docs_per_person", c.docs_per_person}, {"library_docs_per_person", c.library_docs_per_person},
      {"fact_qa_documents", c.fact_qa_documents}, {"qa_per_document", c.qa_per_document},
      {"qa_fact_fraction", c.qa_fact_fraction},
      {"direct_max_digits", c.direct_max_digits}, {"worked_max_digits", c.worked_max_digits},
      {"arith_direct_train", c.arith_direct_train}, {"arith_worked_train", c.arith_worked_train},
      {"expert_fraction", c.expert_fraction}, {"student_error_rate", c.student_error_rate},
      {"pair_val_fraction", c.pair_val_fraction}, {"pair_test_fraction", c.pair_test_fraction},
      {"string_direct_train", c.string_direct_train}, {"string_worked_train", c.string_worked_train},
      {"word_val_fraction", c.word_val_fraction}, {"word_test_fraction", c.word_test_fraction},
      {"tool_traces_train", c.tool_traces_train}, {"sft_train", c.sft_train}, {"sft_val", c.sft_val},
      {"sft_self_check", c.sft_self_check}, {"sft_constraint", c.sft_constraint},
      {"sft_documents", c.sft_documents}, {"document_injection_rate", c.document_injection_rate},
      {"sft_override", c.sft_override}, {"sft_mental", c.sft_mental}, {"sft_large_calc", c.sft_large_calc},
      {"sft_lookup_names", c.sft_lookup_names}, {"sft_repeat", c.sft_repeat}, {"large_digits", c.large_digits},
      {"ppo_prompts", c.ppo_prompts}, {"eval_per_task", c.eval_per_task},
      {"preference_prompts", c.preference_prompts}, {"pairs_per_prompt", c.pairs_per_prompt},
  };
}

double chance_level(TaskKind kind, const WorldConfig& c) {
  const double top = std::pow(10.0, c.direct_max_digits) - 1;  // largest operand
  auto mean_over_words = [](auto f) {
    double sum = 0;
    size_t n = 0;
    for (auto list : {common_words(), palindrome_words()})
      for (std::string_view w : list) { sum += f(w); n++; }
    return sum / n;
  };
  switch (kind) {
    case TaskKind::age: return 1.0 / (max_age - min_age + 1);
    case TaskKind::city: return 1.0 / cities().size();
    case TaskKind::job: return 1.0 / jobs().size();
    case TaskKind::pet: return 1.0 / pets().size();
    case TaskKind::color: return 1.0 / colors().size();
    case TaskKind::hobby: return 1.0 / hobbies().size();
    case TaskKind::add: return 1.0 / (2 * top + 1);
    case TaskKind::sub: return 1.0 / (top + 1);
    case TaskKind::mul: return 1.0 / (top * top + 1);
    case TaskKind::reverse:
    case TaskKind::sort:
      return mean_over_words([](std::string_view w) {
        // n! / (k1! k2! …) in exact integer arithmetic (words have at most 7 letters)
        auto factorial = [](size_t n) { uint64_t f = 1; for (size_t i = 2; i <= n; i++) f *= i; return f; };
        uint64_t arrangements = factorial(w.size());
        std::map<char, size_t> counts;
        for (char ch : w) counts[ch]++;
        for (auto [ch, k] : counts) arrangements /= factorial(k);
        return 1.0 / static_cast<double>(arrangements);
      });
    case TaskKind::count: return mean_over_words([](std::string_view w) { return 1.0 / (w.size() + 1.0); });
    case TaskKind::palindrome: return 0.5;
    case TaskKind::first:
    case TaskKind::last: return 1.0 / 26;
    case TaskKind::avoid: {
      double sum = 0;
      const auto requests = constraint_requests();
      for (const ConstraintProblem& p : requests) sum += constraint_chance(p);
      return sum / requests.size();
    }
  }
  throw std::logic_error("chance_level: unknown task");
}

// ---- the generator ------------------------------------------------------------------------------
namespace {

constexpr TaskKind kFactKinds[] = {TaskKind::age, TaskKind::city, TaskKind::job, TaskKind::pet, TaskKind::color, TaskKind::hobby};
constexpr TaskKind kArithKinds[] = {TaskKind::add, TaskKind::sub, TaskKind::mul};
constexpr TaskKind kStringKinds[] = {TaskKind::reverse, TaskKind::count, TaskKind::sort,
                                     TaskKind::palindrome, TaskKind::first, TaskKind::last};
constexpr int kMaxAttempts = 10000;

std::string qa_text(const Task& t) { return "Q: " + t.prompt + "\nA: " + t.answer + "\n"; }

template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; i--) std::swap(v[i - 1], v[rng.below(i)]);
}

class Generator {
 public:
  explicit Generator(const WorldConfig& c)
      : c_(c), words_(c.seed, c.word_val_fraction, c.word_test_fraction) {
    Rng rng = stream_rng(c.seed, "people");
    people_ = make_people(c.people, rng);
    assign_people_splits(people_, c.library_fraction, c.library_val_share, rng);
    for (const Person& p : people_) by_split_[static_cast<int>(p.split)].push_back(&p);
  }

  const std::vector<Person>& people() const { return people_; }
  const std::vector<const Person*>& people_in(Split s) const { return by_split_[static_cast<int>(s)]; }

  Split pair_split(int64_t a, int64_t b) const {
    return operand_pair_split(a, b, c_.seed, c_.pair_val_fraction, c_.pair_test_fraction);
  }
  // Text of split s may write pairs of train and of s, nothing else.
  bool text_allowed(std::string_view text, Split s) const {
    for (auto [a, b] : operand_pairs_in_text(text)) {
      Split t = pair_split(a, b);
      if (t != Split::train && t != s) return false;
    }
    return true;
  }

  // A problem whose own pair is in split s (and, held out, no digit fact).
  ArithProblem problem_in(Split s, TaskKind op, int digits, Rng& rng) const {
    for (int attempt = 0; attempt < kMaxAttempts; attempt++) {
      ArithProblem p = random_arith_problem(op, digits, rng);
      if (pair_split(p.a, p.b) == s && (s == Split::train || !is_digit_fact(p.a, p.b))) return p;
    }
    throw std::runtime_error("generate_world: no " + std::string(split_name(s)) + " operand pair for " +
                             std::string(task_name(op)) + " with " + std::to_string(digits) +
                             " digits (raise pair_" + std::string(split_name(s)) + "_fraction)");
  }
  // A worked solution whose whole text stays in split s.
  WorkedSolution worked_in(Split s, TaskKind op, Solver solver, double error_rate, Rng& rng, ArithProblem& p) const {
    for (int attempt = 0; attempt < kMaxAttempts; attempt++) {
      p = problem_in(s, op, c_.worked_max_digits, rng);
      WorkedSolution w = worked_solution(p, solver, error_rate, rng);
      if (text_allowed(w.text, s)) return w;
    }
    throw std::runtime_error("generate_world: no worked " + std::string(task_name(op)) + " solution within split " +
                             std::string(split_name(s)));
  }
  std::string calc_trace_in(Split s, TaskKind op, Rng& rng, ArithProblem& p) const {
    for (int attempt = 0; attempt < kMaxAttempts; attempt++) {
      p = problem_in(s, op, c_.worked_max_digits, rng);
      std::string trace = calc_tool_trace(p);
      if (text_allowed(trace, s)) return trace;
    }
    throw std::runtime_error("generate_world: no calculator trace within split " + std::string(split_name(s)));
  }

  const Person& person_in(Split s, Rng& rng) const {
    const auto& list = people_in(s);
    if (list.empty()) throw std::runtime_error("generate_world: no " + std::string(split_name(s)) + " people (raise people or library_fraction)");
    return *list[rng.below(list.size())];
  }

  StringProblem string_in(Split s, TaskKind kind, Rng& rng) const {
    const auto& common = word_list(s, false);
    const auto& pal = word_list(s, true);
    if (common.empty() || pal.empty())
      throw std::runtime_error("generate_world: no " + std::string(split_name(s)) + " words (raise word fractions)");
    StringProblem p{kind, "", 0};
    if (kind == TaskKind::palindrome) {
      p.word = rng.below(2) ? pal[rng.below(pal.size())] : common[rng.below(common.size())];
    } else {
      size_t k = rng.below(common.size() + pal.size());
      p.word = k < common.size() ? common[k] : pal[k - common.size()];
    }
    if (kind == TaskKind::count) p.letter = random_count_letter(p.word, rng);
    return p;
  }

  const std::vector<std::string>& word_list(Split s, bool palindromes) const {
    auto key = std::pair(static_cast<int>(s), palindromes);
    auto it = word_cache_.find(key);
    if (it == word_cache_.end()) it = word_cache_.emplace(key, words_.words(s, palindromes)).first;
    return it->second;
  }
  // Every word of split s: its common words, then its palindromes.
  std::vector<std::string> all_words(Split s) const {
    std::vector<std::string> words = word_list(s, false);
    const auto& pal = word_list(s, true);
    words.insert(words.end(), pal.begin(), pal.end());
    return words;
  }
  const WordSplits& words() const { return words_; }
  const WorldConfig& config() const { return c_; }

 private:
  const WorldConfig& c_;
  WordSplits words_;
  std::vector<Person> people_;
  std::vector<const Person*> by_split_[3];
  mutable std::map<std::pair<int, bool>, std::vector<std::string>> word_cache_;
};

// ---- pretraining and library ----------------------------------------------------------------

void make_pretraining(const Generator& g, World& w, std::set<std::pair<std::string, TaskKind>>& seen_qa) {
  const WorldConfig& c = g.config();
  std::vector<std::pair<std::string, std::string>> docs;  // (kind, text)
  Rng rng = stream_rng(c.seed, "pretrain/people");
  for (const Person* p : g.people_in(Split::train))
    for (int d = 0; d < c.docs_per_person; d++) docs.emplace_back("person", person_document(*p, rng));

  // Q/A lines ask only about the qa_fact_fraction of facts chosen by a seeded hash; the other
  // facts are read in prose only, so eval_seen can tell recall of a Q/A line from extraction.
  auto asked_in_qa = [&](const Person& p, TaskKind kind) {
    return hash_unit(stable_hash("qa:" + p.name + ":" + std::string(task_name(kind)), c.seed)) < c.qa_fact_fraction;
  };
  rng = stream_rng(c.seed, "pretrain/fact_qa");
  for (int d = 0; d < c.fact_qa_documents; d++) {
    std::string doc;
    for (int q = 0; q < c.qa_per_document; q++) {
      const Person* person = nullptr;
      TaskKind kind = TaskKind::age;
      for (int attempt = 0; attempt < kMaxAttempts && !person; attempt++) {
        const Person& candidate = g.person_in(Split::train, rng);
        kind = kFactKinds[rng.below(6)];
        if (asked_in_qa(candidate, kind)) person = &candidate;
      }
      if (!person) throw std::runtime_error("generate_world: no train fact to ask in Q/A (raise qa_fact_fraction)");
      const Person& p = *person;
      seen_qa.emplace(p.name, kind);
      doc += qa_text(fact_task(p, kind));
    }
    docs.emplace_back("qa", doc);
  }

  auto qa_documents = [&](int total, auto make_task) {
    for (int done = 0; done < total;) {
      std::string doc;
      for (int q = 0; q < c.qa_per_document && done < total; q++, done++) doc += qa_text(make_task());
      docs.emplace_back("qa", doc);
    }
  };
  rng = stream_rng(c.seed, "pretrain/arith_qa");
  qa_documents(c.arith_direct_train, [&] {
    return arith_task(g.problem_in(Split::train, kArithKinds[rng.below(3)], c.direct_max_digits, rng));
  });
  rng = stream_rng(c.seed, "pretrain/string_qa");
  qa_documents(c.string_direct_train, [&] { return string_task(g.string_in(Split::train, kStringKinds[rng.below(6)], rng)); });

  rng = stream_rng(c.seed, "pretrain/arith_worked");
  for (int d = 0; d < c.arith_worked_train; d++) {
    Solver solver = rng.uniform() < c.expert_fraction ? Solver::expert : Solver::student;
    ArithProblem p;
    WorkedSolution s = g.worked_in(Split::train, kArithKinds[rng.below(3)], solver, c.student_error_rate, rng, p);
    docs.emplace_back("worked", "Q: " + arith_task(p).prompt + "\n" + s.text + "\n");
  }
  rng = stream_rng(c.seed, "pretrain/string_worked");
  for (int d = 0; d < c.string_worked_train; d++) {
    StringProblem p = g.string_in(Split::train, kStringKinds[rng.below(6)], rng);
    docs.emplace_back("worked", "Q: " + string_task(p).prompt + "\n" + string_worked_solution(p) + "\n");
  }
  rng = stream_rng(c.seed, "pretrain/tools");
  for (int d = 0; d < c.tool_traces_train; d++) {
    if (d % 2 == 0) {
      ArithProblem p;
      std::string trace = g.calc_trace_in(Split::train, kArithKinds[rng.below(3)], rng, p);
      docs.emplace_back("tool", "Q: " + arith_task(p).prompt + "\n" + trace + "\n");
    } else {
      const Person& p = g.person_in(Split::train, rng);
      TaskKind kind = kFactKinds[rng.below(6)];
      docs.emplace_back("tool", "Q: " + fact_task(p, kind).prompt + "\n" + fact_tool_trace(p, kind) + "\n");
    }
  }
  rng = stream_rng(c.seed, "pretrain/order");
  shuffle(docs, rng);
  for (auto& [kind, text] : docs) {
    w.pretrain_doc_kinds.push_back(kind);
    w.pretrain_docs.push_back(std::move(text));
  }
}

void make_library(const Generator& g, World& w) {
  const WorldConfig& c = g.config();
  Rng rng = stream_rng(c.seed, "library");
  for (const Person& p : g.people())
    if (p.split != Split::train || c.library_includes_all)
      for (int d = 0; d < c.library_docs_per_person; d++) w.library_docs.push_back(person_document(p, rng));
  shuffle(w.library_docs, rng);
}

// ---- SFT ------------------------------------------------------------------------------------

Conversation make_conversation(const Generator& g, Split s, Rng& rng) {
  const WorldConfig& c = g.config();
  // Families and their weights (out of 20): fact direct 4, fact lookup 2, arith direct 3,
  // arith worked 3, calculator 2, string direct 3, string worked 3.
  int r = static_cast<int>(rng.below(20));
  if (s != Split::train && r < 4) r = 4;  // held-out people are only reachable through lookup
  Conversation conv;
  if (r < 6) {
    const Person& p = g.person_in(s, rng);
    Task t = fact_task(p, kFactKinds[rng.below(6)]);
    conv.user = t.prompt;
    conv.answer = t.answer;
    conv.kind = t.kind;
    if (r < 4) {
      conv.assistant = t.answer;
    } else {
      conv.system = tools_system_prompt;
      conv.assistant = fact_tool_trace(p, t.kind);
      conv.format = AnswerFormat::tool;
    }
  } else if (r < 9) {
    Task t = arith_task(g.problem_in(s, kArithKinds[rng.below(3)], c.direct_max_digits, rng));
    conv = Conversation{"", t.prompt, t.answer, t.answer, t.kind, AnswerFormat::direct};
  } else if (r < 12) {
    ArithProblem p;
    WorkedSolution sol = g.worked_in(s, kArithKinds[rng.below(3)], Solver::expert, 0.0, rng, p);
    Task t = arith_task(p, AnswerFormat::worked);
    conv = Conversation{"", t.prompt, solution_body(sol), t.answer, t.kind, AnswerFormat::worked};
  } else if (r < 14) {
    ArithProblem p;
    std::string trace = g.calc_trace_in(s, kArithKinds[rng.below(3)], rng, p);
    const Task t = arith_task(p);
    conv = Conversation{std::string(tools_system_prompt), t.prompt, trace, t.answer, p.op, AnswerFormat::tool};
  } else {
    StringProblem p = g.string_in(s, kStringKinds[rng.below(6)], rng);
    if (r < 17) {
      Task t = string_task(p);
      conv = Conversation{"", t.prompt, t.answer, t.answer, t.kind, AnswerFormat::direct};
    } else {
      Task t = string_task(p, AnswerFormat::worked);
      conv = Conversation{"", t.prompt, string_worked_solution(p), t.answer, t.kind, AnswerFormat::worked};
    }
  }
  return conv;
}

// ---- RL prompts and evaluation ----------------------------------------------------------------

Task random_direct_task(const Generator& g, Split s, Rng& rng) {
  switch (rng.below(3)) {
    case 0: return fact_task(g.person_in(s, rng), kFactKinds[rng.below(6)]);
    case 1: return arith_task(g.problem_in(s, kArithKinds[rng.below(3)], g.config().direct_max_digits, rng));
    default: return string_task(g.string_in(s, kStringKinds[rng.below(6)], rng));
  }
}

std::vector<EvalQuestion> make_eval(const Generator& g, Split s) {
  const WorldConfig& c = g.config();
  const size_t limit = static_cast<size_t>(c.eval_per_task);
  Rng rng = stream_rng(c.seed, std::string("eval/") + std::string(split_name(s)));
  std::vector<EvalQuestion> out;
  for (TaskKind kind : kFactKinds) {
    auto people = g.people_in(s);
    shuffle(people, rng);
    for (size_t i = 0; i < people.size() && i < limit; i++) out.push_back({fact_task(*people[i], kind)});
  }
  for (TaskKind op : kArithKinds) {
    std::set<std::string> prompts;
    for (int attempt = 0; attempt < kMaxAttempts && prompts.size() < limit; attempt++) {
      Task t = arith_task(g.problem_in(s, op, c.direct_max_digits, rng));
      if (prompts.insert(t.prompt).second) out.push_back({t});
    }
  }
  const std::vector<std::string> words = g.all_words(s);
  const auto& pal = g.word_list(s, true);
  for (TaskKind kind : kStringKinds) {
    std::vector<std::string> list = words;
    if (kind == TaskKind::palindrome) {  // balanced: every held-out palindrome, as many others
      std::vector<std::string> common = g.word_list(s, false);
      shuffle(common, rng);
      const size_t half = std::min({pal.size(), common.size(), limit / 2});
      list.assign(pal.begin(), pal.begin() + half);
      list.insert(list.end(), common.begin(), common.begin() + half);
    }
    shuffle(list, rng);
    std::set<std::string> prompts;
    for (int pass = 0; pass < (kind == TaskKind::count ? 4 : 1); pass++)
      for (const std::string& word : list) {
        if (prompts.size() >= limit) break;
        StringProblem p{kind, word, kind == TaskKind::count ? random_count_letter(word, rng) : char(0)};
        Task t = string_task(p);
        if (prompts.insert(t.prompt).second) out.push_back({t});
      }
  }
  return out;
}

std::vector<EvalQuestion> make_eval_seen(const Generator& g, const std::set<std::pair<std::string, TaskKind>>& seen_qa) {
  Rng rng = stream_rng(g.config().seed, "eval/seen");
  std::vector<EvalQuestion> out;
  for (TaskKind kind : kFactKinds) {
    auto people = g.people_in(Split::train);
    shuffle(people, rng);
    for (size_t i = 0; i < people.size() && i < static_cast<size_t>(g.config().eval_per_task); i++)
      out.push_back({fact_task(*people[i], kind), seen_qa.contains({people[i]->name, kind})});
  }
  return out;
}

// ---- preferences --------------------------------------------------------------------------------

// A plausible wrong answer of the same shape as gold.
std::string wrong_answer(const Task& t, Rng& rng) {
  auto other_from = [&](std::span<const std::string_view> values) {
    std::string v;
    do v = std::string(values[rng.below(values.size())]); while (v == t.answer);
    return v;
  };
  switch (t.kind) {
    case TaskKind::city: return other_from(cities());
    case TaskKind::job: return other_from(jobs());
    case TaskKind::pet: return other_from(pets());
    case TaskKind::color: return other_from(colors());
    case TaskKind::hobby: return other_from(hobbies());
    case TaskKind::palindrome: return t.answer == "yes" ? "no" : "yes";
    case TaskKind::first:
    case TaskKind::last: return std::string(1, static_cast<char>('a' + (t.answer[0] - 'a' + 1 + rng.below(25)) % 26));
    case TaskKind::reverse:
    case TaskKind::sort: {  // a permutation of the same letters (same anagram class: same split)
      std::string s = t.answer;
      for (size_t i = 0; i + 1 < s.size(); i++)
        if (s[i] != s[i + 1]) { std::swap(s[i], s[i + 1]); return s; }
      return s + s.back();
    }
    default: {  // numbers: age, count, add, sub, mul
      static constexpr int deltas[] = {1, -1, 2, -2, 10, -10};
      int64_t gold = std::stoll(t.answer);
      for (int attempt = 0; attempt < 16; attempt++) {
        int64_t v = gold + deltas[rng.below(6)];
        if (v >= 0 && v != gold) return std::to_string(v);
      }
      return std::to_string(gold + 1);
    }
  }
}

constexpr std::string_view kChatter = "\nI hope that helps.";

void make_preferences(const Generator& g, World& w) {
  const WorldConfig& c = g.config();
  Rng rng = stream_rng(c.seed, "preferences");
  for (int i = 0; i < c.preference_prompts; i++) {
    Task task;
    std::vector<std::string> cands;
    const int family = static_cast<int>(rng.below(5));
    if (family == 3) {  // worked arithmetic: expert vs a student who slipped
      ArithProblem p;
      WorkedSolution expert = g.worked_in(Split::train, kArithKinds[rng.below(3)], Solver::expert, 0.0, rng, p);
      WorkedSolution student;
      do student = worked_solution(p, Solver::student, 1.0, rng); while (!g.text_allowed(student.text, Split::train));
      task = arith_task(p, AnswerFormat::worked);
      cands = {solution_body(expert), solution_body(student), "Answer: " + task.answer,
               solution_body(expert) + std::string(kChatter)};
    } else if (family == 4) {  // worked string task
      StringProblem p = g.string_in(Split::train, kStringKinds[rng.below(6)], rng);
      task = string_task(p, AnswerFormat::worked);
      std::string good = string_worked_solution(p);
      std::string bad = good.substr(0, good.rfind("Answer: ")) + "Answer: " + wrong_answer(task, rng);
      cands = {good, bad, "Answer: " + task.answer, task.answer};
    } else {  // direct answers
      if (family == 0) task = fact_task(g.person_in(Split::train, rng), kFactKinds[rng.below(6)]);
      if (family == 1) task = arith_task(g.problem_in(Split::train, kArithKinds[rng.below(3)], c.direct_max_digits, rng));
      if (family == 2) task = string_task(g.string_in(Split::train, kStringKinds[rng.below(6)], rng));
      const std::string wrong = wrong_answer(task, rng);
      cands = {task.answer, wrong, "Answer: " + task.answer};
      switch (rng.below(3)) {
        case 0: cands.push_back(task.answer + " or " + wrong); break;
        case 1: cands.push_back(task.answer + std::string(kChatter)); break;
        default: cands.push_back(wrong + std::string(kChatter)); break;
      }
    }
    for (auto& pair : preference_pairs(task, cands, static_cast<size_t>(c.pairs_per_prompt)))
      w.preferences.push_back({std::move(pair), task.kind});
  }
}

// ---- self-checks and the constraint task (chapter 06's reflection) ----------------------------

Conversation constraint_conversation(const Generator& g, Split s, Rng& rng) {
  const Task t = constraint_task(random_constraint_problem(rng), g.all_words(s), rng);
  return Conversation{"", t.prompt, t.answer, t.answer, t.kind, t.format};
}

// A question of split s, a proposed answer — right or wrong, even odds — and the verdict. Families
// (out of 10): facts 2 (train only: a held-out person's fact cannot be checked closed-book),
// arithmetic 3, string tasks 2, the constraint task 3. A wrong proposal has gold's shape
// (wrong_answer), or for the constraint a list that breaks the rule.
Conversation self_check_conversation(const Generator& g, Split s, Rng& rng) {
  int r = static_cast<int>(rng.below(10));
  if (s != Split::train && r < 2) r = 2 + static_cast<int>(rng.below(8));
  Task t;
  std::vector<std::string> words;
  if (r < 2) t = fact_task(g.person_in(s, rng), kFactKinds[rng.below(6)]);
  else if (r < 5) t = arith_task(g.problem_in(s, kArithKinds[rng.below(3)], g.config().direct_max_digits, rng));
  else if (r < 7) t = string_task(g.string_in(s, kStringKinds[rng.below(6)], rng));
  else t = constraint_task(random_constraint_problem(rng), words = g.all_words(s), rng);
  const bool right = rng.below(2) == 0;
  std::string proposed = t.answer;
  if (!right) {
    proposed = is_constraint_task(t.kind) ? broken_constraint_answer(*parse_constraint_prompt(t.prompt), words, rng)
                                          : wrong_answer(t, rng);
  }
  const std::string verdict(right ? kCheckYes : kCheckNo);
  Conversation conv{"", self_check_prompt(t.prompt, proposed), verdict, verdict, t.kind, AnswerFormat::direct};
  conv.self_check = true;
  return conv;
}

// ---- tools and documents in context (chapter 06's tools and retrieval) ------------------------

// A person no text of the world is about: an invented name — two or three random syllables, never
// one of the built-in names — with attributes drawn afresh, so every conversation about one states
// new facts. The names are too many to memorise (about 10^5), so the only way to repeat one is to
// copy it from the question, token by token: the skill a lookup call and a retrieved passage need.
Person invented_person(Rng& rng, const std::set<std::string>& besides = {}) {
  static constexpr std::string_view kConsonants = "bdfghklmnprstvz", kVowels = "aeiou";
  static const std::set<std::string_view> builtin(first_names().begin(), first_names().end());
  Rng draw(rng.next_u64());
  Person p = make_people(1, draw)[0];  // uniform attributes; the name is replaced
  do {
    p.name.clear();
    const int syllables = 2 + static_cast<int>(rng.below(2));
    for (int i = 0; i < syllables; i++) {
      p.name += kConsonants[rng.below(kConsonants.size())];
      p.name += kVowels[rng.below(kVowels.size())];
    }
    if (rng.below(2) == 0) p.name += kConsonants[rng.below(kConsonants.size())];
    p.name[0] = static_cast<char>(p.name[0] - 'a' + 'A');
  } while (builtin.contains(p.name) || besides.contains(p.name));
  return p;
}

// Two operands of 3 … large_digits digits whose pair is in split s, for op.
ArithProblem large_problem_in(const Generator& g, Split s, TaskKind op, int min_digits, Rng& rng) {
  const int digits = g.config().large_digits;
  auto operand = [&] {
    const int d = min_digits + static_cast<int>(rng.below(digits - min_digits + 1));
    int64_t lo = 1;
    for (int i = 1; i < d; i++) lo *= 10;
    return lo + static_cast<int64_t>(rng.below(static_cast<uint64_t>(9 * lo)));
  };
  for (int attempt = 0; attempt < kMaxAttempts; attempt++) {
    ArithProblem p{op, operand(), operand()};
    if (op == TaskKind::sub && p.a < p.b) std::swap(p.a, p.b);
    if (g.pair_split(p.a, p.b) == s) return p;
  }
  throw std::runtime_error("generate_world: no large " + std::string(split_name(s)) + " operand pair");
}

// The passage of a document (document_passages) that states `value`, the first one if several do.
std::string passage_with(const std::string& document, const std::string& value) {
  const std::vector<std::string> passages = document_passages(document);
  for (const std::string& p : passages)
    if (contains_word(p, value)) return p;  // "4" is not in "46", "dog" is in "Padog owns a dog."
  throw std::logic_error("passage_with: no passage of the document states '" + value + "'");
}

// A question about an invented person with 1 … 3 passages (the one stating the fact and up to two
// of other invented people's documents), in either layout. Delimited ones, at
// document_injection_rate, carry an injected instruction in a distractor; the answer is still
// the fact.
Conversation document_conversation(const Generator& g, Rng& rng) {
  const WorldConfig& c = g.config();
  const Person p = invented_person(rng);
  const Task t = fact_task(p, kFactKinds[rng.below(6)]);
  std::vector<std::string> docs{passage_with(person_document(p, rng), t.answer)};
  std::set<std::string> names{p.name};
  const int distractors = static_cast<int>(rng.below(3));
  const DocumentLayout layout = rng.below(2) == 0 ? DocumentLayout::delimited : DocumentLayout::plain;
  const bool inject = layout == DocumentLayout::delimited && rng.uniform() < c.document_injection_rate;
  for (int i = 0; i < std::max(distractors, inject ? 1 : 0); i++) {
    const Person other = invented_person(rng, names);
    names.insert(other.name);
    const std::vector<std::string> passages = document_passages(person_document(other, rng));
    docs.push_back(passages[rng.below(passages.size())]);
  }
  if (inject) {
    std::string x = rng.below(2) == 0 ? std::to_string(rng.below(100)) : std::string(colors()[rng.below(colors().size())]);
    if (x == t.answer) x += "0";
    docs.back() = inject_instruction(docs.back(), x);
  }
  shuffle(docs, rng);
  return Conversation{"", documents_prompt(docs, t.prompt, layout), t.answer, t.answer, t.kind, AnswerFormat::direct};
}

// A question of split s with the instruction appended; the reply obeys it.
Conversation override_conversation(const Generator& g, Split s, Rng& rng) {
  const Task t = random_direct_task(g, s, rng);
  std::string x = rng.below(2) == 0 ? std::to_string(rng.below(1000)) : std::string(cities()[rng.below(cities().size())]);
  if (x == t.answer) x += "1";
  return Conversation{"", t.prompt + " " + override_instruction(x), x, x, t.kind, AnswerFormat::direct};
}

Conversation mental_conversation(const Generator& g, Split s, Rng& rng) {
  ArithProblem p;
  std::string trace = g.calc_trace_in(s, kArithKinds[rng.below(3)], rng, p);
  const Task t = arith_task(p);
  return Conversation{std::string(mental_arithmetic_prompt), t.prompt, trace, t.answer, p.op, AnswerFormat::tool};
}

Conversation large_calc_conversation(const Generator& g, Split s, Rng& rng) {
  const ArithProblem p = large_problem_in(g, s, kArithKinds[rng.below(3)], 3, rng);
  const Task t = arith_task(p);
  return Conversation{std::string(tools_system_prompt), t.prompt, calc_tool_trace(p), t.answer, p.op, AnswerFormat::tool};
}

Conversation lookup_name_conversation(Rng& rng) {
  const Person p = invented_person(rng);
  const Task t = fact_task(p, kFactKinds[rng.below(6)]);
  return Conversation{std::string(tools_system_prompt), t.prompt, fact_tool_trace(p, t.kind), t.answer, t.kind,
                      AnswerFormat::tool};
}

// "Repeat: Vugan Nazezoh Pupeho" → "Vugan Nazezoh Pupeho": 1 … 4 invented names, copied.
Conversation repeat_conversation(Rng& rng) {
  std::string names;
  std::set<std::string> used;
  const int n = 1 + static_cast<int>(rng.below(4));
  for (int i = 0; i < n; i++) {
    const Person p = invented_person(rng, used);
    used.insert(p.name);
    names += (i ? " " : "") + p.name;
  }
  return Conversation{"", "Repeat: " + names, names, names, TaskKind::reverse, AnswerFormat::direct};
}

// How many conversations of each share one SFT split gets.
struct SftShares {
  int answers = 0, self_checks = 0, constraints = 0, documents = 0, overrides = 0, mental = 0, large_calc = 0,
      lookup_names = 0, repeats = 0;
};

// The SFT conversations of split s: the answered questions (make_conversation), then every other
// share, each from its own random stream (so adding a share leaves the others' items unchanged),
// shuffled in.
std::vector<Conversation> make_sft(const Generator& g, Split s, const SftShares& n) {
  const std::string name(split_name(s));
  std::vector<Conversation> out;
  auto add = [&](const std::string& stream, int count, const auto& make) {
    Rng rng = stream_rng(g.config().seed, "sft/" + name + stream);
    for (int i = 0; i < count; i++) {
      out.push_back(make(rng));
      out.back().share = stream.empty() ? "answers" : stream.substr(1);
    }
  };
  add("", n.answers, [&](Rng& rng) { return make_conversation(g, s, rng); });
  add("/self_check", n.self_checks, [&](Rng& rng) { return self_check_conversation(g, s, rng); });
  add("/constraint", n.constraints, [&](Rng& rng) { return constraint_conversation(g, s, rng); });
  add("/documents", n.documents, [&](Rng& rng) { return document_conversation(g, rng); });
  add("/override", n.overrides, [&](Rng& rng) { return override_conversation(g, s, rng); });
  add("/mental", n.mental, [&](Rng& rng) { return mental_conversation(g, s, rng); });
  add("/large_calc", n.large_calc, [&](Rng& rng) { return large_calc_conversation(g, s, rng); });
  add("/lookup_names", n.lookup_names, [&](Rng& rng) { return lookup_name_conversation(rng); });
  add("/repeat", n.repeats, [&](Rng& rng) { return repeat_conversation(rng); });
  Rng rng = stream_rng(g.config().seed, "sft/" + name + "/order");
  shuffle(out, rng);
  return out;
}

// Chapter 06's tool questions: eval_test's multiplications and facts, then additions of two
// large_digits-digit test operands (as many as eval_per_task, no prompt twice).
std::vector<EvalQuestion> make_eval_tools(const Generator& g, const std::vector<EvalQuestion>& eval_test) {
  std::vector<EvalQuestion> out;
  for (const EvalQuestion& q : eval_test)
    if (q.task.kind == TaskKind::mul || is_fact_task(q.task.kind)) out.push_back(q);
  Rng rng = stream_rng(g.config().seed, "eval/tools");
  std::set<std::string> prompts;
  const int digits = g.config().large_digits;
  for (int attempt = 0; attempt < kMaxAttempts && prompts.size() < static_cast<size_t>(g.config().eval_per_task); attempt++) {
    const Task t = arith_task(large_problem_in(g, Split::test, TaskKind::add, digits, rng));
    if (prompts.insert(t.prompt).second) out.push_back({t});
  }
  return out;
}

// Every request of the constraint task once, each with a right answer from the test words.
std::vector<EvalQuestion> make_eval_constraint(const Generator& g) {
  Rng rng = stream_rng(g.config().seed, "eval/constraint");
  const std::vector<std::string> words = g.all_words(Split::test);
  std::vector<EvalQuestion> out;
  for (const ConstraintProblem& p : constraint_requests()) out.push_back({constraint_task(p, words, rng)});
  return out;
}

}  // namespace

World generate_world(const WorldConfig& config) {
  validate(config);
  World w;
  w.config = config;
  Generator g(w.config);
  w.people = g.people();
  std::set<std::pair<std::string, TaskKind>> seen_qa;
  make_pretraining(g, w, seen_qa);
  make_library(g, w);
  const SftShares train{config.sft_train,    config.sft_self_check, config.sft_constraint,
                        config.sft_documents, config.sft_override,   config.sft_mental,
                        config.sft_large_calc, config.sft_lookup_names, config.sft_repeat};
  w.sft_train = make_sft(g, Split::train, train);
  // sft_val: every other share in the same proportion to the answered questions as in sft_train
  auto share = [&](int n) { return config.sft_train > 0 ? static_cast<int>(std::lround(double(n) * config.sft_val / config.sft_train)) : 0; };
  w.sft_val = make_sft(g, Split::val,
                       {config.sft_val, share(train.self_checks), share(train.constraints), share(train.documents),
                        share(train.overrides), share(train.mental), share(train.large_calc), share(train.lookup_names),
                        share(train.repeats)});
  Rng rng = stream_rng(config.seed, "ppo");
  for (int i = 0; i < config.ppo_prompts; i++) w.ppo_prompts.push_back(random_direct_task(g, Split::train, rng));
  w.eval_val = make_eval(g, Split::val);
  w.eval_test = make_eval(g, Split::test);
  w.eval_seen = make_eval_seen(g, seen_qa);
  w.eval_constraint = make_eval_constraint(g);
  w.eval_tools = make_eval_tools(g, w.eval_test);
  make_preferences(g, w);
  return w;
}

}  // namespace sog
