// Every instruction set's kernels (common/cpu/kernels.h) that this CPU can run, against the plain
// C++ ones (sog::generic, the reference), on odd shapes: lengths that are not multiples of any
// vector width, one element, tails, rows and heads that end mid-register. (The matmul variants are
// checked per instruction set against float64 in test_matmul.cpp and test_matmul_bf16.cpp; the
// softmax row kernels in test_softmax.cpp.) Also the selection itself: SOG_CPU, the errors, and
// that every table is complete.
//
// Tolerances. The vector versions compute the same formulas in another order (a sum split over 4,
// 8 or 16 lanes) and may fuse a multiply and an add (FMA) where the plain version rounds twice, so
// they agree to a few float32 roundings of the values involved, not bit for bit; where the order
// of operations is the same by construction (elementwise maps without a reduction), the bound is a
// few ulps. A wrong index, a dropped tail or a stale lane gives errors of the size of the values.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu/kernels.h"
#include "common/ops/attention.h"
#include "common/ops/layernorm.h"
#include "common/tensor/random.h"
#include "common/tensor/tensor.h"

using namespace sog;

namespace {

std::vector<float> random_vector(int64_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = scale * rng.normal();
  return v;
}

// |got − want| ≤ atol + rtol·|want| for every element (NaN fails), reporting the first few misses.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int failures = 0;
  for (size_t i = 0; i < got.size() && failures < 5; i++) {
    const double err = std::fabs(double(got[i]) - double(want[i]));
    if (!(err <= atol + rtol * std::fabs(double(want[i])))) {
      ADD_FAILURE() << what << ": [" << i << "] = " << got[i] << ", reference " << want[i] << ", error " << err;
      failures++;
    }
  }
}

// The instruction sets to compare with the reference: every runnable one but generic itself.
std::vector<Isa> vector_isas() {
  std::vector<Isa> isas;
  for (Isa isa : runnable_isas())
    if (isa != Isa::generic) isas.push_back(isa);
  return isas;
}

class IsaKernels : public ::testing::TestWithParam<Isa> {
 protected:
  const CpuKernels& k() const { return cpu_kernels(GetParam()); }
  const CpuKernels& ref() const { return cpu_kernels(Isa::generic); }
};

TEST_P(IsaKernels, TableIsCompleteAndNamesItsInstructionSet) {
  const CpuKernels& t = k();
  EXPECT_EQ(t.isa, GetParam());
  const void* pointers[] = {
      reinterpret_cast<const void*>(t.matmul_packed), reinterpret_cast<const void*>(t.matmul_packed_parallel),
      reinterpret_cast<const void*>(t.matmul_packed_bf16b), reinterpret_cast<const void*>(t.matmul_packed_parallel_bf16b),
      reinterpret_cast<const void*>(t.matmul_dot_rows), reinterpret_cast<const void*>(t.matmul_dot_rows_bf16b),
      reinterpret_cast<const void*>(t.matmul_dot_rows_gather),
      reinterpret_cast<const void*>(t.bias_backward), reinterpret_cast<const void*>(t.row_max),
      reinterpret_cast<const void*>(t.row_sum_exp), reinterpret_cast<const void*>(t.softmax_forward),
      reinterpret_cast<const void*>(t.softmax_backward), reinterpret_cast<const void*>(t.log_softmax_forward),
      reinterpret_cast<const void*>(t.log_softmax_backward), reinterpret_cast<const void*>(t.gelu_forward),
      reinterpret_cast<const void*>(t.gelu_backward), reinterpret_cast<const void*>(t.layernorm_forward),
      reinterpret_cast<const void*>(t.layernorm_backward), reinterpret_cast<const void*>(t.attention_forward),
      reinterpret_cast<const void*>(t.attention_backward), reinterpret_cast<const void*>(t.attention_forward_cached),
      reinterpret_cast<const void*>(t.adamw_update), reinterpret_cast<const void*>(t.f32_to_bf16),
      reinterpret_cast<const void*>(t.bf16_to_f32)};
  for (const void* p : pointers) EXPECT_NE(p, nullptr);
  // A vector table's kernels are its own copies, not the reference's.
  if (GetParam() != Isa::generic) {
    EXPECT_NE(reinterpret_cast<const void*>(t.gelu_forward), reinterpret_cast<const void*>(ref().gelu_forward));
    EXPECT_NE(reinterpret_cast<const void*>(t.matmul_packed), reinterpret_cast<const void*>(ref().matmul_packed));
  }
  const MatmulBlocking b = t.gemm_blocking;
  EXPECT_GT(b.mr, 0);
  EXPECT_EQ(b.mc % b.mr, 0);
  EXPECT_EQ(b.nc % b.nr, 0);
}

// The packed GEMM: the threaded variant sums every element in the same order as the one-thread
// one (K slices in order, the same micro-kernel), so they agree bit for bit; a bf16 B is widened
// exactly while packing, so the bf16 variants equal the f32 ones on the widened weight bit for bit.
TEST_P(IsaKernels, PackedGemmThreadsAndBf16AreBitwiseTheOneThreadF32Result) {
  const MatmulBlocking b = k().gemm_blocking;
  const int64_t M = 2 * b.mr + 3, K = b.kc + 9, N = 3 * b.nr + 5;
  for (int flags = 0; flags < 4; flags++) {
    const bool ta = flags & 1, tb = flags & 2;
    SCOPED_TRACE(std::string(isa_name(GetParam())) + (ta ? " trans_a" : "") + (tb ? " trans_b" : ""));
    std::vector<float> A = random_vector(M * K, 1 + flags), Bf = random_vector(K * N, 2 + flags);
    std::vector<float> bias = random_vector(N, 3);
    std::vector<uint16_t> B16(Bf.size());
    k().f32_to_bf16(B16.data(), Bf.data(), int64_t(Bf.size()));
    std::vector<float> Bw(Bf.size());
    k().bf16_to_f32(Bw.data(), B16.data(), int64_t(B16.size()));
    std::vector<float> C1(M * N), C2(M * N), C3(M * N), C4(M * N);
    k().matmul_packed(C1.data(), A.data(), Bw.data(), bias.data(), M, K, N, ta, tb, false);
    k().matmul_packed_parallel(C2.data(), A.data(), Bw.data(), bias.data(), M, K, N, ta, tb, false);
    k().matmul_packed_bf16b(C3.data(), A.data(), B16.data(), bias.data(), M, K, N, ta, tb, false);
    k().matmul_packed_parallel_bf16b(C4.data(), A.data(), B16.data(), bias.data(), M, K, N, ta, tb, false);
    EXPECT_EQ(C1, C2);
    EXPECT_EQ(C1, C3);
    EXPECT_EQ(C1, C4);
    // And the result is the reference's up to the order of the sums.
    std::vector<float> R(M * N);
    ref().matmul_packed(R.data(), A.data(), Bw.data(), bias.data(), M, K, N, ta, tb, false);
    expect_close(C1, R, 1e-4 * std::sqrt(double(K)), 1e-5, "packed gemm vs plain C++");
  }
}

TEST_P(IsaKernels, DotRowsMatmulAndBiasGradient) {
  for (int64_t M : {1, 3, 8, 13}) {  // register blocks of rows, whole and ragged
    const int64_t K = 37, N = 131;   // a ragged K (37 mod 16), N across 32-column chunks, ragged
    std::vector<float> A = random_vector(M * K, 10 + M), B = random_vector(K * N, 20 + M), bias = random_vector(N, 30);
    std::vector<uint16_t> B16(B.size());
    ref().f32_to_bf16(B16.data(), B.data(), int64_t(B.size()));
    std::vector<float> C(M * N, 1.0f), R(M * N, 1.0f), C16(M * N, 1.0f), R16(M * N, 1.0f);
    k().matmul_dot_rows(C.data(), A.data(), B.data(), bias.data(), M, K, N, true);
    ref().matmul_dot_rows(R.data(), A.data(), B.data(), bias.data(), M, K, N, true);
    expect_close(C, R, 1e-5, 1e-5, "matmul_dot_rows M=" + std::to_string(M));
    k().matmul_dot_rows_bf16b(C16.data(), A.data(), B16.data(), nullptr, M, K, N, false);
    ref().matmul_dot_rows_bf16b(R16.data(), A.data(), B16.data(), nullptr, M, K, N, false);
    expect_close(C16, R16, 1e-5, 1e-5, "matmul_dot_rows_bf16b M=" + std::to_string(M));
  }
  // Gathered rows: each product has the bits matmul_dot_rows gives the same pair (one order), and
  // the reference's up to the order of the sums.
  for (int64_t K : {1, 16, 37, 128}) {
    const int64_t N = 50;
    std::vector<float> A = random_vector(K, 50 + K), B = random_vector(K * N, 60 + K);
    const std::vector<int32_t> rows = {49, 0, 7, 7, 23, 1, 48, 30};
    std::vector<float> all(N), G(rows.size()), R(rows.size());
    k().matmul_dot_rows(all.data(), A.data(), B.data(), nullptr, 1, K, N, false);
    k().matmul_dot_rows_gather(G.data(), A.data(), B.data(), rows.data(), int64_t(rows.size()), K);
    ref().matmul_dot_rows_gather(R.data(), A.data(), B.data(), rows.data(), int64_t(rows.size()), K);
    for (size_t j = 0; j < rows.size(); j++) EXPECT_EQ(G[j], all[rows[j]]) << "K=" << K << " row " << rows[j];
    expect_close(G, R, 1e-5, 1e-5, "matmul_dot_rows_gather K=" + std::to_string(K));
  }
  for (int64_t N : {1, 7, 64, 131}) {
    const int64_t M = 300;
    std::vector<float> dC = random_vector(M * N, 40 + N), db(N, 0.5f), rb(N, 0.5f);
    k().bias_backward(db.data(), dC.data(), M, N);
    ref().bias_backward(rb.data(), dC.data(), M, N);
    expect_close(db, rb, 1e-5, 1e-5, "bias_backward N=" + std::to_string(N));
  }
}

TEST_P(IsaKernels, SoftmaxAndLogSoftmaxRows) {
  for (int64_t C : {1, 5, 16, 37, 100}) {
    const int64_t N = 9;
    std::vector<float> x = random_vector(N * C, 50 + C, 3.0f), dy = random_vector(N * C, 60 + C);
    std::vector<float> y(N * C), r(N * C), dx(N * C, 0.25f), rdx(N * C, 0.25f);
    const std::string at = " C=" + std::to_string(C);
    k().softmax_forward(y.data(), x.data(), N, C);
    ref().softmax_forward(r.data(), x.data(), N, C);
    expect_close(y, r, 1e-7, 2e-6, "softmax_forward" + at);
    k().softmax_backward(dx.data(), r.data(), dy.data(), N, C);
    ref().softmax_backward(rdx.data(), r.data(), dy.data(), N, C);
    expect_close(dx, rdx, 1e-6, 1e-5, "softmax_backward" + at);
    k().log_softmax_forward(y.data(), x.data(), N, C);
    ref().log_softmax_forward(r.data(), x.data(), N, C);
    expect_close(y, r, 2e-6, 1e-6, "log_softmax_forward" + at);
    std::fill(dx.begin(), dx.end(), 0.25f), std::fill(rdx.begin(), rdx.end(), 0.25f);
    k().log_softmax_backward(dx.data(), r.data(), dy.data(), N, C);
    ref().log_softmax_backward(rdx.data(), r.data(), dy.data(), N, C);
    expect_close(dx, rdx, 2e-6, 1e-5, "log_softmax_backward" + at);
  }
}

TEST_P(IsaKernels, Gelu) {
  // 100003: above the threads' threshold, odd; 1 and 17: a lone element and a tail.
  for (int64_t n : {1, 17, 100, 100003}) {
    std::vector<float> x = random_vector(n, 70 + n, 3.0f), dy = random_vector(n, 80 + n);
    x[0] = n > 1 ? 20.0f : x[0];  // saturated tanh
    std::vector<float> y(n), r(n), dx(n, 0.5f), rdx(n, 0.5f);
    k().gelu_forward(y.data(), x.data(), n);
    ref().gelu_forward(r.data(), x.data(), n);
    expect_close(y, r, 1e-6, 1e-6, "gelu_forward n=" + std::to_string(n));
    for (bool accumulate : {false, true}) {
      k().gelu_backward(dx.data(), x.data(), dy.data(), n, accumulate);
      ref().gelu_backward(rdx.data(), x.data(), dy.data(), n, accumulate);
      // GELU's slope takes 1 − tanh²: the FMA-fused and the twice-rounded versions differ by a few
      // roundings of values of order 1 there.
      expect_close(dx, rdx, 1e-5, 1e-6, "gelu_backward n=" + std::to_string(n));
    }
  }
}

TEST_P(IsaKernels, LayerNorm) {
  for (int64_t C : {3, 13, 64, 771}) {  // (C = 1 normalises to 0 · 1/√eps: rounding noise × 316)
    for (int64_t N : {1, 5, 70}) {  // 70 rows: three chunks of the backward's partial sums
      const std::string at = " N=" + std::to_string(N) + " C=" + std::to_string(C);
      std::vector<float> x = random_vector(N * C, 90 + C, 2.0f), w = random_vector(C, 91), bias = random_vector(C, 92);
      std::vector<float> dy = random_vector(N * C, 93);
      for (auto& v : x) v += 3.0f;  // a mean far from 0
      std::vector<float> y(N * C), ry(N * C), mean(N), rmean(N), rstd(N), rrstd(N);
      k().layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), bias.data(), N, C, 1e-5f);
      ref().layernorm_forward(ry.data(), rmean.data(), rrstd.data(), x.data(), w.data(), bias.data(), N, C, 1e-5f);
      expect_close(y, ry, 1e-5, 1e-5, "layernorm_forward" + at);
      expect_close(mean, rmean, 1e-5, 1e-6, "layernorm mean" + at);
      expect_close(rstd, rrstd, 1e-6, 1e-5, "layernorm rstd" + at);
      const int64_t chunks = (N + kLayerNormRowsPerChunk - 1) / kLayerNormRowsPerChunk;
      std::vector<float> p1(chunks * 2 * C, 0.0f), p2(chunks * 2 * C, 0.0f);
      std::vector<float> dx(N * C, 0.5f), rdx(N * C, 0.5f), dw(C, 0.5f), rdw(C, 0.5f), db(C, 0.5f), rdb(C, 0.5f);
      k().layernorm_backward(dx.data(), dw.data(), db.data(), p1.data(), dy.data(), x.data(), w.data(), rmean.data(),
                             rrstd.data(), N, C, true);
      ref().layernorm_backward(rdx.data(), rdw.data(), rdb.data(), p2.data(), dy.data(), x.data(), w.data(),
                               rmean.data(), rrstd.data(), N, C, true);
      expect_close(dx, rdx, 2e-5, 1e-5, "layernorm_backward dx" + at);
      expect_close(dw, rdw, 2e-5, 1e-5, "layernorm_backward dweight" + at);
      expect_close(db, rdb, 2e-5, 1e-5, "layernorm_backward dbias" + at);
    }
  }
}

TEST_P(IsaKernels, AttentionForwardBackwardAndKVCache) {
  struct Shape {
    int64_t B, T, C, NH;
  };
  // Head sizes 4, 20 and 48 (not multiples of 16, a lane block and a half, three blocks) and
  // lengths that end inside a query block, a register block and a 16-key block.
  for (const Shape s : {Shape{1, 1, 8, 2}, Shape{2, 17, 40, 2}, Shape{1, 41, 96, 2}, Shape{1, 70, 16, 4}}) {
    const std::string at = " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " C=" + std::to_string(s.C) +
                           " NH=" + std::to_string(s.NH);
    const int64_t BT = s.B * s.T, att_n = s.B * s.NH * s.T * s.T;
    std::vector<float> qkv = random_vector(BT * 3 * s.C, 100 + s.T), dout = random_vector(BT * s.C, 101 + s.T);
    std::vector<float> out(BT * s.C), rout(BT * s.C), att(att_n), ratt(att_n);
    k().attention_forward(out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.NH);
    ref().attention_forward(rout.data(), ratt.data(), qkv.data(), s.B, s.T, s.C, s.NH);
    expect_close(out, rout, 2e-6, 2e-5, "attention_forward out" + at);
    expect_close(att, ratt, 1e-6, 2e-5, "attention_forward att" + at);
    std::vector<float> dqkv(qkv.size(), 0.5f), rdqkv(qkv.size(), 0.5f), dpre(att_n), rdpre(att_n);
    k().attention_backward(dqkv.data(), dpre.data(), dout.data(), qkv.data(), ratt.data(), s.B, s.T, s.C, s.NH, true);
    ref().attention_backward(rdqkv.data(), rdpre.data(), dout.data(), qkv.data(), ratt.data(), s.B, s.T, s.C, s.NH,
                             true);
    expect_close(dqkv, rdqkv, 1e-5, 1e-4, "attention_backward dqkv" + at);
    // The KV-cache path: the first T−1 positions in one call, then the last one, as in decoding.
    const int64_t HS = s.C / s.NH, max_T = s.T + 3;
    std::vector<float> kc(s.B * s.NH * HS * kv_cache_key_stride(max_T), 0.0f), vc(s.B * s.NH * max_T * HS, 0.0f);
    std::vector<float> first(s.B * (s.T - 1) * 3 * s.C), last(s.B * 3 * s.C);
    for (int64_t b = 0; b < s.B; b++) {
      std::copy_n(qkv.begin() + b * s.T * 3 * s.C, (s.T - 1) * 3 * s.C, first.begin() + b * (s.T - 1) * 3 * s.C);
      std::copy_n(qkv.begin() + (b * s.T + s.T - 1) * 3 * s.C, 3 * s.C, last.begin() + b * 3 * s.C);
    }
    std::vector<float> out_first(s.B * (s.T - 1) * s.C), out_last(s.B * s.C);
    if (s.T > 1)
      k().attention_forward_cached(out_first.data(), kc.data(), vc.data(), first.data(), s.B, s.T - 1, s.C, s.NH,
                                   max_T, 0);
    k().attention_forward_cached(out_last.data(), kc.data(), vc.data(), last.data(), s.B, 1, s.C, s.NH, max_T,
                                 s.T - 1);
    // The cached path calls the same routines as the full one: the same numbers, bit for bit.
    for (int64_t b = 0; b < s.B; b++) {
      for (int64_t c = 0; c < s.C; c++) {
        EXPECT_EQ(out_last[b * s.C + c], out[(b * s.T + s.T - 1) * s.C + c]) << "cached, last position" << at;
        for (int64_t t = 0; t + 1 < s.T; t++)
          EXPECT_EQ(out_first[(b * (s.T - 1) + t) * s.C + c], out[(b * s.T + t) * s.C + c]) << "cached" << at;
      }
    }
  }
}

TEST_P(IsaKernels, AdamWUpdate) {
  for (int64_t n : {1, 19, 100003}) {
    std::vector<float> p = random_vector(n, 110), g = random_vector(n, 111, 0.1f);
    std::vector<float> m = random_vector(n, 112, 0.01f), v = random_vector(n, 113, 0.001f);
    for (auto& x : v) x = std::fabs(x);
    std::vector<float> rp = p, rm = m, rv = v;
    k().adamw_update(p.data(), g.data(), m.data(), v.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 10.0f, 20.0f);
    ref().adamw_update(rp.data(), g.data(), rm.data(), rv.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 10.0f, 20.0f);
    expect_close(m, rm, 1e-9, 1e-6, "adamw m n=" + std::to_string(n));
    expect_close(v, rv, 1e-10, 1e-6, "adamw v n=" + std::to_string(n));
    expect_close(p, rp, 1e-7, 1e-6, "adamw params n=" + std::to_string(n));
  }
}

// bf16 conversion is integer arithmetic: every instruction set gives float_to_bf16's bits exactly,
// on ties (both ways), NaNs (kept NaN), infinities, denormals and ordinary values.
TEST_P(IsaKernels, Bf16ConversionIsBitExact) {
  std::vector<float> x = random_vector(1001, 120, 100.0f);
  const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-40f, -1e-45f, 3.4e38f, -3.4e38f};
  for (size_t i = 0; i < std::size(specials); i++) x[i] = specials[i];
  x[20] = std::bit_cast<float>(0x3f808000u);  // a tie, rounds down to even
  x[21] = std::bit_cast<float>(0x3f818000u);  // a tie, rounds up to even
  x[22] = std::bit_cast<float>(0x7f800001u);  // a NaN whose payload is only in the low half
  std::vector<uint16_t> h(x.size());
  k().f32_to_bf16(h.data(), x.data(), int64_t(x.size()));
  for (size_t i = 0; i < x.size(); i++) ASSERT_EQ(h[i], float_to_bf16(x[i])) << i << ": " << x[i];
  EXPECT_TRUE(std::isnan(bf16_to_float(h[22])));
  std::vector<float> back(h.size());
  k().bf16_to_f32(back.data(), h.data(), int64_t(h.size()));
  for (size_t i = 0; i < h.size(); i++)
    ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(bf16_to_float(h[i]))) << i;
}

INSTANTIATE_TEST_SUITE_P(Runnable, IsaKernels, ::testing::ValuesIn(runnable_isas()),
                         [](const ::testing::TestParamInfo<Isa>& info) { return std::string(isa_name(info.param)); });

// ---- the selection ------------------------------------------------------------------------------

TEST(Isa, NamesRoundTripAndUnknownNamesAreClearErrors) {
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512, Isa::neon}) EXPECT_EQ(parse_isa(isa_name(isa)), isa);
  try {
    parse_isa("sse9");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("avx512, avx2, neon, generic"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sse9"), std::string::npos) << e.what();
  }
}

TEST(Isa, BestRunnableIsTheDefaultUnlessForced) {
  const std::vector<Isa> runnable = runnable_isas();
  ASSERT_FALSE(runnable.empty());
  EXPECT_EQ(runnable.front(), Isa::generic);  // plain C++ runs everywhere
  for (Isa isa : runnable) EXPECT_TRUE(cpu_supports(isa));
  const char* forced = std::getenv("SOG_CPU");
  EXPECT_EQ(active_isa(), forced && *forced ? parse_isa(forced) : runnable.back());
  EXPECT_EQ(cpu_kernels().isa, active_isa());
  EXPECT_NE(cpu_description().find(isa_name(active_isa())), std::string::npos);
}

TEST(Isa, ScopedSwitchAndRefusalOfWhatTheCpuCannotRun) {
  const Isa before = active_isa();
  {
    ScopedIsa use(Isa::generic);
    EXPECT_EQ(active_isa(), Isa::generic);
    EXPECT_EQ(cpu_kernels().isa, Isa::generic);
  }
  EXPECT_EQ(active_isa(), before);
  for (Isa isa : {Isa::avx2, Isa::avx512, Isa::neon}) {
    bool runnable = false;
    for (Isa r : runnable_isas()) runnable = runnable || r == isa;
    if (runnable) continue;
    EXPECT_THROW(set_active_isa(isa), std::invalid_argument) << isa_name(isa);
    EXPECT_THROW(cpu_kernels(isa), std::invalid_argument) << isa_name(isa);
    EXPECT_EQ(active_isa(), before);
  }
}

}  // namespace
