#include "common/nn/scalar_head.h"

#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/ops/elementwise.h"
#include "common/ops/gather.h"
#include "common/ops/matmul.h"
#include "common/ops/shape.h"
#include "common/tensor/random.h"

namespace sog {

ScalarHead::ScalarHead(int64_t C) : C_(C) {
  if (C < 1) throw std::invalid_argument("ScalarHead: C: expected ≥ 1, found " + std::to_string(C));
  params_ = Tensor::zeros({C + 1});
  grads_ = Tensor::zeros({C + 1});
  weight = params_.view(0, {1, C});
  bias = params_.view(C, {1});
  weight.set_requires_grad(true);
  weight.set_grad(grads_.view(0, {1, C}));
  bias.set_requires_grad(true);
  bias.set_grad(grads_.view(C, {1}));
}

void ScalarHead::init(uint64_t seed) {
  Rng rng(seed);
  float* p = params_.f32();
  for (int64_t i = 0; i < C_; i++) p[i] = 0.02f * rng.normal();
  p[C_] = 0.0f;
}

std::vector<ParamSegment> ScalarHead::optimizer_segments() const { return {{0, C_, true}, {C_, 1, false}}; }

static void require_hidden(const Tensor& hidden, int64_t C, const char* who) {
  if (hidden.ndim() != 3 || hidden.size(2) != C) {
    throw std::invalid_argument(std::string(who) + ": hidden: expected (B,T," + std::to_string(C) + "), found " +
                                hidden.shape().str());
  }
}

Tensor ScalarHead::at_positions(const Tensor& hidden, const Tensor& positions) const {
  require_hidden(hidden, C_, "ScalarHead::at_positions");
  const int64_t B = hidden.size(0);
  Tensor h = gather_rows(hidden, positions);      // (B,C)
  return reshape(linear(h, weight, bias), {B});   // (B,1) → (B)
}

Tensor ScalarHead::at_every_position(const Tensor& hidden) const {
  require_hidden(hidden, C_, "ScalarHead::at_every_position");
  const int64_t B = hidden.size(0), T = hidden.size(1);
  return reshape(linear(hidden, weight, bias), {B, T});  // (B,T,1) → (B,T)
}

Tensor ScalarHead::normalized(const Tensor& raw) const {
  return add(scale(raw, norm.gain), Tensor::full({1}, norm.bias));
}

// ---- the head file -----------------------------------------------------------------------------

void ScalarHead::save(const std::string& path) const {
  BinaryHeader h(kHeadFormat);
  h[2] = static_cast<int32_t>(C_);
  h[3] = 1;  // outputs
  const float normalisation[2] = {norm.gain, norm.bias};
  AtomicFile f(path);
  h.write(f);
  f.write(params_.raw_data(), params_.nbytes());  // w, bias
  f.write(normalisation, sizeof(normalisation));
  f.commit();
}

ScalarHead ScalarHead::load(const std::string& path, int64_t expected_C) {
  BinaryReader r(path, kHeadFormat);
  if (r[2] != expected_C) {
    r.fail("the head was made for a model of width C = " + std::to_string(r[2]) + ", expected the model's C = " +
           std::to_string(expected_C) + " — a head belongs to the model it was trained on (the model folder's "
           "model.bin)");
  }
  if (r[3] != 1) r.fail("number of outputs: expected 1 (a scalar head), found " + std::to_string(r[3]));
  ScalarHead head(expected_C);
  r.require_size(r.header().bytes() + 4 * static_cast<uint64_t>(expected_C + 3),
                 "C = " + std::to_string(expected_C) + ": w, bias, gain and normalisation bias, " +
                     std::to_string(expected_C + 3) + " float32");
  float normalisation[2];
  r.read(head.params_.raw_data(), head.params_.nbytes(), "the weights");
  r.read(normalisation, sizeof(normalisation), "the normalisation");
  head.norm = {normalisation[0], normalisation[1]};
  return head;
}

}  // namespace sog
