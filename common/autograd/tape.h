// The tape: reverse-mode automatic differentiation in one list.
//
// Every differentiable op computes its output, then — if grad mode is on and an input requires
// grad — records a Node: the output and a closure that, given the output's gradient `dout`,
// accumulates into its inputs' gradients (`input.grad_ref()`). `backward(loss)` seeds dloss = 1 and
// walks the tape from the newest node to the oldest; a node whose output received no gradient is
// skipped. Ops are recorded in execution order, so the reverse walk is a valid topological order.
//
//   Tensor h = gelu(matmul(x, w));      // two nodes on the tape
//   Tensor loss = mean(h);              // a third
//   loss.backward();                    // w.grad() now holds dloss/dw
//
// Rules (each tested in tests/test_autograd.cpp):
// - A tensor used twice receives the sum of both gradients (closures accumulate, never assign).
// - Gradients accumulate on leaves across backward calls until zero_grad(), as in PyTorch.
// - `NoGradGuard` records nothing (inference, the optimizer step, evaluation).
// - backward() consumes the tape: it clears it afterwards, freeing the saved activations. Calling
//   backward() again on a loss from that tape is an error that says so (PyTorch's
//   "Trying to backward through the graph a second time").
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <vector>

#include "common/tensor/tensor.h"

namespace sog {

using BackwardFn = std::function<void(const Tensor& dout)>;

struct Node {
  const char* name;  // the op, for error messages and tape dumps
  Tensor output;
  BackwardFn backward;
};

bool grad_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and at least one of the inputs requires grad: the op must record.
bool should_record(std::initializer_list<const Tensor*> inputs);

// Marks `output` as a non-leaf that requires grad and appends its node to this thread's tape.
void record(const char* name, const Tensor& output, BackwardFn backward);

// Seeds d(loss)/d(loss) = 1, runs every recorded backward in reverse, then clears the tape.
void backward(const Tensor& loss);
// The same from any output with a given upstream gradient (PyTorch's `out.backward(dout)`).
void backward(const Tensor& output, const Tensor& dout);

size_t tape_size();
void clear_tape();  // drops every node without running backward (e.g. after an eval forward)

}  // namespace sog
