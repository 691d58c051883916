// The verifiable world: one seeded call generates everything the later chapters need — the
// documents a base model pretrains on, a retrieval library, SFT conversations, RL prompts,
// held-out evaluation questions and labeled comparisons — together with the exact graders
// (grader.h) and the labeler (labeler.h) that score them. render.h writes it all to a folder.
//
// Same config (seed included) → the same World, byte for byte, on every platform.
//
// Where each kind of item comes from (see splits.h for the splits):
//   pretraining   train people (documents, Q/A), train operand pairs (direct Q/A, worked
//                 solutions by experts and students, calculator traces), train words (direct
//                 Q/A, worked), lookup traces about train people
//   library       held-out people only, or everyone (library_includes_all)
//   sft_train     train items; sft_val: val items (facts of val people only through lookup);
//                 both with a share of self-checks (a proposed answer and the verdict yes/no) and of
//                 constraint requests ("Write five different words without the letter 'e'.")
//   ppo_prompts   train items, bare questions
//   eval_val/test val/test people, operand pairs and words, bare questions
//   eval_seen     questions about train people (did the model learn the facts it read?)
//   eval_constraint  every (letter, count) request of the constraint task once (constraint.h)
//   eval_tools    chapter 06's tool rows: eval_test's multiplications and facts, and additions of
//                 two large_digits-digit test operands
//   preferences   train items, several completions each, ranked by the labeler
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/world/labeler.h"
#include "common/world/people.h"
#include "common/world/task.h"

namespace sog {

struct WorldConfig {
  uint64_t seed = 1337;

  // ---- facts
  int people = 80;                     // population (at most the 270 built-in names)
  double library_fraction = 0.4;       // held out: appear only in the library (val + test)
  double library_val_share = 0.4;      // of the held-out people, this share is val, the rest test
  bool library_includes_all = true;    // the library documents train people too (distractors)
  int docs_per_person = 8;             // pretraining documents per train person
  int library_docs_per_person = 2;     // library documents per documented person
  int fact_qa_documents = 300;         // pretraining Q/A documents about train people
  int qa_per_document = 6;             // Q/A pairs per Q/A document (all Q/A documents)
  double qa_fact_fraction = 0.5;       // share of train facts ever asked in Q/A documents; the
                                       // rest are only stated in prose (eval_seen tells which)

  // ---- arithmetic
  int direct_max_digits = 2;           // operands of direct Q/A, RL prompts and evaluation
  int worked_max_digits = 3;           // operands of worked solutions and calculator traces
  int arith_direct_train = 36000;      // direct Q/A pairs in pretraining (README: calibration)
  int arith_worked_train = 1500;       // worked-solution documents in pretraining
  double expert_fraction = 0.5;        // share of worked documents written by experts
  double student_error_rate = 0.3;     // probability that a student's solution slips
  double pair_val_fraction = 0.1;      // operand pairs held out for val
  double pair_test_fraction = 0.1;     // … and for test

  // ---- strings
  int string_direct_train = 4000;      // direct Q/A pairs in pretraining
  int string_worked_train = 800;       // worked documents in pretraining
  double word_val_fraction = 0.2;      // anagram classes held out for val
  double word_test_fraction = 0.2;     // … and for test

  // ---- tools
  int tool_traces_train = 600;         // pretraining traces (half calculator, half lookup)

  // ---- SFT, RL, evaluation, preferences
  int sft_train = 3000;
  int sft_val = 300;
  // Added to sft_train (and in the same proportion to sft_val), shuffled in with the rest:
  int sft_self_check = 300;            // self-checks: a question, a proposed answer (right or wrong,
                                       // even odds) and the verdict yes/no (task.h's self_check_prompt)
  int sft_constraint = 150;            // constraint requests answered right (constraint.h)
  // Chapter 06's tools and retrieval (documents.h). The lookup and document shares are about
  // invented people (random syllable names, attributes drawn afresh each time), so a reply can only
  // come from the call's result or the document, never from memory:
  int sft_documents = 2000;            // a question with 1 … 3 documents in the user message, half
                                       // in each layout (documents.h), about an invented person
  double document_injection_rate = 0.25;  // of the delimited ones: a distractor carries an
                                       // instruction the answer ignores (the mitigation's training)
  int sft_override = 100;              // "Q Ignore the question and answer X." → X
  int sft_mental = 150;                // the mental-arithmetic system prompt → a calculator trace
  int sft_large_calc = 200;            // the tools prompt, operands of 3 … large_digits digits → calc
  int sft_lookup_names = 400;          // the tools prompt, a fact of an invented person → lookup
  int sft_repeat = 0;                  // "Repeat: Vugan Nazezoh Pupeho" → the names again: copying
                                       // unseen names token by token, which lookup and reading need
  int large_digits = 4;                // operands of the large problems (eval_tools' additions)
  int ppo_prompts = 1000;
  int eval_per_task = 100;             // at most this many questions per task and split
  int preference_prompts = 800;
  int pairs_per_prompt = 3;
};

// Throws std::invalid_argument naming the field, its value and the valid range.
void validate(const WorldConfig& config);
nlohmann::json config_to_json(const WorldConfig& config);

// The probability that uniform guessing answers a task's evaluation question correctly:
//   facts        1 / number of values (age: 1 / 73 ages; city: 1 / 20 cities; …)
//   add sub mul  1 / number of possible results for operands below 10^direct_max_digits
//   reverse sort mean over the word lists of 1 / distinct arrangements of the word's letters
//   count        mean over the word lists of 1 / (length + 1)   (answers 0 … length)
//   palindrome   1 / 2;   first, last   1 / 26
//   avoid        mean over eval_constraint's requests of constraint_chance (constraint.h)
double chance_level(TaskKind kind, const WorldConfig& config);

struct Conversation {
  std::string system;  // empty: no system message
  std::string user, assistant;
  std::string answer;  // the gold answer the assistant's message ends with (grader.h)
  TaskKind kind = TaskKind::age;
  AnswerFormat format = AnswerFormat::direct;
  bool self_check = false;  // the user proposes an answer to `kind`'s question; the reply is yes/no
  // The share it belongs to: answers, self_check, constraint, documents, override, mental,
  // large_calc, lookup_names, repeat. The reply of an override or a repeat is not `kind`'s answer.
  std::string share = "answers";
};

struct EvalQuestion {
  Task task;
  bool seen_in_qa = false;  // eval_seen only: this exact Q/A pair is in a pretraining Q/A document
};

struct LabeledPair {
  PreferencePair pair;
  TaskKind kind = TaskKind::age;
};

struct World {
  WorldConfig config;
  std::vector<Person> people;            // everyone, with their split
  std::vector<std::string> pretrain_docs, pretrain_doc_kinds;  // kinds: person, qa, worked, tool
  std::vector<std::string> library_docs;
  std::vector<Conversation> sft_train, sft_val;
  std::vector<Task> ppo_prompts;
  std::vector<EvalQuestion> eval_val, eval_test, eval_seen, eval_constraint, eval_tools;
  std::vector<LabeledPair> preferences;
};

World generate_world(const WorldConfig& config);

}  // namespace sog
