// CUDA encoder (common/ops/embedding.cu): token + position embedding against the CPU kernels of
// embedding.cpp on the same bf16 tables, at B = 3, T = 37, C = 192 (16-byte path) and C = 101
// (scalar path), V = 1000 for the forward and V = 50 for the backward (many positions share an id).
// Outputs are poisoned first; gradients accumulate, so they start from random values.
// Tolerances: none. The forward is one fp32 add rounded to bf16, as the CPU's fp32 add rounded the
// same way; the backward adds the same values onto the gradients in the same order as the CPU
// (position order per vocabulary row, b order per position row): both bitwise equal.
#include <gtest/gtest.h>

#include "common/tensor/cuda.h"

#if SOG_HAVE_CUDA
#include <vector>

#include "common/ops/embedding.h"
#include "cuda_ops_test_util.h"

using namespace sog;
using namespace sog::testing;

namespace {

constexpr int kB = 3, kT = 37, kMaxT = 64;
const std::vector<int> kChannels = {192, 101};

std::vector<int32_t> random_ids(size_t n, int V, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = int32_t(rng.below(uint64_t(V)));
  return ids;
}

TEST(CudaEmbedding, ForwardMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int V = 1000;
  for (int C : kChannels) {
    const auto wte = random_bf16_values(size_t(V) * C, 1 + C), wpe = random_bf16_values(size_t(kMaxT) * C, 2 + C);
    const auto ids = random_ids(size_t(kB) * kT, V, 3 + C);
    Bf16Buffer d_wte(wte.size()), d_wpe(wpe.size()), out(size_t(kB) * kT * C);
    DeviceBuffer<int32_t> d_ids(ids.size());
    upload(d_wte, wte);
    upload(d_wpe, wpe);
    upload(d_ids, ids);
    out.poison();
    cuda::encoder_forward(out.ptr, d_ids.ptr, d_wte.ptr, d_wpe.ptr, kB, kT, C, nullptr);
    std::vector<float> ref(size_t(kB) * kT * C);
    embed_tokens_and_positions_forward(ref.data(), ids.data(), wte.data(), wpe.data(), kB, kT, C);
    for (auto& r : ref) r = round_bf16(r);
    EXPECT_EQ(rel_error(download(out), ref), 0.0) << "C = " << C;
  }
}

TEST(CudaEmbedding, BackwardMatchesCpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int V = 50;
  for (int C : kChannels) {
    const auto g = random_bf16_values(size_t(kB) * kT * C, 10 + C);
    const auto ids = random_ids(size_t(kB) * kT, V, 11 + C);
    const auto dwte0 = random_floats(size_t(V) * C, 12 + C), dwpe0 = random_floats(size_t(kMaxT) * C, 13 + C);
    Bf16Buffer dout(g.size());
    DeviceBuffer<int32_t> d_ids(ids.size());
    DeviceBuffer<float> dwte(dwte0.size()), dwpe(dwpe0.size());
    upload(dout, g);
    upload(d_ids, ids);
    upload(dwte, dwte0);
    upload(dwpe, dwpe0);
    cuda::encoder_backward(dwte.ptr, dwpe.ptr, dout.ptr, d_ids.ptr, kB, kT, C, nullptr);
    std::vector<float> ref_wte = dwte0, ref_wpe = dwpe0;
    embed_tokens_and_positions_backward(ref_wte.data(), ref_wpe.data(), g.data(), ids.data(), kB, kT, C, V);
    EXPECT_EQ(download(dwte), ref_wte) << "C = " << C;
    EXPECT_EQ(download(dwpe), ref_wpe) << "C = " << C;

    // Either gradient may be skipped (nullptr): the other is still right, rows past T untouched.
    upload(dwpe, dwpe0);
    cuda::encoder_backward(nullptr, dwpe.ptr, dout.ptr, d_ids.ptr, kB, kT, C, nullptr);
    EXPECT_EQ(download(dwpe), ref_wpe) << "C = " << C;
    upload(dwte, dwte0);
    cuda::encoder_backward(dwte.ptr, nullptr, dout.ptr, d_ids.ptr, kB, kT, C, nullptr);
    EXPECT_EQ(download(dwte), ref_wte) << "C = " << C;
  }
}

}  // namespace

#else
TEST(CudaEmbedding, Skipped) { GTEST_SKIP() << "built without CUDA"; }
#endif
