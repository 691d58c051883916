// HNSW: Hierarchical Navigable Small World graphs (Malkov & Yashunin 2016), written from the paper.
//
// The graph. Every stored vector is a node with a level ℓ drawn at insertion,
//   ℓ = ⌊−ln(U) · mL⌋,  U uniform in (0, 1],  mL = 1 / ln(M),
// so P(ℓ ≥ 1) = 1/M, P(ℓ ≥ 2) = 1/M², … (a geometric ladder, the skip list's idea). A node lives
// on levels 0 … ℓ and has a list of neighbours on each: at most 2·M on level 0 (every node is
// there; the paper's Mmax0), at most M above (Mmax). The entry point is a node of the top level.
//
// A query q (Algorithm 5, K-NN-SEARCH). From the entry point, greedy descent through the upper
// levels: move to whichever neighbour is closer to q until none is, then go down a level from the
// node reached (the upper levels are sparse, long-range links: a few hops cross the whole set).
// On level 0, a beam search of width ef (Algorithm 2, SEARCH-LAYER): a queue of candidates to
// expand, nearest first, and the set W of the ef nearest nodes seen; expanding a candidate scores
// its neighbours not yet visited and admits each closer than W's furthest; the search stops when
// the nearest candidate left is further than W's furthest. The k best of W are the answer. ef
// trades speed for recall: about ef · 2M dot products per query, instead of n.
//
// An insertion (Algorithm 1, INSERT) is a search for the new node: greedy descent down to its own
// level ℓ, then on each level ℓ … 0 a beam search of width ef_construction whose W picks the
// node's neighbours and seeds the level below. The neighbours are chosen by the paper's heuristic
// (Algorithm 4, SELECT-NEIGHBORS-HEURISTIC): go through W nearest first and keep a candidate only
// if it is closer to the new node than to every neighbour kept so far, up to M. A candidate close
// to a kept one is reached through it anyway; skipping it leaves room for links in other
// directions, which keeps clustered data connected. Links are made both ways; a neighbour whose
// list overflows (more than 2·M on level 0, M above) is shrunk with the same heuristic over its
// old neighbours and the new node.
//
// Distances. Vectors are unit length (vector_index.h), so nearest is the largest dot product; the
// search works with dist = −x̂·q̂ (smaller is closer) and a hit's score is −dist, exactly.
//
// Speed of a query: the vectors are one contiguous (n,d) array; each node's level-0 list is a
// fixed-size record [count, ids…] in one contiguous array; "visited" is a per-search epoch number
// in an array of n tags that is reused from query to query (a fresh search bumps the epoch instead
// of clearing the array), taken with the heaps from a pool of scratch spaces (no allocation per
// query once the pool is warm); a node's unvisited neighbours are scored in one call of
// matmul_dot_rows_gather (ops/matmul_kernels.h), the dot-product kernel of the active instruction
// set (AVX-512, AVX2, NEON or plain C++), which prefetches the rows ahead.
//
// Departures from the paper: a new node's neighbours on a level are chosen from the ef_construction
// nearest found there (W), as the paper does; neither of Algorithm 4's options (extendCandidates,
// keepPrunedConnections) is taken, as the paper recommends for most data and as hnswlib does.
// The greedy descent on the upper levels is the paper's SEARCH-LAYER with ef = 1 written as a
// plain loop (move while a neighbour is closer).
#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>

#include "common/ops/matmul_kernels.h"
#include "common/retrieval/vector_index.h"

namespace sog {

namespace {
constexpr int kMaxLevel = 64;  // with U ≥ 2⁻²⁴ and M ≥ 2, ℓ ≤ 16.7 / ln 2 < 25 anyway
}  // namespace

// The working memory of one search (or of the insertions), kept between calls.
struct HnswIndex::Scratch {
  std::vector<uint16_t> visited;  // (n): visited[id] == epoch ⇔ seen by this search
  uint16_t epoch = 0;
  std::vector<Candidate> candidates;  // a heap, the nearest on top: nodes to expand
  std::vector<Candidate> results;     // a heap, the furthest on top: W, the ef nearest seen
  std::vector<int32_t> ids;           // a node's neighbours to score
  std::vector<float> scores;          // their dot products with the query
  std::vector<float> query;           // (d) q̂
  std::vector<Candidate> found, kept, pool, pool_kept;  // insertion: W sorted, its selection; a shrink's

  // A new search over n nodes: every tag ≠ the new epoch. The array is cleared only when the
  // 16-bit epoch wraps (once per 65535 searches).
  void new_search(int64_t n) {
    if (static_cast<int64_t>(visited.size()) < n) visited.resize(static_cast<size_t>(n), 0);
    if (++epoch == 0) {
      std::fill(visited.begin(), visited.end(), uint16_t(0));
      epoch = 1;
    }
  }
};

// Scratch spaces for searches on several threads at once; one is created the first time more
// searches run together than there are spaces.
class HnswIndex::ScratchPool {
 public:
  std::unique_ptr<Scratch> acquire() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty()) return std::make_unique<Scratch>();
    std::unique_ptr<Scratch> s = std::move(free_.back());
    free_.pop_back();
    return s;
  }
  void release(std::unique_ptr<Scratch> s) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(s));
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Scratch>> free_;
};

namespace {

// Heap orders (function objects, so the heap operations inline them): the candidates' heap keeps
// the nearest on top, W's the furthest.
struct NearestOnTop {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    return a.dist > b.dist;
  }
};
struct FurthestOnTop {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    return a.dist < b.dist;
  }
};
// Nearest first, ties to the lower id: one order on every platform, so the graph is deterministic.
struct Nearer {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
  }
};

void check_params(const HnswParams& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("HNSW parameters: " + what); };
  if (p.M < 2 || p.M > 4096) fail("M must be in 2…4096 (mL = 1/ln M), found " + std::to_string(p.M));
  if (p.ef_construction < 1) fail("ef_construction must be at least 1, found " + std::to_string(p.ef_construction));
  if (p.ef_search < 1) fail("ef_search must be at least 1, found " + std::to_string(p.ef_search));
}

}  // namespace

HnswIndex::HnswIndex(int64_t dim, HnswParams params)
    : VectorIndex(dim), params_(params), level_rng_(params.seed), pool_(std::make_unique<ScratchPool>()) {
  check_params(params_);
}
HnswIndex::HnswIndex(HnswIndex&&) noexcept = default;
HnswIndex& HnswIndex::operator=(HnswIndex&&) noexcept = default;
HnswIndex::~HnswIndex() = default;

void HnswIndex::set_ef_search(int ef) {
  HnswParams p = params_;
  p.ef_search = ef;
  check_params(p);
  params_ = p;
}

int32_t* HnswIndex::links(int64_t id, int level) {
  return level == 0 ? level0_.data() + id * (1 + 2 * params_.M)
                    : upper_.data() + upper_offset_[id] + int64_t(level - 1) * (1 + params_.M);
}
const int32_t* HnswIndex::links(int64_t id, int level) const { return const_cast<HnswIndex*>(this)->links(id, level); }

std::span<const int32_t> HnswIndex::neighbours(int64_t id, int level) const {
  if (id < 0 || id >= count_ || level < 0 || level > levels_[id]) {
    throw std::out_of_range("HNSW neighbours: node " + std::to_string(id) + " has no level " + std::to_string(level) +
                            " (nodes 0…" + std::to_string(count_ - 1) + ")");
  }
  const int32_t* l = links(id, level);
  return {l + 1, static_cast<size_t>(l[0])};
}

size_t HnswIndex::memory_bytes() const {
  return sizeof(*this) + vectors_.capacity() * sizeof(float) + levels_.capacity() +
         level0_.capacity() * sizeof(int32_t) + upper_offset_.capacity() * sizeof(int64_t) +
         upper_.capacity() * sizeof(int32_t);
}

int HnswIndex::draw_level() {
  const double u = 1.0 - double(level_rng_.uniform());  // (0, 1]
  const double level = std::floor(-std::log(u) / std::log(double(params_.M)));
  return static_cast<int>(std::min<double>(level, kMaxLevel));
}

// ---- search ---------------------------------------------------------------------------------

// Greedy descent on one level: from `from`, move to the closest neighbour while it is closer.
HnswIndex::Candidate HnswIndex::greedy_closest(const float* q, Candidate from, int level, Scratch& s) const {
  Candidate best = from;
  for (bool moved = true; moved;) {
    moved = false;
    const int32_t* l = links(best.id, level);
    const int32_t count = l[0];
    s.scores.resize(static_cast<size_t>(count));
    matmul_dot_rows_gather(s.scores.data(), q, vectors_.data(), l + 1, count, dim_);
    for (int32_t j = 0; j < count; j++) {
      if (-s.scores[j] < best.dist) {
        best = {-s.scores[j], l[1 + j]};
        moved = true;
      }
    }
  }
  return best;
}

// Algorithm 2 on one level. In: s.results holds the entry points (any order, already scored).
// Out: s.results is W, the ef nearest nodes found, as a heap with the furthest on top.
void HnswIndex::search_layer(const float* q, int ef, int level, Scratch& s) const {
  s.new_search(count_);
  for (const Candidate& c : s.results) s.visited[c.id] = s.epoch;
  s.candidates.assign(s.results.begin(), s.results.end());
  std::make_heap(s.candidates.begin(), s.candidates.end(), NearestOnTop());
  std::make_heap(s.results.begin(), s.results.end(), FurthestOnTop());
  while (static_cast<int>(s.results.size()) > ef) {
    std::pop_heap(s.results.begin(), s.results.end(), FurthestOnTop());
    s.results.pop_back();
  }
  const uint16_t epoch = s.epoch;
  uint16_t* visited = s.visited.data();
  while (!s.candidates.empty()) {
    const Candidate c = s.candidates.front();
    if (c.dist > s.results.front().dist) break;  // the nearest left is further than all of W
    std::pop_heap(s.candidates.begin(), s.candidates.end(), NearestOnTop());
    s.candidates.pop_back();

    const int32_t* l = links(c.id, level);
    const int32_t count = l[0];
    s.ids.clear();
    for (int32_t j = 0; j < count; j++) {
      const int32_t e = l[1 + j];
      if (visited[e] != epoch) {
        visited[e] = epoch;
        s.ids.push_back(e);
      }
    }
    if (s.ids.empty()) continue;
    s.scores.resize(s.ids.size());
    matmul_dot_rows_gather(s.scores.data(), q, vectors_.data(), s.ids.data(), static_cast<int64_t>(s.ids.size()),
                           dim_);
    for (size_t j = 0; j < s.ids.size(); j++) {
      const float dist = -s.scores[j];
      if (static_cast<int>(s.results.size()) < ef || dist < s.results.front().dist) {
        s.candidates.push_back({dist, s.ids[j]});
        std::push_heap(s.candidates.begin(), s.candidates.end(), NearestOnTop());
        s.results.push_back({dist, s.ids[j]});
        std::push_heap(s.results.begin(), s.results.end(), FurthestOnTop());
        if (static_cast<int>(s.results.size()) > ef) {
          std::pop_heap(s.results.begin(), s.results.end(), FurthestOnTop());
          s.results.pop_back();
        }
      }
    }
  }
}

std::vector<Hit> HnswIndex::search(const float* query, int k) const { return search(query, k, params_.ef_search); }

std::vector<Hit> HnswIndex::search(const float* query, int k, int ef) const {
  if (k < 1) throw std::invalid_argument("vector index search: k must be at least 1, found " + std::to_string(k));
  if (ef < 1) throw std::invalid_argument("HNSW search: ef must be at least 1, found " + std::to_string(ef));
  if (count_ == 0) return {};
  std::unique_ptr<Scratch> lease = pool_->acquire();
  Scratch& s = *lease;
  s.query.resize(static_cast<size_t>(dim_));
  normalise_query(query, s.query.data());
  const float* q = s.query.data();

  const int32_t entry = static_cast<int32_t>(entry_point_);
  float score = 0.0f;
  matmul_dot_rows_gather(&score, q, vectors_.data(), &entry, 1, dim_);
  Candidate ep{-score, entry};
  for (int level = max_level_; level >= 1; level--) ep = greedy_closest(q, ep, level, s);
  s.results.assign(1, ep);
  search_layer(q, std::max(ef, k), 0, s);

  std::sort(s.results.begin(), s.results.end(), Nearer());
  std::vector<Hit> hits;
  hits.reserve(std::min<size_t>(s.results.size(), static_cast<size_t>(k)));
  for (size_t i = 0; i < s.results.size() && i < static_cast<size_t>(k); i++)
    hits.push_back({s.results[i].id, -s.results[i].dist});
  pool_->release(std::move(lease));
  return hits;
}

// ---- construction ---------------------------------------------------------------------------

// Algorithm 4 without its options: `sorted` nearest first (by dist to the base node); `kept` gets
// each candidate that is closer to the base than to every one kept before it, up to max_keep.
void HnswIndex::select_neighbours(const std::vector<Candidate>& sorted, int max_keep, std::vector<Candidate>& kept,
                                  Scratch& s) const {
  kept.clear();
  for (const Candidate& c : sorted) {
    if (static_cast<int>(kept.size()) >= max_keep) break;
    s.ids.clear();
    for (const Candidate& r : kept) s.ids.push_back(r.id);
    s.scores.resize(s.ids.size());
    matmul_dot_rows_gather(s.scores.data(), vector(c.id), vectors_.data(), s.ids.data(),
                           static_cast<int64_t>(s.ids.size()), dim_);
    bool keep = true;
    for (float score_to_kept : s.scores) keep = keep && c.dist < -score_to_kept;
    if (keep) kept.push_back(c);
  }
}

// A link node → other.id on `level` (other.dist is their distance); an overflowing list is shrunk
// with the heuristic over its old neighbours and the new one.
void HnswIndex::connect(int64_t node, Candidate other, int level, Scratch& s) {
  int32_t* l = links(node, level);
  const int cap = max_neighbours(level);
  if (l[0] < cap) {
    l[1 + l[0]] = other.id;
    l[0]++;
    return;
  }
  s.scores.resize(static_cast<size_t>(cap));
  matmul_dot_rows_gather(s.scores.data(), vector(node), vectors_.data(), l + 1, cap, dim_);
  s.pool.clear();
  for (int j = 0; j < cap; j++) s.pool.push_back({-s.scores[j], l[1 + j]});
  s.pool.push_back(other);
  std::sort(s.pool.begin(), s.pool.end(), Nearer());
  select_neighbours(s.pool, cap, s.pool_kept, s);
  l[0] = static_cast<int32_t>(s.pool_kept.size());
  for (int j = 0; j < cap; j++) l[1 + j] = j < l[0] ? s.pool_kept[j].id : -1;
}

// Algorithm 1 for node id, whose level is drawn and whose lists exist (empty).
void HnswIndex::insert(int64_t id, Scratch& s) {
  const int level = levels_[id];
  if (entry_point_ < 0) {
    entry_point_ = id;
    max_level_ = level;
    return;
  }
  const float* q = vector(id);
  const int32_t entry = static_cast<int32_t>(entry_point_);
  float score = 0.0f;
  matmul_dot_rows_gather(&score, q, vectors_.data(), &entry, 1, dim_);
  Candidate ep{-score, entry};
  for (int lc = max_level_; lc > level; lc--) ep = greedy_closest(q, ep, lc, s);

  s.results.assign(1, ep);
  for (int lc = std::min(level, max_level_); lc >= 0; lc--) {
    search_layer(q, params_.ef_construction, lc, s);
    s.found.assign(s.results.begin(), s.results.end());
    std::sort(s.found.begin(), s.found.end(), Nearer());
    select_neighbours(s.found, params_.M, s.kept, s);
    int32_t* l = links(id, lc);
    l[0] = static_cast<int32_t>(s.kept.size());
    for (size_t j = 0; j < s.kept.size(); j++) l[1 + j] = s.kept[j].id;
    for (const Candidate& c : s.kept) connect(c.id, {c.dist, static_cast<int32_t>(id)}, lc, s);
    s.results.assign(s.found.begin(), s.found.end());  // W seeds the level below
  }
  if (level > max_level_) {
    max_level_ = level;
    entry_point_ = id;
  }
}

void HnswIndex::add(const float* rows, int64_t n) {
  const int64_t first = count_;
  append_normalised(rows, n);
  const int64_t stride0 = 1 + 2 * params_.M;
  levels_.resize(static_cast<size_t>(count_));
  upper_offset_.resize(static_cast<size_t>(count_));
  level0_.resize(static_cast<size_t>(count_ * stride0), -1);
  for (int64_t id = first; id < count_; id++) {
    levels_[id] = static_cast<uint8_t>(draw_level());
    level0_[id * stride0] = 0;
    upper_offset_[id] = static_cast<int64_t>(upper_.size());
    for (int lc = 1; lc <= levels_[id]; lc++) {
      upper_.push_back(0);
      upper_.insert(upper_.end(), static_cast<size_t>(params_.M), -1);
    }
  }
  std::unique_ptr<Scratch> s = pool_->acquire();
  for (int64_t id = first; id < count_; id++) insert(id, *s);
  pool_->release(std::move(s));
}

// The graph's invariants, for a loaded file (whose checksum matched but which may have been
// written by another program): lists within their caps, ids of nodes present on that level, no
// self-loops or repeats, the entry point on the top level.
void HnswIndex::check_graph(const std::string& path) const {
  auto fail = [&](const std::string& what) { throw std::runtime_error(path + ": bad HNSW graph: " + what); };
  int top = -1;
  for (int64_t id = 0; id < count_; id++) {
    if (levels_[id] > kMaxLevel) {
      fail("node " + std::to_string(id) + " has level " + std::to_string(levels_[id]) + ", at most " +
           std::to_string(kMaxLevel) + " expected");
    }
    top = std::max<int>(top, levels_[id]);
  }
  if (top != max_level_) {
    fail("max level: expected " + std::to_string(top) + " (the highest node level), found " + std::to_string(max_level_));
  }
  if (count_ > 0 && (entry_point_ < 0 || entry_point_ >= count_ || levels_[entry_point_] != max_level_)) {
    fail("entry point " + std::to_string(entry_point_) + " is not a node of the top level " + std::to_string(max_level_));
  }
  if (count_ == 0 && entry_point_ != -1) fail("entry point of an empty graph: expected -1, found " + std::to_string(entry_point_));
  std::vector<int64_t> seen(static_cast<size_t>(count_), -1);  // seen[e] == the list that last named e
  int64_t list = 0;
  for (int64_t id = 0; id < count_; id++) {
    for (int lc = 0; lc <= levels_[id]; lc++, list++) {
      const int32_t* l = links(id, lc);
      const std::string where = "node " + std::to_string(id) + " level " + std::to_string(lc);
      if (l[0] < 0 || l[0] > max_neighbours(lc)) {
        fail(where + ": " + std::to_string(l[0]) + " neighbours, expected 0…" + std::to_string(max_neighbours(lc)));
      }
      for (int32_t j = 0; j < l[0]; j++) {
        const int32_t e = l[1 + j];
        if (e < 0 || e >= count_) {
          fail(where + ": neighbour id " + std::to_string(e) + " out of range 0…" + std::to_string(count_ - 1));
        }
        if (levels_[e] < lc) fail(where + ": neighbour " + std::to_string(e) + " has only level " + std::to_string(levels_[e]));
        if (e == id) fail(where + ": a link to itself");
        if (seen[e] == list) fail(where + ": neighbour " + std::to_string(e) + " listed twice");
        seen[e] = list;
      }
    }
  }
}

}  // namespace sog
