// Arithmetic: addition, subtraction and multiplication of non-negative integers, with a direct
// answer and a step-by-step worked solution that a small transformer can learn, written by a
// careful expert (always right) or a sloppy student (one slip at a set rate).
//
// Worked solutions, digit by digit from the right (columns: ones, tens, hundreds, thousands, …):
//
//   Expert solution:                      Expert solution:              Expert solution:
//   478 + 56                              503 - 76                      478 * 56
//   ones: 8 + 6 = 14, write 4, carry 1    ones: 3 - 6 needs a borrow,   478 * 6 = 2868
//   tens: 7 + 5 + 1 = 13, write 3, carry 1      13 - 6 = 7, write 7,     478 * 50 = 23900
//   hundreds: 4 + 1 = 5, write 5                borrow 1                sum: 2868 + 23900 = 26768
//   Answer: 534                           tens: 0 - 7 - 1 needs …       Answer: 26768
//
// (the borrow line is one line in the text). Subtraction problems always have a ≥ b.
// A student's slip is a wrong written digit in one column or a dropped carry (borrow), or, for
// multiplication, a wrong digit in one partial product or in the sum; later steps follow the
// slip consistently, so a slipped solution always ends with a wrong answer.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/tensor/random.h"
#include "common/world/task.h"

namespace sog {

struct ArithProblem {
  TaskKind op = TaskKind::add;  // add, sub or mul
  int64_t a = 0, b = 0;         // sub: a >= b
};

int64_t arith_answer(const ArithProblem& p);
std::string arith_expression(const ArithProblem& p);  // "478 + 56"
// {"What is 478 + 56?", "534", add, direct}; worked: the prompt ends with step_by_step_suffix.
Task arith_task(const ArithProblem& p, AnswerFormat format = AnswerFormat::direct);

// A number with a uniformly chosen digit count in [1, max_digits], then uniform among the numbers
// with that many digits (0 … 9 for one digit).
int64_t random_operand(int max_digits, Rng& rng);
// A random problem: op uniform among add/sub/mul (or the given one), operands by random_operand,
// swapped for sub so that a >= b.
ArithProblem random_arith_problem(int max_digits, Rng& rng);
ArithProblem random_arith_problem(TaskKind op, int max_digits, Rng& rng);

enum class Solver { expert, student };

struct WorkedSolution {
  std::string text;  // starts with "Expert solution:\n" or "Student solution:\n", ends with "Answer: N"
  int64_t final_answer = 0;
  bool slipped = false;  // the student made a mistake (then final_answer != arith_answer)
};

// An expert never slips; a student slips with probability error_rate.
WorkedSolution worked_solution(const ArithProblem& p, Solver solver, double error_rate, Rng& rng);
// The same without the first tag line: what an SFT assistant writes.
std::string solution_body(const WorkedSolution& s);

// Every operand pair "x OP y" (OP one of + - *, spaces optional) written anywhere in text, as
// (min, max): "ones: 7 + 5 + 1 = 13" → (5,7), (1,5). Numbers are maximal runs of digits.
// The generator rejects training text that writes a held-out pair; the split tests scan with it.
std::vector<std::pair<int64_t, int64_t>> operand_pairs_in_text(std::string_view text);

}  // namespace sog
