// Compiled once per instruction set: that set's table of kernels (cpu/kernels.h).
#include "common/cpu/isa_kernels.h"

namespace sog::SOG_ISA {

const CpuKernels& kernel_table() {
  static const CpuKernels table = {
      .isa = Isa::SOG_ISA,
      .gemm_blocking = gemm_blocking(),
      .matmul_packed = matmul_packed,
      .matmul_packed_parallel = matmul_packed_parallel,
      .matmul_packed_bf16b = matmul_packed_bf16b,
      .matmul_packed_parallel_bf16b = matmul_packed_parallel_bf16b,
      .matmul_dot_rows = matmul_dot_rows,
      .matmul_dot_rows_bf16b = matmul_dot_rows_bf16b,
      .matmul_dot_rows_gather = matmul_dot_rows_gather,
      .bias_backward = bias_backward,
      .row_max = row_max,
      .row_sum_exp = row_sum_exp,
      .softmax_forward = softmax_forward,
      .softmax_backward = softmax_backward,
      .log_softmax_forward = log_softmax_forward,
      .log_softmax_backward = log_softmax_backward,
      .gelu_forward = gelu_forward,
      .gelu_backward = gelu_backward,
      .layernorm_forward = layernorm_forward,
      .layernorm_backward = layernorm_backward,
      .attention_forward = attention_forward,
      .attention_backward = attention_backward,
      .attention_forward_cached = attention_forward_cached,
      .adamw_update = adamw_update,
      .f32_to_bf16 = f32_to_bf16,
      .bf16_to_f32 = bf16_to_f32,
  };
  return table;
}

}  // namespace sog::SOG_ISA
