// The vector store of retrieval-augmented generation (chapter 06): the k stored vectors most
// similar to a query, exactly (FlatIndex) or approximately and much faster (HnswIndex).
//
// Similarity is cosine. Every vector is L2-normalised as it is added, x̂ = x / ‖x‖, and so is each
// query, so the score of stored vector i for query q is the dot product x̂_i · q̂ = cos(x_i, q) in
// [−1, 1], higher is closer. A zero vector, or one with a NaN or an infinity, cannot be normalised
// and is refused with an error naming its row (the index is left as it was). ids are the insertion
// order 0, 1, 2, … (at most 2³¹−1 vectors); a search returns at most k hits, best first, ties to
// the lower id.
//
//   d   the dimension of every vector;  n  the vectors stored;  nq  queries in a batch
//
//   FlatIndex  every score of a block of queries with the project's matmul,
//              scores (nq,n) = Q̂ (nq,d) · X̂ᵀ with X̂ stored (n,d) (matmul_forward, trans_b; the
//              instruction set picked at run time), then the k best of each row with a heap.
//              Exact; n·d multiply-adds per query.
//   HnswIndex  a Hierarchical Navigable Small World graph (Malkov & Yashunin 2016, "Efficient and
//              robust approximate nearest neighbor search using HNSW graphs"), written from the
//              paper: hnsw.cpp explains levels, greedy descent, the beam of width ef and the
//              neighbour-selection heuristic. About ef·2M dot products per query instead of n.
//
// Both save to and load from one versioned little-endian file with a checksum (index_file.cpp
// documents every byte); a corrupt, truncated or mismatched file is refused with an error naming
// the file, what was expected and what was found.
//
//   HnswIndex index(256, {.M = 16, .ef_construction = 200, .seed = 7});
//   index.add(embeddings, n);                       // (n,256)
//   std::vector<Hit> hits = index.search(q, 5);     // q (256)
//   index.save("library.vidx");
//   std::unique_ptr<VectorIndex> again = load_vector_index("library.vidx", /*expected_dim=*/256);
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "common/tensor/random.h"

namespace sog {

struct Hit {
  int64_t id;   // insertion order
  float score;  // cosine similarity to the query
};

// 64-byte aligned storage, so that a stored row of 16·j floats starts on a cache line.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  bool operator==(const CacheLineAllocator&) const { return true; }
};

enum class VectorIndexKind : int32_t { flat = 1, hnsw = 2 };
const char* vector_index_kind_name(VectorIndexKind kind);  // "flat", "hnsw"

// What both indexes share: the normalised vectors, (n,d) row-major.
class VectorIndex {
 public:
  explicit VectorIndex(int64_t dim);
  virtual ~VectorIndex() = default;

  virtual VectorIndexKind kind() const = 0;
  // Appends n rows (n,d); ids continue from size(). Throws std::invalid_argument naming the row
  // (of this batch, and the id it would have had) when one cannot be normalised; then nothing is added.
  virtual void add(const float* rows, int64_t n) = 0;
  // The k (≥ 1) best stored vectors for `query` (d), best first; fewer when fewer are stored.
  virtual std::vector<Hit> search(const float* query, int k) const = 0;
  // nq queries (nq,d): one list each. The flat index scores a block of queries in one matmul.
  virtual std::vector<std::vector<Hit>> search_batch(const float* queries, int64_t nq, int k) const;
  virtual void save(const std::string& path) const = 0;
  // Bytes this index holds (vectors, graph, bookkeeping), by the capacity of its buffers.
  virtual size_t memory_bytes() const = 0;

  int64_t size() const { return count_; }
  int64_t dim() const { return dim_; }
  // Stored vector `id`, normalised (d floats).
  const float* vector(int64_t id) const { return vectors_.data() + id * dim_; }

 protected:
  VectorIndex(const VectorIndex&) = default;  // by the derived classes only: no slicing
  VectorIndex(VectorIndex&&) noexcept = default;
  VectorIndex& operator=(const VectorIndex&) = default;
  VectorIndex& operator=(VectorIndex&&) noexcept = default;

  // Checks every row (finite, non-zero) before touching the index, then appends them normalised.
  void append_normalised(const float* rows, int64_t n);
  // query (d) → q̂ in out (d); std::invalid_argument when the query is zero, NaN or infinite.
  void normalise_query(const float* query, float* out) const;

  int64_t dim_ = 0;
  int64_t count_ = 0;
  std::vector<float, CacheLineAllocator<float>> vectors_;  // (n,d), each row unit length

  friend struct VectorIndexFile;
};

// Exact search: every score, through the matmul.
class FlatIndex : public VectorIndex {
 public:
  explicit FlatIndex(int64_t dim) : VectorIndex(dim) {}
  VectorIndexKind kind() const override { return VectorIndexKind::flat; }
  void add(const float* rows, int64_t n) override;
  std::vector<Hit> search(const float* query, int k) const override;
  std::vector<std::vector<Hit>> search_batch(const float* queries, int64_t nq, int k) const override;
  void save(const std::string& path) const override;
  size_t memory_bytes() const override;
  // A flat index file; expected_dim ≥ 0 must equal the file's dim ("index has dim 192, the model
  // gives 256"). Throws std::runtime_error naming the file (vector_index.h's header comment).
  static FlatIndex load(const std::string& path, int64_t expected_dim = -1);
};

struct HnswParams {
  int M = 16;                  // neighbours kept per node on levels ≥ 1; 2·M on level 0
  int ef_construction = 200;   // beam width while inserting
  int ef_search = 64;          // beam width of a query (max(ef_search, k) is used); settable later
  uint64_t seed = 1;           // draws each node's level
};

// Approximate search on an HNSW graph (hnsw.cpp). Building is single-threaded; search is const
// and may run on several threads at once (each takes its own scratch from a pool), but not while
// add() runs.
class HnswIndex : public VectorIndex {
 public:
  explicit HnswIndex(int64_t dim, HnswParams params = {});
  HnswIndex(HnswIndex&&) noexcept;
  HnswIndex& operator=(HnswIndex&&) noexcept;
  ~HnswIndex() override;

  VectorIndexKind kind() const override { return VectorIndexKind::hnsw; }
  void add(const float* rows, int64_t n) override;
  std::vector<Hit> search(const float* query, int k) const override;
  std::vector<Hit> search(const float* query, int k, int ef) const;
  void save(const std::string& path) const override;
  size_t memory_bytes() const override;
  static HnswIndex load(const std::string& path, int64_t expected_dim = -1);

  const HnswParams& params() const { return params_; }
  void set_ef_search(int ef);

  // The graph, for tests and the file: −1 / −1 when empty.
  int max_level() const { return max_level_; }
  int64_t entry_point() const { return entry_point_; }
  int level(int64_t id) const { return levels_[static_cast<size_t>(id)]; }
  // Node id's neighbours on `level` (≤ its own level): at most 2·M on level 0, M above.
  std::span<const int32_t> neighbours(int64_t id, int level) const;
  int max_neighbours(int level) const { return level == 0 ? 2 * params_.M : params_.M; }

 private:
  struct Candidate {
    float dist;  // −cosine: smaller is closer (and the score is −dist, exactly)
    int32_t id;
  };
  struct Scratch;
  class ScratchPool;

  // [count, id_0, …, id_{cap−1}] of node id on `level`.
  int32_t* links(int64_t id, int level);
  const int32_t* links(int64_t id, int level) const;
  void insert(int64_t id, Scratch& s);
  int draw_level();
  Candidate greedy_closest(const float* q, Candidate from, int level, Scratch& s) const;
  void search_layer(const float* q, int ef, int level, Scratch& s) const;
  void select_neighbours(const std::vector<Candidate>& sorted, int max_keep, std::vector<Candidate>& kept,
                         Scratch& s) const;
  void connect(int64_t node, Candidate other, int level, Scratch& s);
  void check_graph(const std::string& path) const;

  HnswParams params_;
  Rng level_rng_;  // seeded by params_.seed; saved with the index, so add() after load() draws on
  int max_level_ = -1;
  int64_t entry_point_ = -1;
  std::vector<uint8_t> levels_;                                  // (n)
  std::vector<int32_t, CacheLineAllocator<int32_t>> level0_;     // (n, 1 + 2M)
  std::vector<int64_t> upper_offset_;                            // (n): start of a node's upper lists
  std::vector<int32_t> upper_;                                   // per node of level ≥ 1: (level, 1 + M)
  std::unique_ptr<ScratchPool> pool_;

  friend struct VectorIndexFile;
};

// Either kind, by the file's header.
std::unique_ptr<VectorIndex> load_vector_index(const std::string& path, int64_t expected_dim = -1);

}  // namespace sog
