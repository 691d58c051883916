// The vector store of retrieval (common/retrieval/vector_index.h): the exact index against a
// brute-force loop, the HNSW graph's recall against the exact index and its invariants, its
// determinism under a seed, and the index file: a round trip, and every bad file refused with its
// reason. Scores are compared within a tolerance: the dot products are summed in another order on
// each instruction set (SOG_CPU=generic / avx2 / avx512 / neon).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/io/atomic_file.h"
#include "common/io/binary_header.h"
#include "common/retrieval/vector_index.h"
#include "common/tensor/random.h"
#include "test_util.h"

using namespace sog;
using sog::testing::error_of;

namespace {

std::vector<float> random_rows(int64_t n, int64_t d, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n * d));
  for (float& x : v) x = rng.normal();
  return v;
}

// The k best by a float64 loop over normalised copies: (id, score), best first, ties to the lower id.
std::vector<Hit> brute_force(const std::vector<float>& rows, int64_t d, const float* query, int k) {
  const int64_t n = static_cast<int64_t>(rows.size()) / d;
  auto norm = [&](const float* x) {
    double s = 0;
    for (int64_t j = 0; j < d; j++) s += double(x[j]) * x[j];
    return std::sqrt(s);
  };
  const double qn = norm(query);
  std::vector<std::pair<double, int64_t>> scored;
  for (int64_t i = 0; i < n; i++) {
    double dot = 0;
    for (int64_t j = 0; j < d; j++) dot += double(rows[i * d + j]) * query[j];
    scored.push_back({-dot / (norm(&rows[i * d]) * qn), i});
  }
  std::sort(scored.begin(), scored.end());
  std::vector<Hit> hits;
  for (int i = 0; i < k && i < static_cast<int>(n); i++) hits.push_back({scored[i].second, float(-scored[i].first)});
  return hits;
}

// |ids of got ∩ ids of want| / |want|.
double recall(const std::vector<Hit>& got, const std::vector<Hit>& want) {
  std::set<int64_t> truth;
  for (const Hit& h : want) truth.insert(h.id);
  int found = 0;
  for (const Hit& h : got) found += static_cast<int>(truth.count(h.id));
  return double(found) / double(want.size());
}

void expect_same_hits(const std::vector<Hit>& a, const std::vector<Hit>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); i++) {
    EXPECT_EQ(a[i].id, b[i].id) << what << " rank " << i;
    EXPECT_EQ(a[i].score, b[i].score) << what << " rank " << i;
  }
}

void expect_same_graph(const HnswIndex& a, const HnswIndex& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.entry_point(), b.entry_point());
  EXPECT_EQ(a.max_level(), b.max_level());
  for (int64_t id = 0; id < a.size(); id++) {
    ASSERT_EQ(a.level(id), b.level(id)) << "node " << id;
    for (int lc = 0; lc <= a.level(id); lc++) {
      const auto na = a.neighbours(id, lc), nb = b.neighbours(id, lc);
      ASSERT_TRUE(std::equal(na.begin(), na.end(), nb.begin(), nb.end())) << "node " << id << " level " << lc;
    }
  }
}

// Rewrites a file's last 8 bytes with the FNV-1a 64 of the bytes before them, as a writer of
// another program would: the file is then consistent, so the loader's later checks must catch it.
void rewrite_checksum(const std::string& path) {
  std::string bytes = read_file(path);
  const uint64_t h = fnv1a64(bytes.data(), bytes.size() - 8);
  std::memcpy(bytes.data() + bytes.size() - 8, &h, 8);
  write_file_atomic(path, bytes);
}

void truncate_to(const std::string& path, size_t bytes) { std::filesystem::resize_file(path, bytes); }

void flip_byte(const std::string& path, size_t at) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
}

constexpr int64_t kDim = 32, kCount = 3000, kQueries = 200;

// One HNSW graph on kCount random vectors of dim kDim, shared by the tests that only read it.
class HnswShared : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rows_ = new std::vector<float>(random_rows(kCount, kDim, 11));
    queries_ = new std::vector<float>(random_rows(kQueries, kDim, 12));
    index_ = new HnswIndex(kDim, {.M = 16, .ef_construction = 200, .ef_search = 64, .seed = 5});
    index_->add(rows_->data(), kCount);
    flat_ = new FlatIndex(kDim);
    flat_->add(rows_->data(), kCount);
  }
  static void TearDownTestSuite() {
    delete rows_;
    delete queries_;
    delete index_;
    delete flat_;
  }
  static std::vector<float>* rows_;
  static std::vector<float>* queries_;
  static HnswIndex* index_;
  static FlatIndex* flat_;
};
std::vector<float>* HnswShared::rows_ = nullptr;
std::vector<float>* HnswShared::queries_ = nullptr;
HnswIndex* HnswShared::index_ = nullptr;
FlatIndex* HnswShared::flat_ = nullptr;

}  // namespace

// ---- the exact index ------------------------------------------------------------------------

TEST(FlatIndex, TopKIsTheBruteForceTopK) {
  const int64_t n = 500, d = 37;  // d ragged against every vector width
  const std::vector<float> rows = random_rows(n, d, 1), queries = random_rows(40, d, 2);
  FlatIndex index(d);
  index.add(rows.data(), 200);  // in two batches: ids continue
  index.add(rows.data() + 200 * d, n - 200);
  ASSERT_EQ(index.size(), n);
  const auto batched = index.search_batch(queries.data(), 40, 10);  // one matmul for the 40 queries
  for (int64_t qi = 0; qi < 40; qi++) {
    const float* q = queries.data() + qi * d;
    const std::vector<Hit> want = brute_force(rows, d, q, 10);
    for (const std::vector<Hit>& got : {index.search(q, 10), batched[qi]}) {
      ASSERT_EQ(got.size(), 10u);
      for (size_t r = 0; r < want.size(); r++) {
        EXPECT_EQ(got[r].id, want[r].id) << "query " << qi << " rank " << r;
        EXPECT_NEAR(got[r].score, want[r].score, 1e-5) << "query " << qi << " rank " << r;
      }
    }
  }
  EXPECT_EQ(index.search(queries.data(), 1000).size(), size_t(n));  // k beyond the count: all of them
  EXPECT_NEAR(index.search(rows.data() + 7 * d, 1)[0].score, 1.0f, 1e-6);  // a stored vector finds itself
  EXPECT_EQ(index.search(rows.data() + 7 * d, 1)[0].id, 7);
}

TEST(FlatIndex, EqualScoresGoToTheLowerId) {
  const int64_t d = 8;
  std::vector<float> rows = random_rows(10, d, 3);
  for (int64_t j = 0; j < d; j++) rows[6 * d + j] = rows[2 * d + j] = rows[8 * d + j];  // ids 2, 6, 8 alike
  FlatIndex index(d);
  index.add(rows.data(), 10);
  const std::vector<Hit> hits = index.search(rows.data() + 8 * d, 3);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, 2);
  EXPECT_EQ(hits[1].id, 6);
  EXPECT_EQ(hits[2].id, 8);
  EXPECT_EQ(hits[0].score, hits[2].score);
}

TEST(VectorIndex, RowsThatCannotBeNormalisedAreRefusedByRow) {
  const int64_t d = 4;
  FlatIndex flat(d);
  HnswIndex hnsw(d);
  std::vector<float> rows = random_rows(5, d, 4);
  flat.add(rows.data(), 5);
  hnsw.add(rows.data(), 5);
  std::fill(rows.begin() + 2 * d, rows.begin() + 3 * d, 0.0f);
  for (VectorIndex* index : std::initializer_list<VectorIndex*>{&flat, &hnsw}) {
    std::string e = error_of([&] { index->add(rows.data(), 5); });
    EXPECT_NE(e.find("row 2 of the batch (it would be id 7)"), std::string::npos) << e;
    EXPECT_NE(e.find("zero vector"), std::string::npos) << e;
    EXPECT_EQ(index->size(), 5) << "a refused batch adds nothing";
    std::vector<float> nan_row = random_rows(1, d, 5);
    nan_row[3] = std::numeric_limits<float>::quiet_NaN();
    e = error_of([&] { index->add(nan_row.data(), 1); });
    EXPECT_NE(e.find("row 0 of the batch (it would be id 5) has a NaN at column 3"), std::string::npos) << e;
    const std::vector<float> zero(d, 0.0f);
    e = error_of([&] { index->search(zero.data(), 1); });
    EXPECT_NE(e.find("the query has a zero vector"), std::string::npos) << e;
    EXPECT_NE(error_of([&] { index->search(rows.data(), 0); }).find("k must be at least 1"), std::string::npos);
  }
  EXPECT_NE(error_of([] { HnswIndex bad(4, {.M = 1}); }).find("M must be in 2"), std::string::npos);
}

// ---- HNSW -----------------------------------------------------------------------------------

TEST_F(HnswShared, RecallAtTenAgainstTheExactIndex) {
  const std::vector<std::vector<Hit>> exact = flat_->search_batch(queries_->data(), kQueries, 10);
  double total = 0;
  for (int64_t qi = 0; qi < kQueries; qi++) {
    const float* q = queries_->data() + qi * kDim;
    const std::vector<Hit> got = index_->search(q, 10);
    ASSERT_EQ(got.size(), 10u);
    for (size_t r = 1; r < got.size(); r++) EXPECT_GE(got[r - 1].score, got[r].score) << "best first";
    for (const Hit& h : got) {  // a hit's score is its cosine with the query
      const float* x = &(*rows_)[h.id * kDim];
      double dot = 0, xx = 0, qq = 0;
      for (int64_t j = 0; j < kDim; j++) dot += double(x[j]) * q[j], xx += double(x[j]) * x[j], qq += double(q[j]) * q[j];
      EXPECT_NEAR(h.score, dot / std::sqrt(xx * qq), 1e-5);
    }
    total += recall(got, exact[qi]);
  }
  const double mean = total / kQueries;
  EXPECT_GE(mean, 0.95) << "recall@10 with ef_search 64";
  // A narrower beam finds less; a wider one at least as much, here nearly all.
  double narrow = 0, wide = 0;
  for (int64_t qi = 0; qi < kQueries; qi++) {
    const float* q = queries_->data() + qi * kDim;
    narrow += recall(index_->search(q, 10, 10), exact[qi]);
    wide += recall(index_->search(q, 10, 256), exact[qi]);
  }
  EXPECT_LT(narrow / kQueries, mean);
  EXPECT_GE(wide / kQueries, 0.99);
}

TEST_F(HnswShared, GraphInvariants) {
  const HnswIndex& g = *index_;
  const int M = g.params().M;
  int64_t upper_nodes = 0, above_two = 0;
  for (int64_t id = 0; id < g.size(); id++) {
    upper_nodes += g.level(id) >= 1;
    above_two += g.level(id) >= 2;
    for (int lc = 0; lc <= g.level(id); lc++) {
      const auto nb = g.neighbours(id, lc);
      EXPECT_LE(static_cast<int>(nb.size()), lc == 0 ? 2 * M : M) << "node " << id << " level " << lc;
      if (lc == 0) EXPECT_GE(nb.size(), 1u) << "node " << id << " is isolated on level 0";
      std::set<int32_t> distinct(nb.begin(), nb.end());
      EXPECT_EQ(distinct.size(), nb.size()) << "node " << id << " level " << lc << ": a repeated neighbour";
      for (int32_t e : nb) {
        EXPECT_NE(e, id) << "self-loop at node " << id;
        ASSERT_GE(e, 0);
        ASSERT_LT(e, g.size());
        EXPECT_GE(g.level(e), lc) << "node " << id << " links to " << e << ", which is not on level " << lc;
      }
    }
  }
  EXPECT_EQ(g.level(g.entry_point()), g.max_level());
  for (int64_t id = 0; id < g.size(); id++) EXPECT_LE(g.level(id), g.max_level());
  // Levels are geometric: P(ℓ ≥ 1) = 1/M = 0.0625, P(ℓ ≥ 2) = 1/M² ≈ 0.0039 (3000 nodes: ±0.0044
  // and ±0.0011 one standard deviation; the bounds are 4.5 and 5 of them).
  EXPECT_NEAR(double(upper_nodes) / g.size(), 1.0 / M, 0.02);
  EXPECT_NEAR(double(above_two) / g.size(), 1.0 / (M * M), 0.006);
  // Every node is reachable from the entry point: down the levels, then along level 0.
  std::vector<char> seen(static_cast<size_t>(g.size()), 0);
  std::vector<int64_t> stack = {g.entry_point()};
  seen[g.entry_point()] = 1;
  while (!stack.empty()) {
    const int64_t id = stack.back();
    stack.pop_back();
    for (int32_t e : g.neighbours(id, 0))
      if (!seen[e]) seen[e] = 1, stack.push_back(e);
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), g.size());
  EXPECT_GT(g.memory_bytes(), size_t(kCount * kDim * 4 + kCount * (1 + 2 * M) * 4));
}

TEST_F(HnswShared, SameSeedSameGraphAnotherSeedAnotherGraph) {
  HnswIndex again(kDim, index_->params());
  again.add(rows_->data(), 1000);  // in two batches: the same levels and links as one batch
  again.add(rows_->data() + 1000 * kDim, kCount - 1000);
  expect_same_graph(*index_, again);
  for (int64_t qi = 0; qi < 20; qi++) {
    const float* q = queries_->data() + qi * kDim;
    expect_same_hits(index_->search(q, 10), again.search(q, 10), "query " + std::to_string(qi));
  }
  HnswParams other = index_->params();
  other.seed = 6;
  HnswIndex reseeded(kDim, other);
  reseeded.add(rows_->data(), kCount);
  int64_t level_differences = 0;
  for (int64_t id = 0; id < kCount; id++) level_differences += reseeded.level(id) != index_->level(id);
  EXPECT_GT(level_differences, 100);
}

TEST_F(HnswShared, EfSearchIsSettableAndChecked) {
  const std::filesystem::path dir = sog::testing::fresh_temp_dir("hnsw_ef");
  index_->save((dir / "g.vidx").string());
  HnswIndex copy = HnswIndex::load((dir / "g.vidx").string(), kDim);
  std::filesystem::remove_all(dir);
  copy.set_ef_search(10);
  const float* q = queries_->data();
  expect_same_hits(copy.search(q, 10), index_->search(q, 10, 10), "ef_search 10");
  EXPECT_NE(error_of([&] { copy.set_ef_search(0); }).find("ef_search must be at least 1"), std::string::npos);
  EXPECT_EQ(copy.params().ef_search, 10);
}

// ---- the index file -------------------------------------------------------------------------

class VectorIndexFileTest : public sog::testing::ScratchFolderTest {};

TEST_F(VectorIndexFileTest, RoundTripGivesTheSameIndex) {
  const int64_t d = 24, n = 800;
  const std::vector<float> rows = random_rows(n, d, 21), queries = random_rows(10, d, 22), more = random_rows(50, d, 23);
  FlatIndex flat(d);
  flat.add(rows.data(), n);
  flat.save(p("flat.vidx"));
  HnswIndex hnsw(d, {.M = 6, .ef_construction = 40, .ef_search = 20, .seed = 3});
  hnsw.add(rows.data(), n);
  hnsw.save(p("hnsw.vidx"));

  const FlatIndex flat2 = FlatIndex::load(p("flat.vidx"), d);
  HnswIndex hnsw2 = HnswIndex::load(p("hnsw.vidx"));
  expect_same_graph(hnsw, hnsw2);
  EXPECT_EQ(hnsw2.params().M, 6);
  EXPECT_EQ(hnsw2.params().ef_construction, 40);
  EXPECT_EQ(hnsw2.params().ef_search, 20);
  EXPECT_EQ(hnsw2.params().seed, 3u);
  const std::unique_ptr<VectorIndex> any_flat = load_vector_index(p("flat.vidx")),
                                     any_hnsw = load_vector_index(p("hnsw.vidx"), d);
  EXPECT_EQ(any_flat->kind(), VectorIndexKind::flat);
  EXPECT_EQ(any_hnsw->kind(), VectorIndexKind::hnsw);
  for (int64_t qi = 0; qi < 10; qi++) {
    const float* q = queries.data() + qi * d;
    expect_same_hits(flat.search(q, 5), flat2.search(q, 5), "flat");
    expect_same_hits(flat.search(q, 5), any_flat->search(q, 5), "flat, either kind");
    expect_same_hits(hnsw.search(q, 5), hnsw2.search(q, 5), "hnsw");
    expect_same_hits(hnsw.search(q, 5), any_hnsw->search(q, 5), "hnsw, either kind");
  }
  // Adding after the round trip draws the levels it would have drawn without it.
  hnsw.add(more.data(), 50);
  hnsw2.add(more.data(), 50);
  expect_same_graph(hnsw, hnsw2);
  // An empty index saves and loads too.
  HnswIndex(d).save(p("empty.vidx"));
  EXPECT_EQ(HnswIndex::load(p("empty.vidx")).size(), 0);
  EXPECT_TRUE(HnswIndex::load(p("empty.vidx")).search(queries.data(), 3).empty());
}

TEST_F(VectorIndexFileTest, BadFilesAreRefusedWithTheirReason) {
  const int64_t d = 16, n = 300;
  const std::vector<float> rows = random_rows(n, d, 31);
  HnswIndex hnsw(d, {.M = 4, .ef_construction = 20, .seed = 1});
  hnsw.add(rows.data(), n);
  FlatIndex flat(d);
  flat.add(rows.data(), n);
  const std::string good = p("good.vidx"), good_flat = p("good_flat.vidx"), bad = p("bad.vidx");
  hnsw.save(good);
  flat.save(good_flat);
  const size_t size = std::filesystem::file_size(good);
  auto refusal = [&](const std::function<void()>& damage) {
    std::filesystem::copy_file(good, bad, std::filesystem::copy_options::overwrite_existing);
    damage();
    const std::string e = error_of([&] { HnswIndex::load(bad, d); });
    EXPECT_EQ(e.rfind(bad + ": ", 0), 0u) << "the error names the file: " << e;
    return e;
  };
  auto expect_has = [](const std::string& e, const std::string& part) {
    EXPECT_NE(e.find(part), std::string::npos) << "expected \"" << part << "\" in: " << e;
  };
  expect_has(refusal([&] { truncate_to(bad, 100); }), "truncated vector index header");
  expect_has(refusal([&] { truncate_to(bad, 128 + 40); }), "wrong size: expected at least");
  expect_has(refusal([&] { truncate_to(bad, size - 3); }), "(truncated?)");
  expect_has(refusal([&] { truncate_to(bad, size - 8); }), "(truncated?)");
  expect_has(refusal([&] { flip_byte(bad, 128 + 5 * d * 4 + 2); }), "checksum mismatch");  // a vector
  expect_has(refusal([&] { flip_byte(bad, size - 20); }), "checksum mismatch");            // a link
  expect_has(refusal([&] { sog::testing::patch_int32(bad, 1, 2); }),
             "unsupported vector index version: expected 1, found 2");
  expect_has(refusal([&] { sog::testing::patch_int32(bad, 0, file_magic::token_shard); }),
             "this is an llm.c token shard, not a vector index");
  expect_has(refusal([&] { sog::testing::patch_int32(bad, 2, 7); }),
             "unknown index kind: expected 1 (flat) or 2 (hnsw), found 7");
  expect_has(refusal([&] { sog::testing::patch_int32(bad, 4, -5); }), "vector count out of range");
  // A neighbour id out of range, in a file whose checksum was made to match.
  expect_has(refusal([&] {
               const int64_t level0 = 128 + n * d * 4 + n;  // node 0's level-0 record: [count, ids…]
               std::fstream f(bad, std::ios::binary | std::ios::in | std::ios::out);
               const int32_t id = int32_t(n) + 9;
               f.seekp(level0 + 4);
               f.write(reinterpret_cast<const char*>(&id), 4);
               f.close();
               rewrite_checksum(bad);
             }),
             "node 0 level 0: neighbour id 309 out of range 0…299");
  expect_has(refusal([&] {
               sog::testing::patch_int32(bad, 6, 5);  // M = 5: the lists no longer fit the size
               rewrite_checksum(bad);
             }),
             "wrong size");
  // The caller's dimension, and the kind asked for.
  std::string e = error_of([&] { HnswIndex::load(good, 64); });
  expect_has(e, "index has dim 16, the model gives 64");
  e = error_of([&] { FlatIndex::load(good); });
  expect_has(e, "index kind: expected flat, found hnsw");
  e = error_of([&] { load_vector_index(good_flat, 17); });
  expect_has(e, "index has dim 16, the model gives 17");
  e = error_of([&] { FlatIndex::load(p("missing.vidx")); });
  expect_has(e, "cannot open vector index");
  // The good files still load.
  EXPECT_EQ(HnswIndex::load(good, d).size(), n);
  EXPECT_EQ(FlatIndex::load(good_flat, d).size(), n);
}
