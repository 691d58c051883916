#include "common/world/arithmetic.h"

#include <algorithm>
#include <stdexcept>

namespace sog {

int64_t arith_answer(const ArithProblem& p) {
  switch (p.op) {
    case TaskKind::add: return p.a + p.b;
    case TaskKind::sub: return p.a - p.b;
    case TaskKind::mul: return p.a * p.b;
    default: break;
  }
  throw std::invalid_argument("arith_answer: task \"" + std::string(task_name(p.op)) + "\" is not add, sub or mul");
}

static char op_symbol(TaskKind op) {
  switch (op) {
    case TaskKind::add: return '+';
    case TaskKind::sub: return '-';
    case TaskKind::mul: return '*';
    default: break;
  }
  throw std::invalid_argument("op_symbol: task \"" + std::string(task_name(op)) + "\" is not add, sub or mul");
}

std::string arith_expression(const ArithProblem& p) {
  return std::to_string(p.a) + " " + op_symbol(p.op) + " " + std::to_string(p.b);
}

Task arith_task(const ArithProblem& p, AnswerFormat format) {
  std::string prompt = "What is " + arith_expression(p) + "?";
  if (format == AnswerFormat::worked) prompt += step_by_step_suffix;
  return Task{prompt, std::to_string(arith_answer(p)), p.op, format};
}

int64_t random_operand(int max_digits, Rng& rng) {
  if (max_digits < 1 || max_digits > 9)
    throw std::invalid_argument("random_operand: max_digits = " + std::to_string(max_digits) + ", expected 1 … 9");
  int digits = 1 + static_cast<int>(rng.below(max_digits));
  if (digits == 1) return static_cast<int64_t>(rng.below(10));
  int64_t lo = 1;
  for (int i = 1; i < digits; i++) lo *= 10;
  return lo + static_cast<int64_t>(rng.below(9 * lo));  // lo … 10·lo − 1
}

ArithProblem random_arith_problem(TaskKind op, int max_digits, Rng& rng) {
  ArithProblem p{op, random_operand(max_digits, rng), random_operand(max_digits, rng)};
  op_symbol(op);  // validates op
  if (op == TaskKind::sub && p.a < p.b) std::swap(p.a, p.b);
  return p;
}

ArithProblem random_arith_problem(int max_digits, Rng& rng) {
  static constexpr TaskKind ops[] = {TaskKind::add, TaskKind::sub, TaskKind::mul};
  return random_arith_problem(ops[rng.below(3)], max_digits, rng);
}

// ---- worked solutions -----------------------------------------------------------------------

static std::string column_name(size_t i) {
  static constexpr const char* names[] = {"ones", "tens", "hundreds", "thousands", "ten-thousands",
                                          "hundred-thousands", "millions"};
  return i < std::size(names) ? names[i] : "column " + std::to_string(i + 1);
}

// Digits right to left: 478 → {8, 7, 4}; 0 → {0}.
static std::vector<int> digits_of(int64_t x) {
  std::vector<int> d;
  do { d.push_back(static_cast<int>(x % 10)); x /= 10; } while (x > 0);
  return d;
}

static int64_t value_of(const std::vector<int>& digits_right_to_left) {
  int64_t v = 0;
  for (size_t i = digits_right_to_left.size(); i-- > 0;) v = v * 10 + digits_right_to_left[i];
  return v;
}

static int other_digit(int d, Rng& rng) { return (d + 1 + static_cast<int>(rng.below(9))) % 10; }

// A slip: which step goes wrong and how.
struct Slip {
  bool active = false;
  size_t step = 0;          // column (add/sub) or partial product index, or the sum (mul: = #partials)
  bool drop_carry = false;  // else: a wrong digit
};

static std::string add_steps(const ArithProblem& p, Slip slip, Rng& rng, int64_t& result) {
  const auto da = digits_of(p.a), db = digits_of(p.b);
  const size_t n = std::max(da.size(), db.size());
  std::string text;
  std::vector<int> written;
  int carry = 0;
  for (size_t i = 0; i < n || carry; i++) {
    std::vector<int> terms;
    if (i < da.size()) terms.push_back(da[i]);
    if (i < db.size()) terms.push_back(db[i]);
    if (carry) terms.push_back(carry);
    int s = 0;
    std::string expr;
    for (size_t t = 0; t < terms.size(); t++) { s += terms[t]; expr += (t ? " + " : "") + std::to_string(terms[t]); }
    int digit = s % 10, carry_out = s / 10;
    bool dropped = false;
    if (slip.active && slip.step == i) {
      if (slip.drop_carry && carry_out) dropped = true;
      else digit = other_digit(digit, rng);
    }
    text += column_name(i) + ": " + expr;
    if (terms.size() > 1) text += " = " + std::to_string(s);
    text += ", write " + std::to_string(digit);
    if (carry_out && !dropped) text += ", carry 1";
    text += "\n";
    written.push_back(digit);
    carry = dropped ? 0 : carry_out;
  }
  result = value_of(written);
  return text;
}

static std::string sub_steps(const ArithProblem& p, Slip slip, Rng& rng, int64_t& result) {
  const auto da = digits_of(p.a), db = digits_of(p.b);
  std::string text;
  std::vector<int> written;
  int borrow = 0;
  for (size_t i = 0; i < da.size(); i++) {
    std::string expr = std::to_string(da[i]);
    int v = da[i];
    if (i < db.size()) { expr += " - " + std::to_string(db[i]); v -= db[i]; }
    if (borrow) { expr += " - 1"; v -= 1; }
    const bool needs_borrow = v < 0;
    int digit = needs_borrow ? v + 10 : v;
    bool dropped = false;
    if (slip.active && slip.step == i) {
      if (slip.drop_carry && needs_borrow) dropped = true;
      else digit = other_digit(digit, rng);
    }
    text += column_name(i) + ": " + expr;
    if (needs_borrow) {
      text += " needs a borrow, 1" + expr + " = " + std::to_string(v + 10);  // "13 - 6 = 7"
    } else if (expr.find(' ') != std::string::npos) {
      text += " = " + std::to_string(v);
    }
    text += ", write " + std::to_string(digit);
    if (needs_borrow && !dropped) text += ", borrow 1";
    text += "\n";
    written.push_back(digit);
    borrow = needs_borrow && !dropped;
  }
  result = value_of(written);
  return text;
}

// Changes one digit of value / scale (scale a power of ten, so trailing zeros stay zeros).
static int64_t slip_digit(int64_t value, int64_t scale, Rng& rng) {
  auto d = digits_of(value / scale);
  size_t j = rng.below(d.size());
  d[j] = other_digit(d[j], rng);
  return value_of(d) * scale;
}

static std::string mul_steps(const ArithProblem& p, Slip slip, Rng& rng, int64_t& result) {
  const auto db = digits_of(p.b);
  std::string text;
  std::vector<int64_t> partials;
  int64_t scale = 1;
  for (size_t i = 0; i < db.size(); i++, scale *= 10) {
    int64_t multiplier = db[i] * scale, partial = p.a * multiplier;
    if (slip.active && slip.step == i) partial = slip_digit(partial, scale, rng);
    text += std::to_string(p.a) + " * " + std::to_string(multiplier) + " = " + std::to_string(partial) + "\n";
    partials.push_back(partial);
  }
  int64_t sum = 0;
  for (int64_t x : partials) sum += x;
  if (partials.size() > 1) {
    if (slip.active && slip.step == partials.size()) sum = slip_digit(sum, 1, rng);
    text += "sum: ";
    for (size_t i = 0; i < partials.size(); i++) text += (i ? " + " : "") + std::to_string(partials[i]);
    text += " = " + std::to_string(sum) + "\n";
  }
  result = sum;
  return text;
}

WorkedSolution worked_solution(const ArithProblem& p, Solver solver, double error_rate, Rng& rng) {
  if (error_rate < 0 || error_rate > 1)
    throw std::invalid_argument("worked_solution: error_rate = " + std::to_string(error_rate) + ", expected 0 … 1");
  Slip slip;
  if (solver == Solver::student && rng.uniform() < error_rate) {
    slip.active = true;
    size_t steps = 0;
    switch (p.op) {
      case TaskKind::add: steps = std::max(digits_of(p.a).size(), digits_of(p.b).size()); break;
      case TaskKind::sub: steps = digits_of(p.a).size(); break;
      case TaskKind::mul: { size_t k = digits_of(p.b).size(); steps = k > 1 ? k + 1 : 1; break; }
      default: arith_answer(p);  // throws
    }
    slip.step = rng.below(steps);
    slip.drop_carry = rng.below(2) == 0;  // falls back to a wrong digit where there is no carry
  }
  WorkedSolution s;
  s.text = solver == Solver::expert ? "Expert solution:\n" : "Student solution:\n";
  s.text += arith_expression(p) + "\n";
  switch (p.op) {
    case TaskKind::add: s.text += add_steps(p, slip, rng, s.final_answer); break;
    case TaskKind::sub: s.text += sub_steps(p, slip, rng, s.final_answer); break;
    case TaskKind::mul: s.text += mul_steps(p, slip, rng, s.final_answer); break;
    default: arith_answer(p);
  }
  s.text += "Answer: " + std::to_string(s.final_answer);
  s.slipped = s.final_answer != arith_answer(p);
  if (slip.active && !s.slipped)
    throw std::logic_error("worked_solution: a slip in " + arith_expression(p) + " left the answer right");
  return s;
}

std::string solution_body(const WorkedSolution& s) {
  size_t nl = s.text.find('\n');
  return nl == std::string::npos ? s.text : s.text.substr(nl + 1);
}

// ---- operand pairs in text ------------------------------------------------------------------

std::vector<std::pair<int64_t, int64_t>> operand_pairs_in_text(std::string_view text) {
  std::vector<std::pair<int64_t, int64_t>> pairs;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (!is_digit(text[i])) { i++; continue; }
    size_t start = i;
    while (i < n && is_digit(text[i])) i++;
    size_t end = i;
    // Look for " OP " then another number right after this one.
    size_t j = end;
    while (j < n && text[j] == ' ') j++;
    if (j >= n || (text[j] != '+' && text[j] != '-' && text[j] != '*')) continue;
    j++;
    while (j < n && text[j] == ' ') j++;
    if (j >= n || !is_digit(text[j])) continue;
    size_t k = j;
    while (k < n && is_digit(text[k])) k++;
    if (end - start > 18 || k - j > 18) continue;  // too long for int64: no operand of ours
    int64_t x = std::stoll(std::string(text.substr(start, end - start)));
    int64_t y = std::stoll(std::string(text.substr(j, k - j)));
    pairs.emplace_back(std::min(x, y), std::max(x, y));
    // the second number may start the next pair: continue scanning from it
    i = j;
  }
  return pairs;
}

}  // namespace sog
