#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/embedding.h"
#include "gradcheck.h"

using namespace sog;
using namespace sog::testing;

// Ids in [0, V) drawn from a seeded generator, with repeats when N > V.
static Tensor random_ids(const Shape& shape, int64_t V, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(shape.numel());
  for (auto& id : ids) id = static_cast<int32_t>(rng.next_u64() % V);
  return Tensor::from_ids(shape, ids);
}

TEST(Embedding, ForwardCopiesTheSelectedRows) {
  const int64_t V = 11, C = 13;
  Tensor table = Tensor::randn({V, C}, 1.0f, 1);
  for (Shape shape : {Shape{7}, Shape{2, 5}, Shape{2, 3, 4}}) {
    Tensor ids = random_ids(shape, V, 2);
    Tensor out = embedding(ids, table);
    Shape expected = shape;
    expected.dims[expected.ndim++] = C;
    ASSERT_EQ(out.shape(), expected);
    for (int64_t n = 0; n < ids.numel(); n++)
      for (int64_t c = 0; c < C; c++) EXPECT_EQ(out.f32()[n * C + c], table.f32()[ids.i32()[n] * C + c]);
  }
}

TEST(Embedding, BackwardSumsTheRowsOfRepeatedIds) {
  // ids 3, 1, 3, 3: dtable[3] = dout[0] + dout[2] + dout[3], dtable[1] = dout[1], other rows 0.
  const int64_t V = 5, C = 3;
  Tensor table = random_input({V, C}, 3);
  Tensor ids = Tensor::from_ids({4}, {3, 1, 3, 3});
  Tensor dout = Tensor::randn({4, C}, 1.0f, 4);
  backward(embedding(ids, table), dout);
  const float* g = table.grad().f32();
  const float* d = dout.f32();
  for (int64_t c = 0; c < C; c++) {
    EXPECT_FLOAT_EQ(g[3 * C + c], d[0 * C + c] + d[2 * C + c] + d[3 * C + c]);
    EXPECT_FLOAT_EQ(g[1 * C + c], d[1 * C + c]);
    for (int64_t v : {0, 2, 4}) EXPECT_EQ(g[v * C + c], 0.0f);
  }
}

TEST(Embedding, GradientMatchesFiniteDifferences) {
  Tensor ids = random_ids({3, 4}, 6, 5);  // 12 positions over 6 rows: repeats guaranteed
  expect_gradients_match([ids](auto& in) { return embedding(ids, in[0]); }, {random_input({6, 5}, 6)});
}

TEST(Embedding, BackwardIsBitwiseTheSameOnOneThreadAndOnMany) {
  const int64_t V = 50, C = 96, B = 8, T = 64;  // large enough to take the parallel path
  Tensor ids = random_ids({B, T}, V, 7);
  Tensor dout = Tensor::randn({B * T, C}, 1.0f, 8);
  std::vector<float> one(V * C, 0.0f), many(V * C, 0.0f);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  embedding_backward(one.data(), dout.f32(), ids.i32(), B * T, C, V);
  omp_set_num_threads(std::max(threads, 2));
  embedding_backward(many.data(), dout.f32(), ids.i32(), B * T, C, V);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, many);
  // And equal to a float64 reference sum.
  std::vector<double> ref(V * C, 0.0);
  for (int64_t n = 0; n < B * T; n++)
    for (int64_t c = 0; c < C; c++) ref[ids.i32()[n] * C + c] += dout.f32()[n * C + c];
  for (int64_t i = 0; i < V * C; i++) EXPECT_NEAR(many[i], ref[i], 1e-4) << i;
}

TEST(Embedding, OutOfRangeIdIsAnErrorNamingPositionAndId) {
  Tensor table = Tensor::zeros({10, 4});
  for (int32_t bad : {10, -1, 70000}) {
    Tensor ids = Tensor::from_ids({2, 3}, {0, 1, 2, 3, bad, 5});
    try {
      embedding(ids, table);
      FAIL() << "expected an exception for id " << bad;
    } catch (const std::out_of_range& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("embedding"), std::string::npos) << msg;
      EXPECT_NE(msg.find("position 4 = (1, 1)"), std::string::npos) << msg;
      EXPECT_NE(msg.find("id " + std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("[0, 10)"), std::string::npos) << msg;
    }
  }
}

TEST(Embedding, WrongArgumentsAreErrors) {
  Tensor table = Tensor::zeros({10, 4});
  EXPECT_THROW(embedding(Tensor::zeros({3}), table), std::invalid_argument);  // f32 ids
  EXPECT_THROW(embedding(Tensor::from_ids({3}, {0, 1, 2}), Tensor::zeros({10})), std::invalid_argument);
  EXPECT_THROW(embedding(Tensor::from_ids({1, 1, 1, 1}, {0}), table), std::invalid_argument);  // 5-D output
}

TEST(Positions, AreZeroToTMinusOneInEveryRow) {
  Tensor pos = positions(3, 5);
  ASSERT_EQ(pos.shape(), (Shape{3, 5}));
  for (int64_t b = 0; b < 3; b++)
    for (int64_t t = 0; t < 5; t++) EXPECT_EQ(pos.i32()[b * 5 + t], t);
}

TEST(EmbedTokensAndPositions, ForwardIsTokenPlusPositionRow) {
  const int64_t B = 2, T = 5, C = 7, V = 9, maxT = 8;
  Tensor ids = random_ids({B, T}, V, 9);
  Tensor wte = Tensor::randn({V, C}, 1.0f, 10), wpe = Tensor::randn({maxT, C}, 1.0f, 11);
  Tensor out = embed_tokens_and_positions(ids, wte, wpe);
  ASSERT_EQ(out.shape(), (Shape{B, T, C}));
  // The same as the plain op twice, token rows plus position rows.
  Tensor tok = embedding(ids, wte), pos = embedding(positions(B, T), wpe);
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < T; t++) {
      for (int64_t c = 0; c < C; c++) {
        const int64_t i = (b * T + t) * C + c;
        double ref = static_cast<double>(wte.f32()[ids.i32()[b * T + t] * C + c]) + wpe.f32()[t * C + c];
        EXPECT_NEAR(out.f32()[i], ref, 1e-6);
        EXPECT_EQ(out.f32()[i], tok.f32()[i] + pos.f32()[i]);
      }
    }
  }
}

TEST(EmbedTokensAndPositions, GradientMatchesFiniteDifferences) {
  Tensor ids = random_ids({2, 3}, 4, 12);
  expect_gradients_match([ids](auto& in) { return embed_tokens_and_positions(ids, in[0], in[1]); },
                         {random_input({4, 5}, 13), random_input({6, 5}, 14)});
  // Only the position table trainable: wte gets no gradient.
  Tensor wte = Tensor::randn({4, 5}, 1.0f, 15);
  expect_gradients_match([ids, wte](auto& in) { return embed_tokens_and_positions(ids, wte, in[0]); },
                         {random_input({3, 5}, 16)});
  EXPECT_FALSE(wte.grad().defined());
}

TEST(EmbedTokensAndPositions, PositionGradientSumsOverTheBatch) {
  const int64_t B = 3, T = 4, C = 2, V = 5;
  Tensor ids = random_ids({B, T}, V, 17);
  Tensor wte = random_input({V, C}, 18), wpe = random_input({T, C}, 19);
  Tensor dout = Tensor::randn({B, T, C}, 1.0f, 20);
  backward(embed_tokens_and_positions(ids, wte, wpe), dout);
  for (int64_t t = 0; t < T; t++) {
    for (int64_t c = 0; c < C; c++) {
      double ref = 0;
      for (int64_t b = 0; b < B; b++) ref += dout.f32()[(b * T + t) * C + c];
      EXPECT_NEAR(wpe.grad().f32()[t * C + c], ref, 1e-6);
    }
  }
}

TEST(EmbedTokensAndPositions, ErrorsNameTheProblem) {
  Tensor wte = Tensor::zeros({10, 4}), wpe = Tensor::zeros({3, 4});
  try {
    embed_tokens_and_positions(Tensor::from_ids({1, 4}, {0, 1, 2, 3}), wte, wpe);  // T = 4 > maxT = 3
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("T = 4"), std::string::npos) << e.what();
  }
  try {
    embed_tokens_and_positions(Tensor::from_ids({1, 2}, {0, 12}), wte, wpe);
    FAIL() << "expected an exception";
  } catch (const std::out_of_range& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("id 12"), std::string::npos) << msg;
    EXPECT_NE(msg.find("position 1 = (0, 1)"), std::string::npos) << msg;
  }
  EXPECT_THROW(embed_tokens_and_positions(Tensor::from_ids({1, 2}, {0, 1}), wte, Tensor::zeros({3, 5})),
               std::invalid_argument);
}
