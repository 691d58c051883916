#include "common/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace sog {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::neon: return "neon";
  }
  return "?";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512, Isa::neon})
    if (name == isa_name(isa)) return isa;
  throw std::invalid_argument("SOG_CPU: expected one of avx512, avx2, neon, generic, found '" + name + "'");
}

const std::vector<Isa>& compiled_isas() {
  // CMakeLists.txt compiles the *_simd.cpp sources for these (SOG_ISA_LIST).
#if defined(__x86_64__)
  static const std::vector<Isa> isas = {Isa::generic, Isa::avx2, Isa::avx512};
#elif defined(__aarch64__)
  static const std::vector<Isa> isas = {Isa::generic, Isa::neon};
#else
  static const std::vector<Isa> isas = {Isa::generic};
#endif
  return isas;
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
#if defined(__x86_64__)
    // libgcc's checks include the OS's support for the ymm / zmm register state (XGETBV).
    // __builtin_cpu_init first: this may run in a static initialiser, before libgcc's own.
    case Isa::avx2: return __builtin_cpu_init(), __builtin_cpu_supports("x86-64-v3");
    case Isa::avx512: return __builtin_cpu_init(), __builtin_cpu_supports("x86-64-v4");
#endif
#if defined(__aarch64__)
    case Isa::neon: return true;  // Advanced SIMD is part of every AArch64 CPU
#endif
    default: return false;
  }
}

std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas;
  for (Isa isa : compiled_isas())
    if (cpu_supports(isa)) isas.push_back(isa);
  return isas;
}

void check_runnable(Isa isa, const char* who) {
  bool compiled = false;
  for (Isa c : compiled_isas()) compiled = compiled || c == isa;
  std::string runnable;
  for (Isa r : runnable_isas()) runnable += std::string(runnable.empty() ? "" : ", ") + isa_name(r);
  if (!compiled)
    throw std::invalid_argument(std::string(who) + ": this build has no " + isa_name(isa) +
                                " kernels (this CPU runs: " + runnable + ")");
  if (!cpu_supports(isa))
    throw std::invalid_argument(std::string(who) + ": this CPU cannot run the " + isa_name(isa) +
                                " kernels (it runs: " + runnable + ")");
}

static std::atomic<int> g_active{-1};
static std::once_flag g_decided;

Isa active_isa() {
  std::call_once(g_decided, [] {
    if (g_active.load() >= 0) return;  // set_active_isa came first
    Isa isa = runnable_isas().back();
    if (const char* forced = std::getenv("SOG_CPU"); forced && *forced) {
      isa = parse_isa(forced);
      check_runnable(isa, "SOG_CPU");
    }
    g_active.store(static_cast<int>(isa));
  });
  return static_cast<Isa>(g_active.load(std::memory_order_relaxed));
}

void set_active_isa(Isa isa) {
  check_runnable(isa, "set_active_isa");
  std::call_once(g_decided, [] {});
  g_active.store(static_cast<int>(isa));
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    // x86: "model name : AMD EPYC 7B12"; arm64 kernels may print no model name at all.
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        const size_t start = line.find_first_not_of(' ', colon + 1);
        return start == std::string::npos ? "unknown" : line.substr(start);
      }
    }
  }
  return "unknown";
}

std::string cpu_description() { return std::string(isa_name(active_isa())) + " (" + cpu_model_name() + ")"; }

}  // namespace sog
