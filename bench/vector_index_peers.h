// The benchmark peers of the vector index (bench/bench_vector_index.cpp): hnswlib's HNSW and FAISS's
// IndexHNSWFlat and IndexFlatIP, each behind one small interface, built only when CMake found the
// library (SOG_HAVE_HNSWLIB, SOG_HAVE_FAISS); a peer that was not found is reported, not faked.
// Every peer is given the same normalised vectors and searches by inner product, so its scores
// are cosines as ours are.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sog::bench {

class PeerIndex {
 public:
  virtual ~PeerIndex() = default;
  // The k best ids of nq queries (nq,d) with beam width ef (ignored by exact indexes) on `threads`
  // threads; ids (nq,k).
  virtual void search(const float* queries, int64_t nq, int k, int ef, int threads, int64_t* ids) = 0;
  // Bytes the index holds, as counted from its own structures (peer_notes says what is counted).
  virtual size_t memory_bytes() const = 0;
};

struct PeerBuild {
  std::unique_ptr<PeerIndex> index;  // null when the peer is not built in
  double build_seconds = 0;
  std::string missing;  // why there is no index: "hnswlib not found (hnswlib/hnswlib.h)"
};

// rows (n,d), unit length. build_threads: the threads FAISS's add may use (hnswlib's and ours
// build on one).
PeerBuild build_hnswlib(const float* rows, int64_t n, int64_t d, int M, int ef_construction);
PeerBuild build_faiss_hnsw(const float* rows, int64_t n, int64_t d, int M, int ef_construction, int build_threads);
PeerBuild build_faiss_flat(const float* rows, int64_t n, int64_t d);
// One line per peer: version, how it was compiled, what its memory figure counts.
std::vector<std::string> peer_notes();

}  // namespace sog::bench
