#include <gtest/gtest.h>

#include <cmath>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/elementwise.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

// ---- a float64 reference for NumPy broadcasting, written independently of the op ----------------

struct BroadcastRef {
  std::vector<int64_t> out_shape;
  std::vector<double> out, da, db;  // out; gradients of Σ out · dout with respect to a and b
};

static std::vector<int64_t> dims_of(const Tensor& t) {
  return std::vector<int64_t>(t.shape().dims.begin(), t.shape().dims.begin() + t.ndim());
}

// op: '+', '-', '*'. Right-aligns the shapes, reads a size-1 dimension at index 0.
static BroadcastRef broadcast_reference(const Tensor& a, const Tensor& b, char op, const std::vector<float>& dout) {
  std::vector<int64_t> as = dims_of(a), bs = dims_of(b);
  const size_t nd = std::max(as.size(), bs.size());
  as.insert(as.begin(), nd - as.size(), 1);
  bs.insert(bs.begin(), nd - bs.size(), 1);
  BroadcastRef r;
  int64_t n = 1;
  for (size_t k = 0; k < nd; k++) {
    r.out_shape.push_back(std::max(as[k], bs[k]));
    n *= r.out_shape[k];
  }
  std::vector<float> av = a.to_vector(), bv = b.to_vector();
  r.out.assign(n, 0.0);
  r.da.assign(av.size(), 0.0);
  r.db.assign(bv.size(), 0.0);
  for (int64_t o = 0; o < n; o++) {
    int64_t rest = o, ia = 0, ib = 0, sa = 1, sb = 1;
    for (size_t k = nd; k-- > 0;) {
      int64_t idx = rest % r.out_shape[k];
      rest /= r.out_shape[k];
      ia += (as[k] == 1 ? 0 : idx) * sa;
      ib += (bs[k] == 1 ? 0 : idx) * sb;
      sa *= as[k];
      sb *= bs[k];
    }
    double x = av[ia], y = bv[ib], d = dout.empty() ? 0.0 : dout[o];
    if (op == '+') {
      r.out[o] = x + y;
      r.da[ia] += d;
      r.db[ib] += d;
    } else if (op == '-') {
      r.out[o] = x - y;
      r.da[ia] += d;
      r.db[ib] -= d;
    } else {
      r.out[o] = x * y;
      r.da[ia] += d * y;
      r.db[ib] += d * x;
    }
  }
  return r;
}

static Tensor apply_op(char op, const Tensor& a, const Tensor& b) {
  return op == '+' ? add(a, b) : op == '-' ? sub(a, b) : mul(a, b);
}

// Forward and backward of one op on one pair of shapes against the reference.
static void check_broadcast(char op, const Shape& as, const Shape& bs, uint64_t seed) {
  SCOPED_TRACE(std::string("op ") + op + " a " + as.str() + " b " + bs.str());
  Tensor a = random_input(as, seed), b = random_input(bs, seed + 100);
  clear_tape();
  Tensor out = apply_op(op, a, b);
  Tensor dout = Tensor::randn(out.shape(), 1.0f, seed + 200);
  BroadcastRef ref = broadcast_reference(a, b, op, dout.to_vector());
  EXPECT_EQ(dims_of(out), ref.out_shape);
  std::vector<float> ov = out.to_vector();
  ASSERT_EQ(ov.size(), ref.out.size());
  for (size_t i = 0; i < ov.size(); i++) EXPECT_NEAR(ov[i], ref.out[i], 1e-5 * (1 + std::fabs(ref.out[i]))) << i;
  backward(out, dout);
  std::vector<float> ga = a.grad().to_vector(), gb = b.grad().to_vector();
  for (size_t i = 0; i < ga.size(); i++) EXPECT_NEAR(ga[i], ref.da[i], 1e-4 * (1 + std::fabs(ref.da[i]))) << "da " << i;
  for (size_t i = 0; i < gb.size(); i++) EXPECT_NEAR(gb[i], ref.db[i], 1e-4 * (1 + std::fabs(ref.db[i]))) << "db " << i;
}

// The brief's shapes, both orders (so a broadcasts too), every op: covers all three paths.
static const std::vector<std::pair<Shape, Shape>> kBroadcastCases = {
    {{2, 3, 4}, {2, 3, 4}},  // same_shape
    {{2, 3, 4}, {4}},        // b_suffix: a bias
    {{2, 3, 4}, {3, 4}},     // b_suffix
    {{2, 3, 4}, {1}},        // b_suffix: scalar-like
    {{2, 3, 4}, {1, 1, 4}},  // b_suffix with explicit leading 1s
    {{2, 3, 4}, {3, 1}},     // general
    {{1, 4}, {3, 1}},        // general: both broadcast
    {{4}, {2, 3, 4}},        // general: a broadcasts
    {{1}, {2, 3}},           // general: a scalar-like
    {{2, 1, 3, 1}, {5, 1, 2}},  // general, 4 dims
};

TEST(Broadcast, ForwardAndBackwardMatchFloat64Reference) {
  uint64_t seed = 1;
  for (char op : {'+', '-', '*'})
    for (auto& [as, bs] : kBroadcastCases) check_broadcast(op, as, bs, seed++);
}

// Big enough (> 2^15 elements) for the parallel loops and the column-sliced bias backward.
TEST(Broadcast, LargeShapesTakeTheParallelPathsAndStillMatch) {
  for (char op : {'+', '-', '*'}) {
    check_broadcast(op, {64, 1024}, {1024}, 11);        // bias: rows split, columns sliced
    check_broadcast(op, {8, 64, 128}, {8, 1, 128}, 12);  // general, both reduce paths
    check_broadcast(op, {300, 200}, {1}, 13);            // scalar: too few columns to slice
    check_broadcast(op, {2000, 40}, {40}, 14);           // narrow bias: too few columns to slice
  }
}

TEST(Broadcast, GradientsMatchFiniteDifferences) {
  for (auto& [as, bs] : kBroadcastCases) {
    SCOPED_TRACE("a " + as.str() + " b " + bs.str());
    for (int op = 0; op < 3; op++) {
      expect_gradients_match([op](auto& in) { return apply_op("+-*"[op], in[0], in[1]); },
                             {random_input(as, 3), random_input(bs, 4)});
    }
  }
}

TEST(Broadcast, OnlyOperandsThatRequireGradGetOne) {
  Tensor a = random_input({2, 3}, 1), b = Tensor::randn({3}, 1.0f, 2);
  backward(mul(a, b), Tensor::full({2, 3}, 1.0f));
  EXPECT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(Broadcast, IncompatibleShapesNameOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    add(a, b);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("add"), std::string::npos) << m;
    EXPECT_NE(m.find("(2, 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("(4)"), std::string::npos) << m;
    EXPECT_NE(m.find("expected"), std::string::npos) << m;
  }
  EXPECT_THROW(mul(Tensor::zeros({2, 3}), Tensor::from_ids({3}, {1, 2, 3})), std::invalid_argument);
}

// ---- unary ops ----------------------------------------------------------------------------------

// out_i vs ref(x_i) in float64.
template <class Op, class Ref>
static void check_unary(Op op, Ref ref, const Tensor& x, double tol) {
  std::vector<float> xv = x.to_vector(), yv = op(x).to_vector();
  for (size_t i = 0; i < xv.size(); i++) {
    double r = ref(static_cast<double>(xv[i]));
    EXPECT_NEAR(yv[i], r, tol * (1 + std::fabs(r))) << "x = " << xv[i];
  }
}

TEST(Unary, ForwardMatchesFloat64Reference) {
  Tensor x = Tensor::randn({5, 13}, 3.0f, 1);
  check_unary([](const Tensor& t) { return scale(t, -2.5f); }, [](double v) { return -2.5 * v; }, x, 1e-6);
  check_unary([](const Tensor& t) { return sog::exp(t); }, [](double v) { return std::exp(v); }, x, 1e-6);
  check_unary([](const Tensor& t) { return sigmoid(t); }, [](double v) { return 1 / (1 + std::exp(-v)); }, x, 1e-6);
  check_unary([](const Tensor& t) { return log_sigmoid(t); }, [](double v) { return -std::log1p(std::exp(-v)); }, x,
              1e-6);
  check_unary([](const Tensor& t) { return clamp(t, -1.0f, 2.0f); },
              [](double v) { return std::min(std::max(v, -1.0), 2.0); }, x, 0);
}

TEST(Unary, SigmoidAndLogSigmoidAreStableForLargeInputs) {
  Tensor x = Tensor::from_vector({4}, {-200.0f, -90.0f, 90.0f, 200.0f});
  std::vector<float> s = sigmoid(x).to_vector(), ls = log_sigmoid(x).to_vector();
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_EQ(s[3], 1.0f);
  EXPECT_FLOAT_EQ(ls[0], -200.0f);  // log σ(x) → x for x ≪ 0 (a naive log(σ) gives −inf)
  EXPECT_FLOAT_EQ(ls[1], -90.0f);
  EXPECT_EQ(ls[3], 0.0f);
  for (float v : ls) EXPECT_TRUE(std::isfinite(v));
  // The gradient σ(−x) stays finite too: 1 at x ≪ 0, 0 at x ≫ 0.
  Tensor xg = x.clone();
  xg.set_requires_grad(true);
  backward(log_sigmoid(xg), Tensor::full({4}, 1.0f));
  std::vector<float> g = xg.grad().to_vector();
  EXPECT_FLOAT_EQ(g[0], 1.0f);
  EXPECT_FLOAT_EQ(g[3], 0.0f);
}

TEST(Unary, GradientsMatchFiniteDifferences) {
  expect_gradients_match([](auto& in) { return scale(in[0], 0.7f); }, {random_input({3, 5}, 1)});
  expect_gradients_match([](auto& in) { return sog::exp(in[0]); }, {random_input({3, 5}, 2)});
  expect_gradients_match([](auto& in) { return sigmoid(in[0]); }, {random_input({3, 5}, 3, 2.0f)});
  expect_gradients_match([](auto& in) { return log_sigmoid(in[0]); }, {random_input({3, 5}, 4, 2.0f)});
}

// clamp, minimum and maximum have kinks; the finite differences (h = 0.01) must not straddle one,
// so the test points below keep at least 0.05 from lo/hi and |a − b| ≥ 0.05.
static Tensor points_away_from(const std::vector<float>& kinks, uint64_t seed) {
  Tensor x = random_input({4, 6}, seed, 2.0f);
  for (float& v : std::span(x.f32(), x.numel()))
    for (float k : kinks)
      if (std::fabs(v - k) < 0.05f) v = k + (v < k ? -0.1f : 0.1f);
  return x;
}

TEST(Unary, ClampGradientIsOneStrictlyInsideZeroOutside) {
  expect_gradients_match([](auto& in) { return clamp(in[0], -1.0f, 1.5f); }, {points_away_from({-1.0f, 1.5f}, 5)});
  // At the boundaries themselves the gradient is 0 (x = lo and x = hi are not strictly inside).
  Tensor x = Tensor::from_vector({4}, {-1.0f, 0.0f, 1.5f, 3.0f});
  x.set_requires_grad(true);
  backward(clamp(x, -1.0f, 1.5f), Tensor::full({4}, 1.0f));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{0.0f, 1.0f, 0.0f, 0.0f}));
  EXPECT_THROW(clamp(x, 2.0f, 1.0f), std::invalid_argument);
}

TEST(Unary, MinimumMaximumForwardAndGradients) {
  Tensor a = random_input({4, 6}, 6), b = random_input({4, 6}, 7);
  for (int64_t i = 0; i < a.numel(); i++)  // keep |a − b| ≥ 0.05 (away from the kink)
    if (std::fabs(a.f32()[i] - b.f32()[i]) < 0.05f) b.f32()[i] = a.f32()[i] + 0.2f;
  std::vector<float> av = a.to_vector(), bv = b.to_vector();
  std::vector<float> lo = minimum(a, b).to_vector(), hi = maximum(a, b).to_vector();
  for (size_t i = 0; i < av.size(); i++) {
    EXPECT_EQ(lo[i], std::min(av[i], bv[i]));
    EXPECT_EQ(hi[i], std::max(av[i], bv[i]));
  }
  expect_gradients_match([](auto& in) { return minimum(in[0], in[1]); }, {a, b});
  expect_gradients_match([](auto& in) { return maximum(in[0], in[1]); }, {a, b});
  EXPECT_THROW(minimum(Tensor::zeros({2}), Tensor::zeros({3})), std::invalid_argument);
}

TEST(Unary, MinimumMaximumTieSendsTheGradientToA) {
  for (int which = 0; which < 2; which++) {
    Tensor a = Tensor::from_vector({2}, {1.0f, 2.0f}), b = Tensor::from_vector({2}, {1.0f, 3.0f});
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    Tensor out = which == 0 ? minimum(a, b) : maximum(a, b);
    backward(out, Tensor::full({2}, 1.0f));
    std::vector<float> ga = a.grad().to_vector(), gb = b.grad().to_vector();
    EXPECT_EQ(ga[0], 1.0f) << "a tie goes to a";
    EXPECT_EQ(gb[0], 0.0f);
    EXPECT_EQ(ga[1], which == 0 ? 1.0f : 0.0f);  // min picks a = 2, max picks b = 3
    EXPECT_EQ(gb[1], which == 0 ? 0.0f : 1.0f);
  }
}
