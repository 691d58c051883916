#include <gtest/gtest.h>

#include <string>

#include "common/autograd/tape.h"
#include "common/ops/gather.h"
#include "common/ops/gelu.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

namespace {
// The message of gather_rows' exception (test_util.h is not in the kernels-only build).
std::string error_of_gather(const Tensor& x, const Tensor& index) {
  try {
    gather_rows(x, index);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(GatherRows, PicksOnePositionPerRow) {
  Tensor x = Tensor::randn({3, 4, 5}, 1.0f, 1);  // (B,T,C)
  Tensor index = Tensor::from_ids({3}, {2, 0, 3});
  Tensor out = gather_rows(x, index);
  ASSERT_EQ(out.shape(), (Shape{3, 5}));
  const int32_t t[3] = {2, 0, 3};
  for (int64_t b = 0; b < 3; b++)
    for (int64_t c = 0; c < 5; c++) EXPECT_EQ(out.f32()[b * 5 + c], x.f32()[(b * 4 + t[b]) * 5 + c]);
}

TEST(GatherRows, GradientGoesToTheGatheredPositionsOnly) {
  Tensor x = random_input({2, 3, 4}, 2);
  Tensor dout = Tensor::randn({2, 4}, 1.0f, 3);
  backward(gather_rows(x, Tensor::from_ids({2}, {1, 2})), dout);
  const std::vector<float> g = x.grad().to_vector(), d = dout.to_vector();
  for (int64_t b = 0; b < 2; b++)
    for (int64_t t = 0; t < 3; t++)
      for (int64_t c = 0; c < 4; c++)
        EXPECT_EQ(g[(b * 3 + t) * 4 + c], t == (b == 0 ? 1 : 2) ? d[b * 4 + c] : 0.0f) << b << "," << t << "," << c;
}

TEST(GatherRows, GradientMatchesFiniteDifferences) {
  Tensor index = Tensor::from_ids({3}, {4, 0, 2});
  expect_gradients_match([&](auto& in) { return gather_rows(in[0], index); }, {random_input({3, 5, 4}, 4)});
  // Inside a chain, two rows gathering the same position of their own sequence.
  Tensor same = Tensor::from_ids({2}, {1, 1});
  expect_gradients_match([&](auto& in) { return gelu(gather_rows(gelu(in[0]), same)); }, {random_input({2, 3, 6}, 5)});
}

TEST(GatherRows, BadIndexIsAnErrorNamingTheRowAndValue) {
  Tensor x = Tensor::zeros({2, 3, 4});
  std::string e = error_of_gather(x, Tensor::from_ids({2}, {0, 3}));
  EXPECT_NE(e.find("index[1]: expected a position in [0, 3), found 3"), std::string::npos) << e;
  e = error_of_gather(x, Tensor::from_ids({2}, {-1, 0}));
  EXPECT_NE(e.find("index[0]"), std::string::npos) << e;
  e = error_of_gather(x, Tensor::from_ids({3}, {0, 0, 0}));
  EXPECT_NE(e.find("expected (2), one position per row of x (2, 3, 4), found (3)"), std::string::npos) << e;
  e = error_of_gather(Tensor::zeros({2, 3}), Tensor::from_ids({2}, {0, 0}));
  EXPECT_NE(e.find("gather_rows: x (B,T,C): expected 3 dimensions"), std::string::npos) << e;
}
