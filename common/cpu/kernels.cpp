#include "common/cpu/kernels.h"

namespace sog {

// Each instruction set's table, defined in its copy of cpu/kernels_table_simd.cpp.
namespace generic { const CpuKernels& kernel_table(); }
#if defined(__x86_64__)
namespace avx2 { const CpuKernels& kernel_table(); }
namespace avx512 { const CpuKernels& kernel_table(); }
#endif
#if defined(__aarch64__)
namespace neon { const CpuKernels& kernel_table(); }
#endif

static const CpuKernels& table_of(Isa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case Isa::avx2: return avx2::kernel_table();
    case Isa::avx512: return avx512::kernel_table();
#endif
#if defined(__aarch64__)
    case Isa::neon: return neon::kernel_table();
#endif
    default: return generic::kernel_table();
  }
}

const CpuKernels& cpu_kernels() { return table_of(active_isa()); }

const CpuKernels& cpu_kernels(Isa isa) {
  check_runnable(isa, "cpu_kernels");
  return table_of(isa);
}

}  // namespace sog
