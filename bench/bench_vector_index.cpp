// The vector store of retrieval (common/retrieval/vector_index.h) against the libraries a
// practitioner would use instead: hnswlib's HNSW, FAISS's IndexHNSWFlat and IndexFlatIP (benchmark
// peers only, bench/vector_index_peers.h; a peer CMake did not find is reported as missing).
// Everyone gets the same random vectors (Gaussian, normalised: cosine = inner product) and the same
// queries; recall@k is against the exact top-k of our flat index. Prints a markdown table:
//
//   index | build s | memory MB | ef | recall@10 | queries/s on 1 thread | … on 2 threads | ratios
//
//   bench/bench_vector_index                   100k Gaussian vectors of dim 128, 1000 queries, 1 thread
//   bench/bench_vector_index --intrinsic-dim 16 --threads 1,2 --faiss-hnsw
//   bench/bench_vector_index --dim 192 --ef 512,1024 --no-peers
//
// queries/s: the best of --repeats passes over the queries. Ours and hnswlib answer one query per
// call (threads split the queries); FAISS answers the whole batch in one call with its OpenMP
// threads; our flat index both ways (one query per call: one matmul row against all vectors;
// batched: one matmul for a block of queries). Build: ours and hnswlib on one thread, FAISS's add
// on --faiss-build-threads.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/vector_index_peers.h"
#include "common/cpu/isa.h"
#include "common/retrieval/vector_index.h"
#include "common/tensor/random.h"

using namespace sog;
using namespace sog::bench;

namespace {

struct Options {
  int64_t n = 100000, dim = 128, queries = 1000, intrinsic_dim = 0;
  int k = 10, M = 16, ef_construction = 200, repeats = 3, faiss_build_threads = 2;
  std::vector<int> ef = {16, 32, 64, 128, 256};
  std::vector<int> threads = {1};
  bool peers = true, faiss_hnsw = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// n unit vectors of dimension d. intrinsic_dim 0: Gaussian in all d dimensions, the hardest case
// for a graph index (every vector nearly as far from a query as its nearest neighbours). m > 0:
// x = A·z + noise with z Gaussian in m dimensions, A (d,m) fixed by basis_seed, and noise of 1/10 of
// the signal's norm: data on a thin slab around an m-dimensional subspace, as text embeddings are
// (their intrinsic dimension is far below d).
std::vector<float> random_unit_rows(int64_t n, int64_t d, int64_t intrinsic_dim, uint64_t seed) {
  Rng rng(seed), basis_rng(7);
  std::vector<float> basis(static_cast<size_t>(d * intrinsic_dim));
  for (float& a : basis) a = basis_rng.normal();
  const double noise = intrinsic_dim > 0 ? 0.1 * std::sqrt(double(intrinsic_dim)) : 1.0;
  std::vector<float> v(static_cast<size_t>(n * d));
  std::vector<double> z(static_cast<size_t>(intrinsic_dim));
  for (int64_t i = 0; i < n; i++) {
    for (double& zi : z) zi = rng.normal();
    double norm = 0;
    for (int64_t j = 0; j < d; j++) {
      double x = noise * rng.normal();
      for (int64_t c = 0; c < intrinsic_dim; c++) x += basis[j * intrinsic_dim + c] * z[c];
      v[i * d + j] = static_cast<float>(x);
      norm += x * x;
    }
    for (int64_t j = 0; j < d; j++) v[i * d + j] = static_cast<float>(v[i * d + j] / std::sqrt(norm));
  }
  return v;
}

// One row of the table.
struct Row {
  std::string index;
  std::optional<double> build_s;
  size_t memory_bytes = 0;
  std::string ef = "—";
  double recall = 0;
  std::vector<double> qps;  // per entry of Options::threads
};

// The mean over queries of |found ∩ exact| / k; ids (nq,k).
double recall_at_k(const std::vector<int64_t>& ids, const std::vector<std::vector<Hit>>& exact, int k) {
  int64_t found = 0;
  for (size_t q = 0; q < exact.size(); q++) {
    std::set<int64_t> truth;
    for (const Hit& h : exact[q]) truth.insert(h.id);
    for (int r = 0; r < k; r++) found += static_cast<int64_t>(truth.count(ids[q * k + r]));
  }
  return double(found) / double(exact.size() * k);
}

// Times search(threads, ids) for each thread count (best of `repeats`) and scores its recall.
template <typename Search>
void measure(Row& row, const Options& o, const std::vector<std::vector<Hit>>& exact, int repeats, Search search) {
  std::vector<int64_t> ids(static_cast<size_t>(o.queries * o.k), -1);
  for (int threads : o.threads) {
    double best = 1e300;
    for (int r = 0; r < repeats; r++) {
      const auto t0 = std::chrono::steady_clock::now();
      search(threads, ids.data());
      best = std::min(best, seconds_since(t0));
    }
    row.qps.push_back(double(o.queries) / best);
  }
  row.recall = recall_at_k(ids, exact, o.k);
}

// Our index, one query per call, the queries split over std::threads.
template <typename Index>
void search_ours(const Index& index, const float* queries, const Options& o, int threads, int ef, int64_t* ids) {
  auto range = [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; q++) {
      std::vector<Hit> hits;
      if constexpr (std::is_same_v<Index, HnswIndex>) {
        hits = index.search(queries + q * o.dim, o.k, ef);
      } else {
        hits = index.search(queries + q * o.dim, o.k);
      }
      for (int r = 0; r < o.k; r++) ids[q * o.k + r] = r < static_cast<int>(hits.size()) ? hits[r].id : -1;
    }
  };
  if (threads <= 1) return range(0, o.queries);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) pool.emplace_back(range, o.queries * t / threads, o.queries * (t + 1) / threads);
  for (std::thread& th : pool) th.join();
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string ef_list = "16,32,64,128,256", thread_list = "1";
  CLI::App app{"vector index: ours (flat, HNSW) against hnswlib and FAISS on random vectors (a markdown table)"};
  app.add_option("--n", o.n, "stored vectors")->check(CLI::PositiveNumber);
  app.add_option("--dim", o.dim, "dimension")->check(CLI::PositiveNumber);
  app.add_option("--queries", o.queries, "queries")->check(CLI::PositiveNumber);
  app.add_option("--intrinsic-dim", o.intrinsic_dim,
                 "0: Gaussian vectors (full rank); m > 0: near an m-dimensional subspace, as embeddings are")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-k", o.k, "hits per query (recall@k)")->check(CLI::PositiveNumber);
  app.add_option("--M", o.M, "HNSW M (2·M on level 0)")->check(CLI::Range(2, 4096));
  app.add_option("--ef-construction", o.ef_construction, "HNSW ef_construction")->check(CLI::PositiveNumber);
  app.add_option("--ef", ef_list, "ef_search values to sweep, comma-separated");
  app.add_option("--threads", thread_list, "query thread counts, comma-separated");
  app.add_option("--repeats", o.repeats, "passes over the queries per figure; the best counts")->check(CLI::PositiveNumber);
  app.add_option("--faiss-build-threads", o.faiss_build_threads, "OpenMP threads for FAISS's add");
  app.add_flag("!--no-peers", o.peers, "skip hnswlib and FAISS");
  app.add_flag("--faiss-hnsw", o.faiss_hnsw,
               "also FAISS's IndexHNSWFlat (Debian's build takes minutes to build 100k vectors: not by default)");
  CLI11_PARSE(app, argc, argv);
  o.ef = parse_list(ef_list);
  o.threads = parse_list(thread_list);

  std::printf("vector index benchmark: n %lld, dim %lld, %lld queries, k %d, M %d, ef_construction %d\n",
              static_cast<long long>(o.n), static_cast<long long>(o.dim), static_cast<long long>(o.queries), o.k, o.M,
              o.ef_construction);
  std::printf("cpu: %s, %u hardware threads\n", cpu_description().c_str(), std::thread::hardware_concurrency());
  std::printf("data: %s\n", o.intrinsic_dim == 0 ? "Gaussian, normalised"
                                                 : ("near a " + std::to_string(o.intrinsic_dim) +
                                                    "-dimensional subspace (noise 1/10), normalised").c_str());
  const std::vector<float> rows = random_unit_rows(o.n, o.dim, o.intrinsic_dim, 1),
                           queries = random_unit_rows(o.queries, o.dim, o.intrinsic_dim, 2);
  std::vector<Row> table;

  // ---- ours, exact: also the ground truth ----
  FlatIndex flat(o.dim);
  auto t0 = std::chrono::steady_clock::now();
  flat.add(rows.data(), o.n);
  const double flat_build = seconds_since(t0);
  omp_set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  const std::vector<std::vector<Hit>> exact = flat.search_batch(queries.data(), o.queries, o.k);
  {
    Row row{.index = "ours flat, one query per call", .build_s = flat_build, .memory_bytes = flat.memory_bytes()};
    measure(row, o, exact, 1, [&](int threads, int64_t* ids) {
      omp_set_num_threads(threads);  // the matmul's threads (one query's scores)
      search_ours(flat, queries.data(), o, 1, 0, ids);
    });
    table.push_back(row);
    Row batched{.index = "ours flat, batched", .build_s = flat_build, .memory_bytes = flat.memory_bytes()};
    measure(batched, o, exact, o.repeats, [&](int threads, int64_t* ids) {
      omp_set_num_threads(threads);
      const auto hits = flat.search_batch(queries.data(), o.queries, o.k);
      for (int64_t q = 0; q < o.queries; q++)
        for (int r = 0; r < o.k; r++) ids[q * o.k + r] = hits[q][r].id;
    });
    table.push_back(batched);
  }

  // ---- ours, HNSW ----
  HnswIndex hnsw(o.dim, {.M = o.M, .ef_construction = o.ef_construction});
  t0 = std::chrono::steady_clock::now();
  hnsw.add(rows.data(), o.n);
  const double hnsw_build = seconds_since(t0);
  std::fprintf(stderr, "ours HNSW built in %.1f s\n", hnsw_build);
  for (int ef : o.ef) {
    Row row{.index = "ours HNSW", .build_s = hnsw_build, .memory_bytes = hnsw.memory_bytes(), .ef = std::to_string(ef)};
    measure(row, o, exact, o.repeats,
            [&](int threads, int64_t* ids) { search_ours(hnsw, queries.data(), o, threads, ef, ids); });
    table.push_back(row);
  }

  // ---- the peers ----
  std::vector<std::string> missing;
  auto run_peer = [&](const std::string& name, PeerBuild build, const std::vector<int>& efs) {
    if (!build.index) {
      missing.push_back(build.missing);
      return;
    }
    std::fprintf(stderr, "%s built in %.1f s\n", name.c_str(), build.build_seconds);
    for (int ef : efs) {
      Row row{.index = name, .build_s = build.build_seconds, .memory_bytes = build.index->memory_bytes(),
              .ef = ef > 0 ? std::to_string(ef) : "—"};
      measure(row, o, exact, o.repeats, [&](int threads, int64_t* ids) {
        build.index->search(queries.data(), o.queries, o.k, ef, threads, ids);
      });
      table.push_back(row);
    }
  };
  if (o.peers) {
    run_peer("hnswlib HNSW", build_hnswlib(rows.data(), o.n, o.dim, o.M, o.ef_construction), o.ef);
    if (o.faiss_hnsw) {
      run_peer("FAISS IndexHNSWFlat",
               build_faiss_hnsw(rows.data(), o.n, o.dim, o.M, o.ef_construction, o.faiss_build_threads), o.ef);
    }
    run_peer("FAISS IndexFlatIP, batched", build_faiss_flat(rows.data(), o.n, o.dim), {0});
  }

  // ---- the table ----
  std::printf("\n| index | build s | memory MB | ef | recall@%d |", o.k);
  for (int t : o.threads) std::printf(" queries/s, %d thread%s |", t, t == 1 ? "" : "s");
  std::printf(" × flat (1 query/call) | × hnswlib, same ef |\n|---|--:|--:|--:|--:|");
  for (size_t i = 0; i < o.threads.size(); i++) std::printf("--:|");
  std::printf("--:|--:|\n");
  const double flat_qps = table[0].qps[0];
  auto hnswlib_qps = [&](const std::string& ef) -> std::optional<double> {
    for (const Row& r : table)
      if (r.index == "hnswlib HNSW" && r.ef == ef) return r.qps[0];
    return std::nullopt;
  };
  for (const Row& r : table) {
    std::printf("| %s | %s | %s | %s | %s |", r.index.c_str(), r.build_s ? fixed(*r.build_s, 2).c_str() : "—",
                fixed(double(r.memory_bytes) / 1e6, 1).c_str(), r.ef.c_str(), fixed(r.recall, 4).c_str());
    for (double q : r.qps) std::printf(" %s |", fixed(q, 0).c_str());
    const std::optional<double> peer = r.index == "ours HNSW" ? hnswlib_qps(r.ef) : std::nullopt;
    std::printf(" %s | %s |\n", fixed(r.qps[0] / flat_qps, 1).c_str(), peer ? fixed(r.qps[0] / *peer, 2).c_str() : "");
  }
  std::printf("\nratios on 1 thread; × flat is against ours flat answering one query per call.\n");
  // Where each graph index first reaches recall 0.95 in the sweep, and what it costs there.
  std::optional<double> ours_qps_95, hnswlib_qps_95;
  for (const char* name : {"ours HNSW", "hnswlib HNSW", "FAISS IndexHNSWFlat"}) {
    const Row* first = nullptr;
    const Row* best = nullptr;
    for (const Row& r : table) {
      if (r.index != name) continue;
      if (!best || r.recall > best->recall) best = &r;
      if (!first && r.recall >= 0.95) first = &r;
    }
    if (!best) continue;
    if (first) {
      std::printf("- %s reaches recall@%d ≥ 0.95 at ef %s: %s queries/s, %s× the flat index's\n", name, o.k,
                  first->ef.c_str(), fixed(first->qps[0], 0).c_str(), fixed(first->qps[0] / flat_qps, 1).c_str());
      if (std::string(name) == "ours HNSW") ours_qps_95 = first->qps[0];
      if (std::string(name) == "hnswlib HNSW") hnswlib_qps_95 = first->qps[0];
    } else {
      std::printf("- %s: no ef of the sweep reaches recall@%d 0.95 (best %s at ef %s)\n", name, o.k,
                  fixed(best->recall, 4).c_str(), best->ef.c_str());
    }
  }
  if (ours_qps_95 && hnswlib_qps_95) {
    std::printf("- ours / hnswlib at their first ef with recall ≥ 0.95: %s\n",
                fixed(*ours_qps_95 / *hnswlib_qps_95, 2).c_str());
  }
  if (o.peers) {
    for (const std::string& note : peer_notes()) std::printf("- %s\n", note.c_str());
    if (!o.faiss_hnsw) std::printf("- FAISS IndexHNSWFlat not run (--faiss-hnsw)\n");
  }
  for (const std::string& m : missing) std::printf("- missing peer: %s\n", m.c_str());
  return 0;
}
