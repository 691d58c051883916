#include "common/autograd/tape.h"

#include <stdexcept>
#include <string>

namespace sog {

namespace {
struct Tape {
  std::vector<Node> nodes;
  uint64_t generation = 1;  // bumped whenever the tape is cleared
  bool grad_mode = true;
};
Tape& tape() {
  thread_local Tape t;
  return t;
}
}  // namespace

bool grad_enabled() { return tape().grad_mode; }

NoGradGuard::NoGradGuard() : previous_(tape().grad_mode) { tape().grad_mode = false; }
NoGradGuard::~NoGradGuard() { tape().grad_mode = previous_; }

bool should_record(std::initializer_list<const Tensor*> inputs) {
  if (!tape().grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(const char* name, const Tensor& output, BackwardFn backward) {
  Tape& t = tape();
  TensorImpl* impl = output.impl();
  impl->requires_grad = true;
  impl->is_leaf = false;
  impl->tape_generation = t.generation;
  t.nodes.push_back(Node{name, output, std::move(backward)});
}

void backward(const Tensor& loss) {
  if (!loss.defined()) throw std::logic_error("backward: the loss is an undefined tensor");
  if (loss.numel() != 1) {
    throw std::invalid_argument("backward: the loss must have one element, found shape " + loss.shape().str() +
                                " (pass an upstream gradient to backward a non-scalar output)");
  }
  Tensor one = Tensor::full(loss.shape(), 1.0f, DType::f32);
  backward(loss, loss.device() == Device::cpu ? one : one.to(loss.device()));
}

void backward(const Tensor& output, const Tensor& dout) {
  Tape& t = tape();
  if (!output.defined()) throw std::logic_error("backward: the output is an undefined tensor");
  if (!output.requires_grad()) {
    throw std::logic_error("backward: the output does not require grad (no parameter reached it, or it was "
                           "computed under NoGradGuard)");
  }
  check_shape(dout, output.shape(), "backward: upstream gradient");
  TensorImpl* impl = output.impl();
  if (!impl->is_leaf && impl->tape_generation != t.generation) {
    throw std::logic_error("backward: this graph was already freed — backward() walks the tape once and "
                           "clears it; run the forward pass again before a second backward");
  }
  Tensor& seed = output.grad_ref();
  if (seed.device() == Device::cpu && dout.device() == Device::cpu) {
    float* s = seed.f32();
    const float* d = dout.f32();
    for (int64_t i = 0; i < seed.numel(); i++) s[i] += d[i];
  } else {
    seed.copy_from(dout);
  }
  // Walk newest → oldest. Closures run with grad mode off, so they record nothing.
  NoGradGuard no_grad;
  for (size_t i = t.nodes.size(); i-- > 0;) {
    Node& node = t.nodes[i];
    Tensor g = node.output.grad();
    if (!g.defined()) continue;  // not an ancestor of the output
    node.backward(g);
  }
  clear_tape();
}

size_t tape_size() { return tape().nodes.size(); }

void clear_tape() {
  Tape& t = tape();
  t.nodes.clear();
  t.generation++;
}

}  // namespace sog
