#include "common/world/constraint.h"

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>

#include "common/world/strings.h"

namespace sog {

static constexpr std::array<std::string_view, 10> kNumberWords = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};

static bool in_world_list(std::string_view word) {
  for (auto list : {common_words(), palindrome_words()})
    if (std::find(list.begin(), list.end(), word) != list.end()) return true;
  return false;
}

static bool has_letter(std::string_view word, char letter) { return word.find(letter) != std::string_view::npos; }

ConstraintProblem random_constraint_problem(Rng& rng) {
  ConstraintProblem p;
  p.count = kConstraintMinWords + static_cast<int>(rng.below(kConstraintMaxWords - kConstraintMinWords + 1));
  p.letter = kConstraintLetters[rng.below(kConstraintLetters.size())];
  return p;
}

std::vector<ConstraintProblem> constraint_requests() {
  std::vector<ConstraintProblem> out;
  for (char letter : kConstraintLetters)
    for (int count = kConstraintMinWords; count <= kConstraintMaxWords; count++) out.push_back({count, letter});
  return out;
}

static void check_problem(const ConstraintProblem& p, const char* where) {
  if (p.count < 1 || p.count > 9 || p.letter < 'a' || p.letter > 'z')
    throw std::invalid_argument(std::string(where) + ": " + std::to_string(p.count) + " words without '" +
                                std::string(1, p.letter) + "', expected 1 … 9 words and a lower-case letter");
}

std::string constraint_prompt(const ConstraintProblem& p) {
  check_problem(p, "constraint_prompt");
  return "Write " + std::string(kNumberWords[p.count]) + " different words without the letter '" +
         std::string(1, p.letter) + "'.";
}

std::optional<ConstraintProblem> parse_constraint_prompt(std::string_view prompt) {
  for (int count = 1; count <= 9; count++)
    for (char letter = 'a'; letter <= 'z'; letter++)
      if (prompt == constraint_prompt({count, letter})) return ConstraintProblem{count, letter};
  return std::nullopt;
}

// "a, b ,c" → {"a", "b", "c"} (each trimmed of spaces)
static std::vector<std::string> split_list(std::string_view answer) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = std::min(answer.find(',', start), answer.size());
    std::string_view item = answer.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    out.emplace_back(item);
    if (comma == answer.size()) return out;
    start = comma + 1;
  }
}

std::optional<std::string> constraint_violation(std::string_view answer, const ConstraintProblem& p) {
  const std::vector<std::string> words = split_list(answer);
  if (static_cast<int>(words.size()) != p.count)
    return std::to_string(words.size()) + (words.size() == 1 ? " word" : " words") + ", expected " + std::to_string(p.count);
  std::set<std::string> seen;
  for (const std::string& w : words) {
    if (!in_world_list(w)) return "'" + w + "' is not a word of the world's list";
    if (has_letter(w, p.letter)) return "'" + w + "' has the letter '" + std::string(1, p.letter) + "'";
    if (!seen.insert(w).second) return "'" + w + "' is written twice";
  }
  return std::nullopt;
}

static std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// `count` different words of `pool`, in a random order.
static std::vector<std::string> draw(std::vector<std::string> pool, int count, Rng& rng) {
  for (int i = 0; i < count; i++) std::swap(pool[i], pool[i + rng.below(pool.size() - i)]);
  pool.resize(count);
  return pool;
}

static std::vector<std::string> words_with(std::span<const std::string> words, char letter, bool with) {
  std::vector<std::string> out;
  for (const auto& w : words)
    if (has_letter(w, letter) == with) out.push_back(w);
  return out;
}

std::string constraint_answer(const ConstraintProblem& p, std::span<const std::string> words, Rng& rng) {
  check_problem(p, "constraint_answer");
  const std::vector<std::string> pool = words_with(words, p.letter, false);
  if (static_cast<int>(pool.size()) < p.count + 1)
    throw std::runtime_error("constraint_answer: only " + std::to_string(pool.size()) + " words without '" +
                             std::string(1, p.letter) + "'");
  return joined(draw(pool, p.count, rng));
}

std::string broken_constraint_answer(const ConstraintProblem& p, std::span<const std::string> words, Rng& rng) {
  check_problem(p, "broken_constraint_answer");
  const std::vector<std::string> pool = words_with(words, p.letter, false);
  const std::vector<std::string> offending = words_with(words, p.letter, true);
  if (static_cast<int>(pool.size()) < p.count + 1 || offending.empty())
    throw std::runtime_error("broken_constraint_answer: too few words with and without '" + std::string(1, p.letter) + "'");
  std::vector<std::string> list = draw(pool, p.count + 1, rng);
  const uint64_t kind = rng.below(6);
  switch (p.count < 2 && kind == 2 ? 3 : kind) {  // one word cannot be written twice
    case 0: list.resize(p.count - 1); break;  // one word too few
    case 1: break;                            // one word too many
    case 2: {                                 // a word written twice
      list.resize(p.count);
      const size_t i = rng.below(p.count), j = (i + 1 + rng.below(p.count - 1)) % p.count;
      list[i] = list[j];
      break;
    }
    default:  // one word that has the letter
      list.resize(p.count);
      list[rng.below(p.count)] = offending[rng.below(offending.size())];
      break;
  }
  return joined(list);
}

Task constraint_task(const ConstraintProblem& p, std::span<const std::string> words, Rng& rng) {
  return Task{constraint_prompt(p), constraint_answer(p, words, rng), TaskKind::avoid, AnswerFormat::direct};
}

double constraint_chance(const ConstraintProblem& p) {
  check_problem(p, "constraint_chance");
  double all = 0, lacking = 0;
  for (auto list : {common_words(), palindrome_words()})
    for (std::string_view w : list) {
      all++;
      lacking += !has_letter(w, p.letter);
    }
  double chance = 1;
  for (int i = 0; i < p.count; i++) chance *= std::max(0.0, lacking - i) / (all - i);
  return chance;
}

}  // namespace sog
