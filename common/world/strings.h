// String tasks on short English words: reverse a word, count a letter, sort the letters, is it a
// palindrome (yes/no), first letter, last letter. Each has a direct answer and a worked solution
// that spells the word out letter by letter first (a small model sees letters, not whole words):
//
//   Reverse the word 'apple'.                  → elppa
//     Letters: a p p l e / Reversed: e l p p a / Answer: elppa
//   How many times does the letter 'p' appear in 'apple'?  → 2
//     Letters: a p p l e / p is at positions 2, 3 / Answer: 2
//   Is 'level' a palindrome?                   → yes
//     Letters: l e v e l / Reversed: l e v e l / Same: yes / Answer: yes
//
// Words come from a built-in list of a few hundred common English words (our own list), plus a
// list of palindromes so that the yes/no task can be balanced.
#pragma once
#include <span>
#include <string>
#include <string_view>

#include "common/tensor/random.h"
#include "common/world/task.h"

namespace sog {

std::span<const std::string_view> common_words();  // lower-case, 3 … 7 letters, no palindromes
std::span<const std::string_view> palindrome_words();

struct StringProblem {
  TaskKind kind = TaskKind::reverse;  // reverse, count, sort, palindrome, first or last
  std::string word;
  char letter = 0;  // count only: the letter asked about (may be absent from the word)
};

std::string string_answer(const StringProblem& p);
// {"Reverse the word 'apple'.", "elppa", reverse, direct}; worked: + step_by_step_suffix.
Task string_task(const StringProblem& p, AnswerFormat format = AnswerFormat::direct);
// "Letters: a p p l e\nReversed: e l p p a\nAnswer: elppa" (no tag line: string tasks have
// only one kind of solver, who is always right).
std::string string_worked_solution(const StringProblem& p);

// The letter for a count question about word: one of its letters most of the time, sometimes a
// letter it lacks (answer 0).
char random_count_letter(std::string_view word, Rng& rng);

// The letters of a word in alphabetical order ("apple" → "aelpp"). Words with the same sorted
// letters (anagrams, reversals) always land in the same split.
std::string sorted_letters(std::string_view word);
bool is_palindrome(std::string_view word);

}  // namespace sog
