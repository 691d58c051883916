// hnswlib and FAISS behind bench/vector_index_peers.h. This file alone is compiled with
// -march=native (bench/CMakeLists.txt): hnswlib picks its SSE / AVX / AVX-512 distance at compile
// time from the compiler's flags, and native flags are what its own build (pip's hnswlib) uses, so
// it is measured at its best on the machine that runs the benchmark. FAISS comes precompiled
// (Debian's libfaiss.a) and is measured as packaged.
#include "bench/vector_index_peers.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <thread>

#if SOG_HAVE_HNSWLIB
#include <hnswlib/hnswlib.h>
#endif
#if SOG_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#endif

namespace sog::bench {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Queries [0, nq) split into `threads` contiguous ranges, one std::thread each (or inline for one).
template <typename Fn>
void over_threads(int64_t nq, int threads, Fn fn) {
  if (threads <= 1) {
    fn(0, nq);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) pool.emplace_back(fn, nq * t / threads, nq * (t + 1) / threads);
  for (std::thread& th : pool) th.join();
}

#if SOG_HAVE_HNSWLIB
class Hnswlib : public PeerIndex {
 public:
  Hnswlib(const float* rows, int64_t n, int64_t d, int M, int ef_construction)
      : space_(static_cast<size_t>(d)), index_(&space_, static_cast<size_t>(n), static_cast<size_t>(M),
                                               static_cast<size_t>(ef_construction), 100) {
    for (int64_t i = 0; i < n; i++) index_.addPoint(rows + i * d, static_cast<hnswlib::labeltype>(i));
    d_ = d;
  }
  void search(const float* queries, int64_t nq, int k, int ef, int threads, int64_t* ids) override {
    index_.setEf(static_cast<size_t>(ef));
    over_threads(nq, threads, [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; q++) {
        auto found = index_.searchKnn(queries + q * d_, static_cast<size_t>(k));  // a max-heap of (1 − dot, label)
        for (int64_t r = static_cast<int64_t>(found.size()) - 1; r >= 0; r--, found.pop())
          ids[q * k + r] = static_cast<int64_t>(found.top().second);
      }
    });
  }
  size_t memory_bytes() const override {
    size_t bytes = index_.max_elements_ * index_.size_data_per_element_;  // level 0: links, vector, label
    for (int level : index_.element_levels_) bytes += static_cast<size_t>(level) * index_.size_links_per_element_;
    bytes += index_.max_elements_ * (sizeof(char*) + sizeof(int));  // linkLists_ pointers, element_levels_
    return bytes;
  }

 private:
  hnswlib::InnerProductSpace space_;
  hnswlib::HierarchicalNSW<float> index_;
  int64_t d_ = 0;
};
#endif

#if SOG_HAVE_FAISS
class Faiss : public PeerIndex {
 public:
  explicit Faiss(std::unique_ptr<faiss::Index> index) : index_(std::move(index)) {}
  void search(const float* queries, int64_t nq, int k, int ef, int threads, int64_t* ids) override {
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_.get())) hnsw->hnsw.efSearch = ef;
    std::vector<float> scores(static_cast<size_t>(nq * k));
    std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(nq * k));
    omp_set_num_threads(threads);
    index_->search(nq, queries, k, scores.data(), labels.data());  // one batch: FAISS's own threads
    std::copy(labels.begin(), labels.end(), ids);
  }
  size_t memory_bytes() const override {
    if (auto* flat = dynamic_cast<const faiss::IndexFlatCodes*>(index_.get())) return flat->codes.size();
    const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index_.get());
    const auto* storage = dynamic_cast<const faiss::IndexFlatCodes*>(hnsw->storage);
    return storage->codes.size() + hnsw->hnsw.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t) +
           hnsw->hnsw.offsets.size() * sizeof(size_t) + hnsw->hnsw.levels.size() * sizeof(int);
  }

 private:
  std::unique_ptr<faiss::Index> index_;
};
#endif

}  // namespace

PeerBuild build_hnswlib(const float* rows, int64_t n, int64_t d, int M, int ef_construction) {
  PeerBuild b;
#if SOG_HAVE_HNSWLIB
  const auto t0 = std::chrono::steady_clock::now();
  b.index = std::make_unique<Hnswlib>(rows, n, d, M, ef_construction);
  b.build_seconds = seconds_since(t0);
#else
  (void)rows, (void)n, (void)d, (void)M, (void)ef_construction;
  b.missing = "hnswlib not found at configure time (hnswlib/hnswlib.h; Debian: libhnswlib-dev)";
#endif
  return b;
}

PeerBuild build_faiss_hnsw(const float* rows, int64_t n, int64_t d, int M, int ef_construction, int build_threads) {
  PeerBuild b;
#if SOG_HAVE_FAISS
  const auto t0 = std::chrono::steady_clock::now();
  auto index = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(d), M, faiss::METRIC_INNER_PRODUCT);
  index->hnsw.efConstruction = ef_construction;
  omp_set_num_threads(build_threads);
  index->add(n, rows);
  b.build_seconds = seconds_since(t0);
  b.index = std::make_unique<Faiss>(std::move(index));
#else
  (void)rows, (void)n, (void)d, (void)M, (void)ef_construction, (void)build_threads;
  b.missing = "FAISS not found at configure time (libfaiss, faiss/IndexHNSW.h; Debian: libfaiss-dev)";
#endif
  return b;
}

PeerBuild build_faiss_flat(const float* rows, int64_t n, int64_t d) {
  PeerBuild b;
#if SOG_HAVE_FAISS
  const auto t0 = std::chrono::steady_clock::now();
  auto index = std::make_unique<faiss::IndexFlatIP>(static_cast<int>(d));
  index->add(n, rows);
  b.build_seconds = seconds_since(t0);
  b.index = std::make_unique<Faiss>(std::move(index));
#else
  (void)rows, (void)n, (void)d;
  b.missing = "FAISS not found at configure time (libfaiss, faiss/IndexFlat.h; Debian: libfaiss-dev)";
#endif
  return b;
}

std::vector<std::string> peer_notes() {
  std::vector<std::string> notes;
#if SOG_HAVE_HNSWLIB
  notes.push_back(std::string("hnswlib (header-only, compiled here with -march=native: ") +
#if defined(__AVX512F__)
                  "AVX-512" +
#elif defined(__AVX__)
                  "AVX" +
#else
                  "SSE" +
#endif
                  " distances); memory: level-0 blocks (links, vector, label) + upper lists + per-node "
                  "pointers and levels, not its label hash map");
#endif
#if SOG_HAVE_FAISS
  notes.push_back("FAISS " + std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
                  std::to_string(FAISS_VERSION_PATCH) +
                  " (Debian's libfaiss.a, compiled for the x86-64 baseline); searches a batch with its own OpenMP "
                  "threads; memory: stored vectors + neighbours + offsets + levels");
#endif
  return notes;
}

}  // namespace sog::bench
