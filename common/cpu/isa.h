// Which instruction set the CPU kernels use, chosen at run time.
//
// One build runs on any x86-64 (or arm64) machine. The kernels that decide the speed — the matmul
// micro-kernel and its packing, attention, softmax rows, GELU, LayerNorm, AdamW, bf16 ↔ f32 — are
// compiled once per instruction set, each copy in its own namespace (sog::avx512, sog::avx2,
// sog::neon, sog::generic; see common/cpu/kernels.h), and the first call picks the best one the
// CPU has:
//
//   avx512   x86-64-v4: AVX-512 F, BW, CD, DQ, VL   (Intel Skylake-SP and later, AMD Zen 4 and later)
//   avx2     x86-64-v3: AVX2, FMA, F16C, BMI1/2     (Intel Haswell and later, AMD Zen 1–3)
//   neon     AArch64's Advanced SIMD                 (every arm64 CPU: Apple Silicon, Graviton, …)
//   generic  plain C++, the compiler's baseline      (any CPU; the reference the others are tested against)
//
// The environment variable SOG_CPU=avx512|avx2|neon|generic forces one (for tests, benchmarks and
// bug reports); asking for one the CPU cannot run is an error, never an illegal instruction.
#pragma once
#include <string>
#include <vector>

namespace sog {

enum class Isa { generic, avx2, avx512, neon };

// "generic", "avx2", "avx512", "neon".
const char* isa_name(Isa isa);
// The inverse of isa_name; throws std::invalid_argument naming the accepted values.
Isa parse_isa(const std::string& name);

// Instruction sets this build compiled kernels for (x86-64: generic, avx2, avx512; arm64: generic,
// neon), best last.
const std::vector<Isa>& compiled_isas();
// Whether this CPU (and its OS, for the wider registers' state) can run `isa`'s kernels.
bool cpu_supports(Isa isa);
// The compiled instruction sets this CPU can run, best last: what tests run every kernel on.
std::vector<Isa> runnable_isas();

// Throws std::invalid_argument, naming what this CPU runs, unless `isa` is compiled and runnable.
// `who` starts the message ("SOG_CPU", "set_active_isa", …).
void check_runnable(Isa isa, const char* who);

// The instruction set the kernels use: SOG_CPU when set (checked: compiled and runnable), else the
// best runnable one. Decided on the first call.
Isa active_isa();
// Switches the kernels to `isa` (compiled and runnable, else std::invalid_argument), for tests and
// benchmarks that compare instruction sets within one process. Not thread-safe against kernels
// running at the same time.
void set_active_isa(Isa isa);

// Restores the previous instruction set when it goes out of scope.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(active_isa()) { set_active_isa(isa); }
  ~ScopedIsa() { set_active_isa(previous_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

// A line for reports: the active instruction set and the CPU's model name, e.g.
// "avx2 (AMD EPYC 7B12)".
std::string cpu_description();
// The CPU's model name from /proc/cpuinfo ("unknown" when it has none).
std::string cpu_model_name();

}  // namespace sog
