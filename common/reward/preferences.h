// The comparison data of the reward model (InstructGPT §3.5, the talk's "reward modeling" stage):
// for each prompt, K replies of the SFT assistant, ranked by a labeler, and the pairs
// (better, worse) that the ranking implies. The reward model is trained on the pairs; this file
// makes them, adds label noise, and writes and reads them.
//
//   prompt  "What is 3 + 4?"          task add, answer 7
//   replies "7"  "7."  "Answer: 7"  "8"  "7"           (K = 5 samples; "7" twice)
//   ranked  0 "7"            correct, well-formed, 1 byte
//           1 "7."           correct, well-formed, 2 bytes  (the grader drops one trailing '.')
//           2 "Answer: 7"    correct, malformed (a direct question wants the bare answer)
//           3 "8"            wrong,   well-formed
//   pairs   (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)            C(4,2) = 6: every two grades differ
//
// InstructGPT puts all C(K,2) comparisons of one prompt in one group, so a batch runs each reply
// through the model once and uses its reward in every pair it is part of; a group is that unit.
//
// Files (one JSON object a line; read_preferences tells the two apart line by line):
//   rankings.jsonl  our full record of a group, one group a line, completions in rank order:
//     {"prompt": "What is 3 + 4?", "task": "add", "answer": "7",
//      "completions": [{"text": "7", "correct": true, "well_formed": true}, …],
//      "pairs": [[0, 2], [1, 2]]}
//     A system message before the user's is written as "system": "…" (before "prompt"); any other
//     prompt (several turns) as a list of messages, "prompt": [{"role": …, "content": …}, …].
//     "correct"/"well_formed" are null when unknown (groups read from pairs).
//   pairs.jsonl     TRL's preference form (what other tools read), one pair a line, plus the task:
//     {"prompt": "What is 3 + 4?", "chosen": "7", "rejected": "8", "task": "add"}
//     A prompt other than one user message is written in TRL's conversational form:
//     {"prompt": [messages], "chosen": [{"role": "assistant", "content": "7"}], "rejected": […]}.
//     "task" is left out when unknown.
//
// Design choices:
// - Completions are distinct strings: a sample drawn twice is one completion, so no pair compares
//   a reply with itself and a frequent reply does not weigh more within its group.
// - Pairs are only the strict preferences of the labeler (common/world/labeler.h, rules 1–3); its
//   lexicographic tie-break orders the ranking but is no preference, so tied replies are no pair.
// - Noise (flip_pairs) swaps whole pairs, as a labeler who disagrees would; it draws one number
//   per pair whatever p is, so with the same seed a larger p flips a superset of the pairs.
// - Reading pairs, a group's completions get no grades (-1): a pair file says which reply won,
//   not why. Duplicate and contradicting pairs are kept as written (they weigh the data as the
//   file does).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/chat/chat_template.h"
#include "common/world/task.h"

namespace sog {

// One prompt, its distinct completions, and which beat which: the unit a reward model trains on
// (InstructGPT puts all C(K,2) comparisons of one prompt in one group, so each completion's
// forward pass serves all its pairs).
struct ComparisonGroup {
  Chat prompt;                      // the conversation before the reply (usually one user message)
  std::string task;                 // the world's task name ("add", "city", …) or "" when unknown
  std::string answer;               // the gold answer when known, else ""
  std::vector<std::string> completions;   // distinct reply texts (no <|end|>, no leading template space)
  std::vector<int8_t> correct, well_formed; // per completion, from the grader; -1 = unknown (read from TRL pairs)
  std::vector<std::pair<int32_t, int32_t>> pairs;  // (better, worse) indices into completions
  bool operator==(const ComparisonGroup&) const = default;
};

// The conversation the world puts a task to its assistant in (as its SFT conversations do): the
// tool system prompt (task.h) when the task's format is tool, then the user's question.
Chat task_prompt(const Task& task);

// K completions of one task → a group: completions deduplicated (first occurrence kept), ranked by
// the world's labeler (rank_completions: correct, then well-formed, then shorter, then a
// deterministic tie-break), stored IN RANK ORDER (best first); pairs = every (i, j) with i ranked
// above j that the labeler orders strictly (they differ under rules 1–3; a tie is not a pair),
// in order of i then j. The prompt is task_prompt(task); a caller that prompted otherwise sets
// group.prompt.
ComparisonGroup rank_into_group(const Task& task, const std::vector<std::string>& completions);

// Label noise, to stand in for disagreeing people: each pair is swapped with probability p,
// drawn from a sog::Rng seeded with `seed` (common/tensor/random.h), in group then pair order, so
// the same (groups, p, seed) always flips the same pairs. Returns the number flipped. p in [0, 1]
// else std::invalid_argument.
int64_t flip_pairs(std::vector<ComparisonGroup>& groups, double p, uint64_t seed);

// The two files (formats above), written atomically. A group whose fields disagree (grades not
// one per completion, a pair index out of range) is std::invalid_argument naming the group.
void write_rankings_jsonl(const std::string& path, const std::vector<ComparisonGroup>& groups);
void write_pairs_jsonl(const std::string& path, const std::vector<ComparisonGroup>& groups);

// Reads either file (told apart line by line: a line with "completions" is a ranking, one with
// "chosen"/"rejected" a pair) and returns groups, in the order their first line appears. A ranking
// line is a group as written. Pairs with the same prompt (same messages) and task become one
// group; identical completion strings share one index (in first-seen order, chosen before
// rejected); a pair whose chosen equals its rejected is an error.
// Accepted pair forms (TRL's):
//   standard:        {"prompt": str, "chosen": str, "rejected": str}
//   conversational:  {"prompt": [messages], "chosen": [one assistant message], "rejected": [one assistant message]}
//   conversational, implicit prompt: {"chosen": [messages…, assistant], "rejected": [messages…, assistant]}
//                    (everything before the last message must be identical in both: the prompt)
// optional "task" (string) in every form. Messages are {"role", "content"} as in conversations.h.
// Errors: std::runtime_error "FILE:LINE: <what>" naming the field, e.g.
//   "pairs.jsonl:3: field \"chosen\": expected a string or a list of messages, found number"
// for invalid JSON, missing or mistyped fields, chosen == rejected, a ranking whose pair index is
// out of range; "FILE: …" for a file that cannot be opened or holds no pair at all. Blank lines
// are skipped.
std::vector<ComparisonGroup> read_preferences(const std::string& path);

// Summary per task for reports: prompts (groups), groups with at least one pair, pairs.
struct PreferenceCounts {
  int64_t prompts = 0, prompts_with_pairs = 0, pairs = 0;
  bool operator==(const PreferenceCounts&) const = default;
};
std::map<std::string, PreferenceCounts> count_by_task(const std::vector<ComparisonGroup>& groups);

}  // namespace sog
