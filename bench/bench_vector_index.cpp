// The vector store of retrieval (common/retrieval/vector_index.h) against the libraries a
// practitioner would use instead: hnswlib's HNSW, FAISS's IndexHNSWFlat and IndexFlatIP (benchmark
// peers only, bench/vector_index_peers.h; a peer CMake did not find is reported as missing).
// Everyone gets the same vectors and the same queries, unit rows (cosine = inner product); recall@k
// is against the exact top-k of our flat index. Three sources of vectors:
//   Gaussian          random, full rank (the default);
//   --intrinsic-dim m random, near an m-dimensional subspace, as text embeddings are;
//   --model M --tokenizer DIR --text FILE
//                     a model's own vectors: its final hidden states (GPT::hidden, after the last
//                     LayerNorm, the states common/retrieval/embed.h pools) at every token position
//                     of FILE, read in consecutive windows of the model's max_T tokens. The first
//                     --n positions are stored, the next --queries positions are the queries (held
//                     out); dim is the model's width C.
// Prints a markdown table:
//
//   index | build s | memory MB | ef | recall@10 | queries/s on 1 thread | … on 2 threads | ratios
//
//   bench/bench_vector_index                   100k Gaussian vectors of dim 128, 1000 queries, 1 thread
//   bench/bench_vector_index --intrinsic-dim 16 --threads 1,2 --faiss-hnsw
//   bench/bench_vector_index --dim 192 --ef 512,1024 --no-peers
//   bench/bench_vector_index --model RUN/03_sft/full/model.bin --tokenizer RUN/tokenizer \
//                            --text RUN/world/pretrain.txt --threads 1,2
//                                              100k hidden states of the SFT model over the
//                                              pretraining text (RUN: scripts/pipeline.sh's run folder)
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
#include "common/autograd/tape.h"
#include "common/cpu/isa.h"
#include "common/io/atomic_file.h"
#include "common/nn/load_model.h"
#include "common/retrieval/chunker.h"
#include "common/retrieval/vector_index.h"
#include "common/tensor/random.h"
#include "common/tokenizer/tokenizer.h"

using namespace sog;
using namespace sog::bench;

namespace {

struct Options {
  int64_t n = 100000, dim = 128, queries = 1000, intrinsic_dim = 0;
  int k = 10, M = 16, ef_construction = 200, repeats = 3, faiss_build_threads = 2;
  std::vector<int> ef = {16, 32, 64, 128, 256};
  std::vector<int> threads = {1};
  bool peers = true, faiss_hnsw = false;
  std::string model_path, tokenizer_dir, text_path;  // the model's hidden states, when model_path is set
};

// Windows of max_T tokens per forward when the vectors are a model's hidden states.
constexpr int64_t kWindowsPerForward = 8;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Scales each of the n rows of v (n,d) to unit L2 norm (a zero row stays zero).
void normalise_rows(float* v, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; i++) {
    float* row = v + i * d;
    double norm2 = 0;
    for (int64_t j = 0; j < d; j++) norm2 += double(row[j]) * row[j];
    const double inv = 1.0 / std::max(std::sqrt(norm2), 1e-30);
    for (int64_t j = 0; j < d; j++) row[j] = static_cast<float>(row[j] * inv);
  }
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
    for (int64_t j = 0; j < d; j++) {
      double x = noise * rng.normal();
      for (int64_t c = 0; c < intrinsic_dim; c++) x += basis[j * intrinsic_dim + c] * z[c];
      v[i * d + j] = static_cast<float>(x);
    }
  }
  normalise_rows(v.data(), n, d);
  return v;
}

// The first n + queries tokens of a text file: each document (the bytes between two <|endoftext|>,
// chunker.h) after the id of <|endoftext|>, as the pretraining shards separate documents and as
// embed.h starts a text; its text encoded as text only (AllowedSpecial::none, as the chunker and
// embed.h encode: a marker spelled in the text stays characters).
//   "A b.<|endoftext|>C d." → [<|endoftext|>] "A b." [<|endoftext|>] "C d."
// Throws std::invalid_argument naming the file, its token count and n + queries when it holds fewer.
std::vector<int32_t> text_tokens(const Tokenizer& tok, const std::string& path, int64_t n, int64_t queries) {
  const int64_t needed = n + queries;
  const std::string text = read_file(path);
  const int32_t eot = tok.require_special_id(kEndOfText, "bench_vector_index --text");
  std::vector<int32_t> ids;
  for (const DocumentSpan& doc : split_documents(text)) {
    if (static_cast<int64_t>(ids.size()) >= needed) break;
    ids.push_back(eot);
    const std::vector<int32_t> body =
        tok.encode(std::string_view(text).substr(doc.offset, doc.length), AllowedSpecial::none);
    ids.insert(ids.end(), body.begin(), body.end());
  }
  if (static_cast<int64_t>(ids.size()) < needed) {
    throw std::invalid_argument(path + ": the text has " + std::to_string(ids.size()) + " tokens, expected at least " +
                                std::to_string(needed) + " (--n " + std::to_string(n) + " stored + --queries " +
                                std::to_string(queries) + " held out); give a longer text or a smaller --n");
  }
  ids.resize(static_cast<size_t>(needed));
  return ids;
}

// ids (N) → (N,C) unit rows: the model's final hidden states (GPT::hidden, after the last
// LayerNorm) at every position, the ids read in consecutive windows of max_T tokens, `batch`
// windows per forward on the OpenMP threads. The last window may be short: its row is padded on the
// right with its first id, and attention is causal, so no real position sees the padding.
std::vector<float> hidden_state_rows(GPT& model, const std::vector<int32_t>& ids, int64_t batch) {
  const int64_t N = static_cast<int64_t>(ids.size()), C = model.config().C, max_T = model.config().max_T;
  const int64_t windows = (N + max_T - 1) / max_T;
  NoGradGuard no_grad;
  std::vector<float> out(static_cast<size_t>(N * C));  // (N,C)
  for (int64_t w0 = 0; w0 < windows; w0 += batch) {
    const int64_t B = std::min(batch, windows - w0), begin = w0 * max_T, end = std::min(N, (w0 + B) * max_T);
    const int64_t T = std::min(max_T, end - begin);  // a single short window: no padding at all
    std::vector<int32_t> window_ids(static_cast<size_t>(B * T));  // (B,T)
    for (int64_t r = 0; r < B; r++) {
      const int64_t first = begin + r * max_T, len = std::min(T, end - first);
      std::copy(ids.begin() + first, ids.begin() + first + len, window_ids.begin() + r * T);
      std::fill(window_ids.begin() + r * T + len, window_ids.begin() + (r + 1) * T, ids[first]);
    }
    const Tensor hidden = model.hidden(Tensor::from_ids({B, T}, window_ids));  // (B,T,C)
    for (int64_t r = 0; r < B; r++) {
      const int64_t first = begin + r * max_T, len = std::min(T, end - first);
      std::copy(hidden.f32() + r * T * C, hidden.f32() + (r * T + len) * C, out.begin() + first * C);
    }
  }
  normalise_rows(out.data(), N, C);
  return out;
}

// The stored vectors (n,dim) and the queries (queries,dim), unit rows, and the "data:" line.
struct Dataset {
  std::vector<float> rows, queries;
  std::string description;
};

// The model's hidden states over the text: positions 0 … n−1 stored, n … n+queries−1 the queries.
Dataset model_dataset(GPT& model, const Tokenizer& tok, const Options& o) {
  const std::vector<int32_t> ids = text_tokens(tok, o.text_path, o.n, o.queries);
  const int threads = static_cast<int>(std::thread::hardware_concurrency());
  omp_set_num_threads(threads);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> all = hidden_state_rows(model, ids, kWindowsPerForward);  // (n+queries, C)
  const double embed_s = seconds_since(t0);
  const int64_t max_T = model.config().max_T, windows = (o.n + o.queries + max_T - 1) / max_T;
  std::printf("embedding: %lld positions in %lld windows of %lld tokens, %lld windows per forward, %d threads: "
              "%.1f s (%.0f tokens/s)\n",
              static_cast<long long>(o.n + o.queries), static_cast<long long>(windows), static_cast<long long>(max_T),
              static_cast<long long>(kWindowsPerForward), threads, embed_s, double(o.n + o.queries) / embed_s);
  Dataset data;
  data.queries.assign(all.begin() + o.n * o.dim, all.end());
  all.resize(static_cast<size_t>(o.n * o.dim));
  data.rows = std::move(all);
  data.description = std::to_string(o.n) + " hidden states (dim " + std::to_string(o.dim) + ") of " + o.model_path +
                     " over " + o.text_path + ", normalised; queries: the next " + std::to_string(o.queries) +
                     " positions";
  return data;
}

Dataset random_dataset(const Options& o) {
  return {random_unit_rows(o.n, o.dim, o.intrinsic_dim, 1), random_unit_rows(o.queries, o.dim, o.intrinsic_dim, 2),
          o.intrinsic_dim == 0
              ? "Gaussian, normalised"
              : "near a " + std::to_string(o.intrinsic_dim) + "-dimensional subspace (noise 1/10), normalised"};
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

void print_header(const Options& o) {
  std::printf("vector index benchmark: n %lld, dim %lld, %lld queries, k %d, M %d, ef_construction %d\n",
              static_cast<long long>(o.n), static_cast<long long>(o.dim), static_cast<long long>(o.queries), o.k, o.M,
              o.ef_construction);
  std::printf("cpu: %s, %u hardware threads\n", cpu_description().c_str(), std::thread::hardware_concurrency());
}

int run(Options o) {
  const Dataset data = [&] {
    if (o.model_path.empty()) {
      print_header(o);
      return random_dataset(o);
    }
    const Tokenizer tok = Tokenizer::load(o.tokenizer_dir);
    const LoadedModel m = load_model(o.model_path, "", tok, o.tokenizer_dir);
    o.dim = m.model->config().C;
    print_header(o);
    return model_dataset(*m.model, tok, o);
  }();
  std::printf("data: %s\n", data.description.c_str());
  const std::vector<float>& rows = data.rows;
  const std::vector<float>& queries = data.queries;
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

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string ef_list = "16,32,64,128,256", thread_list = "1";
  CLI::App app{"vector index: ours (flat, HNSW) against hnswlib and FAISS on random vectors or a model's hidden "
               "states (a markdown table)"};
  app.add_option("--n", o.n, "stored vectors")->check(CLI::PositiveNumber);
  CLI::Option* dim = app.add_option("--dim", o.dim, "dimension")->check(CLI::PositiveNumber);
  app.add_option("--queries", o.queries, "queries")->check(CLI::PositiveNumber);
  CLI::Option* intrinsic_dim =
      app.add_option("--intrinsic-dim", o.intrinsic_dim,
                     "0: Gaussian vectors (full rank); m > 0: near an m-dimensional subspace, as embeddings are")
          ->check(CLI::NonNegativeNumber);
  CLI::Option* tokenizer = app.add_option("--tokenizer", o.tokenizer_dir, "with --model: its tokenizer folder");
  CLI::Option* text = app.add_option("--text", o.text_path,
                                     "with --model: a text of at least n + queries tokens (documents separated by "
                                     "<|endoftext|>)");
  CLI::Option* model =
      app.add_option("--model", o.model_path,
                     "the vectors are this model's final hidden states at every token position of --text "
                     "(a checkpoint, model folder or run folder); dim is the model's width")
          ->needs(tokenizer)
          ->needs(text)
          ->excludes(dim)
          ->excludes(intrinsic_dim);
  tokenizer->needs(model);
  text->needs(model);
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
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_vector_index: error: %s\n", e.what());
    return 1;
  }
}
