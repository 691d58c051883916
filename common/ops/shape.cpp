#include "common/ops/shape.h"

#include <stdexcept>
#include <string>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

Tensor reshape(const Tensor& x, const Shape& shape) {
  if (!x.defined()) throw std::invalid_argument("reshape: x: expected a tensor, found an undefined tensor");
  if (shape.numel() != x.numel()) {
    throw std::invalid_argument("reshape: shape: expected " + std::to_string(x.numel()) + " elements (x is " +
                                x.shape().str() + "), found " + shape.str() + " with " +
                                std::to_string(shape.numel()));
  }
  Tensor out = x.reshape(shape);  // a view: same storage, no history
  if (should_record({&x})) {
    require_cpu_f32(x, "reshape", "x");
    record("reshape", out, [x](const Tensor& dout) {
      accumulate_grad(x, dout.f32());  // same numel, same order: dx += dout
    });
  }
  return out;
}

}  // namespace sog
