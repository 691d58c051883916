#include "common/generate/batch_decoder.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>

#include "common/autograd/tape.h"
#include "common/ops/matmul_kernels.h"

namespace sog {

BatchDecoder::BatchDecoder(GPT& model, int64_t rows, int64_t cache_T) : model_(model), window_(model.config().max_T) {
  if (rows < 1) throw std::invalid_argument("BatchDecoder: rows must be >= 1, found " + std::to_string(rows));
  if (cache_T < 1 || cache_T > window_) {
    throw std::invalid_argument("BatchDecoder: cache_T must be in 1.." + std::to_string(window_) +
                                " (the model's maxT), found " + std::to_string(cache_T));
  }
  caches_ = model.make_caches(rows, cache_T);
  slots_.resize(static_cast<size_t>(rows));
}

void BatchDecoder::forward_alone(int64_t r, const std::vector<int32_t>& ids, int64_t after) {
  NoGradGuard no_grad;
  Slot& slot = slots_[static_cast<size_t>(r)];
  std::vector<KVCache> row;
  for (const KVCache& c : caches_) {
    row.push_back(c.row(r));
    row.back().length = after;
  }
  const int64_t n = static_cast<int64_t>(ids.size());
  slot.logits = model_.forward_cached(Tensor::from_ids({1, n}, ids), row);  // (1,Vp)
  slot.logits_row = 0;
  slot.cached = after + n;
}

void BatchDecoder::prefill(int64_t r, int64_t keep) {
  const std::vector<int32_t>& context = slots_[static_cast<size_t>(r)].context;
  keep = std::min<int64_t>(keep, static_cast<int64_t>(context.size()));
  forward_alone(r, std::vector<int32_t>(context.end() - keep, context.end()), 0);
}

void BatchDecoder::start(int64_t r, std::vector<int32_t> context) {
  if (context.empty()) throw std::invalid_argument("BatchDecoder: the prompt is empty (start from <|endoftext|>)");
  slots_.at(static_cast<size_t>(r)).context = std::move(context);
  prefill(r, window_);
}

const float* BatchDecoder::logits(int64_t r) const {
  const Slot& slot = slots_.at(static_cast<size_t>(r));
  return slot.logits.f32() + slot.logits_row * model_.config().Vp;
}

void BatchDecoder::push(int64_t r, int32_t token) {
  Slot& slot = slots_.at(static_cast<size_t>(r));
  slot.context.push_back(token);
  if (slot.cached >= window_) {
    prefill(r, window_ / 2);
  } else {
    pending_.push_back(r);
  }
}

void BatchDecoder::push_with(int64_t r, int32_t token, std::span<const int32_t> runtime) {
  Slot& slot = slots_.at(static_cast<size_t>(r));
  std::vector<int32_t> ids = {token};
  ids.insert(ids.end(), runtime.begin(), runtime.end());
  slot.context.insert(slot.context.end(), ids.begin(), ids.end());
  if (slot.cached + static_cast<int64_t>(ids.size()) > window_) {
    prefill(r, window_ / 2);
  } else {
    forward_alone(r, ids, slot.cached);
  }
}

void BatchDecoder::release(int64_t r) {
  Slot& slot = slots_.at(static_cast<size_t>(r));
  slot.context.clear();
  slot.logits = Tensor();
  slot.cached = 0;
  pending_.erase(std::remove(pending_.begin(), pending_.end(), r), pending_.end());
}

// The pushed rows go in groups of at most kMatmulDotRowsMaxM, whose matmuls keep every row's bits
// (matmul_kernels.h). With several threads and enough rows the groups run side by side, a thread
// each (the ops inside a group then run on that one thread: a nested parallel region), so a step
// forks and joins once instead of once per op, each op's work being small: at B = 16 the small
// preset's ops split across 2 threads spent most of a step waiting for each other whenever another
// process held a core.
constexpr int64_t kRowsPerThreadMin = 4;  // fewer rows per group: the ops' own threads instead

void BatchDecoder::step() {
  const int64_t live = static_cast<int64_t>(pending_.size());
  if (live == 0) return;
  NoGradGuard no_grad;
  int64_t groups = (live + kMatmulDotRowsMaxM - 1) / kMatmulDotRowsMaxM;
  groups = std::max(groups, std::min<int64_t>(omp_get_max_threads(), live / kRowsPerThreadMin));
  std::vector<Tensor> logits(groups);
  auto run_group = [&](int64_t g) {
    std::vector<int32_t> ids;
    std::vector<int64_t> rows, lengths;
    for (int64_t j = live * g / groups; j < live * (g + 1) / groups; j++) {
      const Slot& slot = slots_[static_cast<size_t>(pending_[j])];
      ids.push_back(slot.context.back());
      rows.push_back(pending_[j]);
      lengths.push_back(slot.cached);
    }
    logits[g] = model_.forward_cached_rows(ids, rows, lengths, caches_);  // (rows,Vp)
  };
  if (groups == 1) {
    run_group(0);  // (not inside an inactive parallel region, whose nested ones would be new teams)
  } else {
    std::vector<std::exception_ptr> errors(groups);
#pragma omp parallel for schedule(dynamic)
    for (int64_t g = 0; g < groups; g++) {
      try {
        run_group(g);
      } catch (...) {
        errors[g] = std::current_exception();
      }
    }
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
  }
  for (int64_t g = 0; g < groups; g++) {
    const int64_t first = live * g / groups;
    for (int64_t j = first; j < live * (g + 1) / groups; j++) {
      Slot& slot = slots_[static_cast<size_t>(pending_[j])];
      slot.logits = logits[g];
      slot.logits_row = j - first;
      slot.cached++;
    }
  }
  pending_.clear();
}

}  // namespace sog
