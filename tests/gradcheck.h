// One helper checks the backward of any op against central finite differences.
//
//   expect_gradients_match([](auto& in) { return gelu(in[0]); }, {x});
//
// It draws a fixed random upstream gradient R (same shape as the output), runs the op once with
// the tape and backward(out, R), then for every element x_i of every input that requires grad
// computes (L(x_i + h) − L(x_i − h)) / 2h with L = Σ out·R accumulated in double, and compares.
// check_gradients does the same and returns what disagreed instead of failing the test, so that
// tests/test_gradcheck.cpp can feed it deliberately wrong backwards and require it to object.
//
// Tolerances: the op runs in float32, so L carries a relative rounding error of ~1e-7·√n; divided
// by 2h = 2e-2 that is ~1e-5·|L| — well below the default atol 2e-3 + rtol 2e-2 · |numeric|.
// The truncation error of central differences is O(h²·f''') ≈ 1e-4 for the smooth ops here.
// Ops with kinks (clamp, min/max) keep test points away from the kink.
//
// A check only has teeth where the gradients are large next to atol: a backward that returns zeros
// passes wherever |numeric| < atol / (1 − rtol) ≈ 2e-3. Whole-model checks, which can only sample a
// few elements per tensor, use sample_numeric_gradients + compare_gradients and assert that each
// tensor's sampled gradients are well above that (tests/test_gpt.cpp, tests/test_lora.cpp).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/tensor/random.h"
#include "common/tensor/tensor.h"

namespace sog::testing {

using OpFn = std::function<Tensor(std::vector<Tensor>&)>;

struct GradCheckOptions {
  float h = 1e-2f;
  float atol = 2e-3f;
  float rtol = 2e-2f;
  uint64_t seed = 7;
};

// The acceptance rule, in one place: |analytic − numeric| ≤ atol + rtol·|numeric|.
inline bool gradients_agree(double analytic, double numeric, const GradCheckOptions& opt) {
  return std::fabs(analytic - numeric) <= opt.atol + opt.rtol * std::fabs(numeric);
}

// What a check found: how many elements it compared and a line per element that disagreed.
struct GradCheckReport {
  int64_t checked = 0;
  double max_abs_numeric = 0;  // the largest |numeric gradient| compared
  std::vector<std::string> mismatches;
  bool ok() const { return checked > 0 && mismatches.empty(); }
  std::string summary(size_t show = 8) const {
    std::ostringstream s;
    s << mismatches.size() << " of " << checked << " gradient elements disagree";
    for (size_t i = 0; i < mismatches.size() && i < show; i++) s << "\n  " << mismatches[i];
    if (mismatches.size() > show) s << "\n  …";
    return s.str();
  }
  void compare(const std::string& where, double analytic, double numeric, const GradCheckOptions& opt) {
    checked++;
    max_abs_numeric = std::max(max_abs_numeric, std::fabs(numeric));
    if (!gradients_agree(analytic, numeric, opt)) {
      std::ostringstream s;
      s << where << ": analytic " << analytic << ", numeric " << numeric;
      mismatches.push_back(s.str());
    }
  }
};

inline double weighted_sum(const Tensor& out, const std::vector<float>& r) {
  std::vector<float> v = out.to_vector();
  double s = 0;
  for (size_t i = 0; i < v.size(); i++) s += static_cast<double>(v[i]) * r[i];
  return s;
}

inline GradCheckReport check_gradients(const OpFn& f, std::vector<Tensor> inputs, GradCheckOptions opt = {}) {
  GradCheckReport report;
  for (auto& t : inputs) t.reset_grad();
  clear_tape();
  Tensor out = f(inputs);
  if (!out.requires_grad()) {
    report.mismatches.push_back("the op recorded nothing on the tape");
    return report;
  }
  Rng rng(opt.seed);
  std::vector<float> r(out.numel());
  for (auto& v : r) v = rng.normal();
  backward(out, Tensor::from_vector(out.shape(), r));

  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); k++) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor g = x.grad();
    if (!g.defined()) {
      report.mismatches.push_back("input " + std::to_string(k) + " received no gradient");
      continue;
    }
    std::vector<float> analytic = g.to_vector();
    float* p = x.f32();
    for (int64_t i = 0; i < x.numel(); i++) {
      float saved = p[i];
      p[i] = saved + opt.h;
      double lp = weighted_sum(f(inputs), r);
      p[i] = saved - opt.h;
      double lm = weighted_sum(f(inputs), r);
      p[i] = saved;
      double numeric = (lp - lm) / (2.0 * opt.h);
      report.compare("input " + std::to_string(k) + " element " + std::to_string(i), analytic[i], numeric, opt);
    }
  }
  return report;
}

inline void expect_gradients_match(const OpFn& f, std::vector<Tensor> inputs, GradCheckOptions opt = {}) {
  GradCheckReport report = check_gradients(f, std::move(inputs), opt);
  EXPECT_TRUE(report.ok()) << report.summary();
}

// ---- sampled checks of a whole model ----------------------------------------------------------

// A named tensor inside a flat parameter buffer; elements at or past `sample_below` are never
// sampled (e.g. wte's padded vocabulary rows, which get no gradient).
struct CheckedTensor {
  std::string name;
  int64_t offset = 0, numel = 0, sample_below = -1;  // -1: the whole tensor
};
struct NumericSample {
  size_t segment;
  int64_t index;  // into the flat buffer
  double numeric;
};

// `per_segment` elements drawn (seeded) from each segment of `params`, and their central
// differences of `loss` (which must not record on the tape: call it under NoGradGuard).
inline std::vector<NumericSample> sample_numeric_gradients(const std::function<double()>& loss, float* params,
                                                           const std::vector<CheckedTensor>& segments,
                                                           int per_segment, float h, uint64_t seed) {
  Rng pick(seed);
  std::vector<NumericSample> samples;
  for (size_t s = 0; s < segments.size(); s++) {
    const CheckedTensor& seg = segments[s];
    const int64_t range = seg.sample_below < 0 ? seg.numel : seg.sample_below;
    for (int k = 0; k < per_segment; k++) {
      const int64_t i = seg.offset + static_cast<int64_t>(pick.below(static_cast<uint64_t>(range)));
      float* p = params + i;
      const float saved = *p;
      *p = saved + h;
      const double lp = loss();
      *p = saved - h;
      const double lm = loss();
      *p = saved;
      samples.push_back({s, i, (lp - lm) / (2.0 * h)});
    }
  }
  return samples;
}

// The samples against an analytic gradient (the flat buffer's), one report per segment.
inline std::vector<GradCheckReport> compare_gradients(const std::vector<NumericSample>& samples,
                                                      const std::vector<float>& analytic,
                                                      const std::vector<CheckedTensor>& segments,
                                                      const GradCheckOptions& opt) {
  std::vector<GradCheckReport> reports(segments.size());
  for (const NumericSample& s : samples) {
    reports[s.segment].compare(segments[s.segment].name + " element " + std::to_string(s.index - segments[s.segment].offset),
                               analytic[static_cast<size_t>(s.index)], s.numeric, opt);
  }
  return reports;
}

// Token ids (B,T) i32 drawn uniformly from [0, V), deterministic for a seed.
inline Tensor random_ids(int64_t B, int64_t T, int V, uint64_t seed) {
  Rng r(seed);
  std::vector<int32_t> ids(static_cast<size_t>(B * T));
  for (auto& id : ids) id = static_cast<int32_t>(r.below(static_cast<uint64_t>(V)));
  return Tensor::from_ids({B, T}, ids);
}

// A tensor of the given shape, N(0, std), that requires grad.
inline Tensor random_input(const Shape& shape, uint64_t seed, float std = 1.0f) {
  Tensor t = Tensor::randn(shape, std, seed);
  t.set_requires_grad(true);
  return t;
}

inline std::string source_path(const std::string& rel) { return std::string(SOG_SOURCE_DIR) + "/" + rel; }

}  // namespace sog::testing
