// What both indexes share (normalising rows and queries) and the exact index: every score through
// the matmul, then the k best of each row.
#include "common/retrieval/vector_index.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>

#include "common/ops/matmul_kernels.h"

namespace sog {

const char* vector_index_kind_name(VectorIndexKind kind) {
  switch (kind) {
    case VectorIndexKind::flat: return "flat";
    case VectorIndexKind::hnsw: return "hnsw";
  }
  return "unknown";
}

VectorIndex::VectorIndex(int64_t dim) : dim_(dim) {
  if (dim < 1) throw std::invalid_argument("vector index: dim must be at least 1, found " + std::to_string(dim));
}

namespace {

// 1/‖x‖ of a row of d floats, or an error message naming what is wrong with it ("" when fine).
// The norm is summed in double, so a row of large or tiny floats neither overflows nor underflows.
std::string inverse_norm(const float* x, int64_t d, float* inv_norm) {
  double sum = 0.0;
  for (int64_t j = 0; j < d; j++) {
    if (!std::isfinite(x[j])) {
      return std::string(std::isnan(x[j]) ? "a NaN" : "an infinity") + " at column " + std::to_string(j);
    }
    sum += double(x[j]) * double(x[j]);
  }
  if (sum == 0.0) return "a zero vector, which has no direction to compare (cosine needs a norm > 0)";
  *inv_norm = static_cast<float>(1.0 / std::sqrt(sum));
  return "";
}

}  // namespace

void VectorIndex::append_normalised(const float* rows, int64_t n) {
  if (n < 0) throw std::invalid_argument("vector index add: row count must be ≥ 0, found " + std::to_string(n));
  if (count_ + n > INT32_MAX) {
    throw std::invalid_argument("vector index add: at most 2³¹−1 vectors (the file's and the graph's ids are int32), "
                                "asked for " + std::to_string(count_ + n));
  }
  std::vector<float> inv(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    const std::string problem = inverse_norm(rows + i * dim_, dim_, &inv[i]);
    if (!problem.empty()) {
      throw std::invalid_argument("vector index add: row " + std::to_string(i) + " of the batch (it would be id " +
                                  std::to_string(count_ + i) + ") has " + problem + "; nothing was added");
    }
  }
  vectors_.resize(static_cast<size_t>((count_ + n) * dim_));
  float* dst = vectors_.data() + count_ * dim_;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < dim_; j++) dst[i * dim_ + j] = rows[i * dim_ + j] * inv[i];
  count_ += n;
}

void VectorIndex::normalise_query(const float* query, float* out) const {
  float inv = 0.0f;
  const std::string problem = inverse_norm(query, dim_, &inv);
  if (!problem.empty()) throw std::invalid_argument("vector index search: the query has " + problem);
  for (int64_t j = 0; j < dim_; j++) out[j] = query[j] * inv;
}

std::vector<std::vector<Hit>> VectorIndex::search_batch(const float* queries, int64_t nq, int k) const {
  std::vector<std::vector<Hit>> out(static_cast<size_t>(nq));
  for (int64_t i = 0; i < nq; i++) out[i] = search(queries + i * dim_, k);
  return out;
}

// ---- the exact index ------------------------------------------------------------------------

void FlatIndex::add(const float* rows, int64_t n) { append_normalised(rows, n); }

size_t FlatIndex::memory_bytes() const { return sizeof(*this) + vectors_.capacity() * sizeof(float); }

namespace {

// Orders hits best first: the higher score, then the lower id.
bool better(const Hit& a, const Hit& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); }

// The k best of n scores (ids 0…n−1), best first. A heap of the k best so far with the worst on
// top: scanning ids in increasing order, a later score replaces the top only when strictly higher,
// so of equal scores the lower id stays.
std::vector<Hit> top_k(const float* scores, int64_t n, int k) {
  std::vector<Hit> heap;
  heap.reserve(static_cast<size_t>(k));
  for (int64_t i = 0; i < n; i++) {
    if (static_cast<int64_t>(heap.size()) < k) {
      heap.push_back({i, scores[i]});
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (scores[i] > heap.front().score) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = {i, scores[i]};
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), better);
  return heap;
}

void check_k(int k) {
  if (k < 1) throw std::invalid_argument("vector index search: k must be at least 1, found " + std::to_string(k));
}

}  // namespace

std::vector<Hit> FlatIndex::search(const float* query, int k) const { return search_batch(query, 1, k)[0]; }

std::vector<std::vector<Hit>> FlatIndex::search_batch(const float* queries, int64_t nq, int k) const {
  check_k(k);
  std::vector<std::vector<Hit>> out(static_cast<size_t>(nq));
  if (count_ == 0) return out;
  // Queries go through in blocks, so the score matrix stays a few tens of MB at most.
  const int64_t block = std::clamp<int64_t>((int64_t(1) << 24) / count_, 1, 256);
  std::vector<float> q(static_cast<size_t>(std::min(nq, block) * dim_));
  std::vector<float> scores(static_cast<size_t>(std::min(nq, block) * count_));
  for (int64_t q0 = 0; q0 < nq; q0 += block) {
    const int64_t rows = std::min(block, nq - q0);
    for (int64_t i = 0; i < rows; i++) normalise_query(queries + (q0 + i) * dim_, q.data() + i * dim_);
    matmul_forward(scores.data(), q.data(), vectors_.data(), nullptr, rows, dim_, count_, false, true,
                   false);  // (rows,n) = Q̂ · X̂ᵀ
#pragma omp parallel for schedule(static) if (rows > 1)
    for (int64_t i = 0; i < rows; i++) out[q0 + i] = top_k(scores.data() + i * count_, count_, k);
  }
  return out;
}

}  // namespace sog
