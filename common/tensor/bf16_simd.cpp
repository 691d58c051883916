// Compiled once per instruction set (cpu/kernels.h): whole-buffer conversions between float32 and
// bf16, the top half of a float32. Widening is a 16-bit shift (exact); narrowing rounds to the
// nearest bf16, ties to even, and keeps a NaN a NaN (a quiet bit set, since cutting the low half
// could leave a NaN with an all-zero mantissa, which is infinity) — tensor.h's float_to_bf16, in a
// loop that each instruction set's flags vectorise (no branch: a select).
#include <bit>
#include <cstdint>

#include "common/cpu/isa_kernels.h"

namespace sog::SOG_ISA {

void f32_to_bf16(uint16_t* out, const float* inp, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const uint32_t bits = std::bit_cast<uint32_t>(inp[i]);
    const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
    const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    out[i] = static_cast<uint16_t>(nan ? (bits >> 16) | 0x40u : rounded);
  }
}

void bf16_to_f32(float* out, const uint16_t* inp, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) out[i] = std::bit_cast<float>(static_cast<uint32_t>(inp[i]) << 16);
}

}  // namespace sog::SOG_ISA
