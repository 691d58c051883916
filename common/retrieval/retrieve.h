// Steps 3 and 4 of retrieval-augmented generation: store the chunks, and retrieve the k that best
// answer a query. (Step 5, stuffing them into the prompt, is the chapter's.)
//
//   Retriever::top_k(query, k) → [(chunk id, score)], best first, ties to the lower id
//
//   Bm25Retriever       words: BM25 over the chunks' texts (bm25.h)
//   EmbeddingRetriever  meaning: the cosine of the query's embedding with each chunk's (embed.h),
//                       searched through a VectorSearch — exact brute force here (ExactCosineSearch,
//                       N·C multiply-adds a query, nothing to tune); a vector index can implement
//                       the same interface for large libraries
//   HybridRetriever     both, fused by reciprocal rank (Cormack, Clarke & Büttcher, SIGIR 2009):
//
//     rrf(d) = Σ_{lists r}  1 / (k_rrf + rank_r(d))      rank from 1; k_rrf = 60; a chunk absent
//                                                        from a list gets nothing from it
//
// Why ranks and not scores: a BM25 score is a sum of idf-weighted term weights with no upper
// bound (0.03 to 9.4 on the world's library and fact questions), a cosine is in [−1, 1] (0.06 to
// 0.74 there); adding them lets whichever spreads wider decide alone, and any weight that
// balances them is tuned for one corpus and one model. Ranks are on one scale. k_rrf = 60 (the
// paper's value) flattens the top: rank 1 is worth 1/61, rank 2 1/62, so a chunk ranked well by
// both lists beats one ranked first by a single list. That is also its limit: fusion rewards
// agreement, so one weak list can pull the fused ranking below the better list alone (README).
//
// recall_at_k: over a question set, the fraction of questions with at least one relevant chunk in
// the retriever's top k, for each k asked.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/nn/gpt.h"
#include "common/retrieval/bm25.h"
#include "common/retrieval/chunker.h"
#include "common/retrieval/embed.h"
#include "common/retrieval/ranking.h"
#include "common/tensor/tensor.h"
#include "common/tokenizer/tokenizer.h"

namespace sog {

class Retriever {
 public:
  virtual ~Retriever() = default;
  // The k (≥ 1) best chunks for `query`, best first; fewer when fewer qualify.
  virtual std::vector<ScoredId> top_k(std::string_view query, int64_t k) = 0;
};

class Bm25Retriever : public Retriever {
 public:
  explicit Bm25Retriever(const std::vector<Chunk>& chunks, Bm25Params params = {});
  std::vector<ScoredId> top_k(std::string_view query, int64_t k) override { return index_.search(query, k); }

 private:
  Bm25Index index_;
};

// The nearest stored unit vectors to a unit query vector, by dot product (= cosine).
class VectorSearch {
 public:
  virtual ~VectorSearch() = default;
  virtual int64_t dim() const = 0;
  // query (dim) → the k best rows, best first, ties to the lower id.
  virtual std::vector<ScoredId> nearest(std::span<const float> query, int64_t k) const = 0;
};

// Every dot product, then the k best: exact.
class ExactCosineSearch : public VectorSearch {
 public:
  explicit ExactCosineSearch(Tensor rows);  // (N,C) f32, rows of unit norm (embed_texts)
  int64_t dim() const override { return rows_.size(1); }
  std::vector<ScoredId> nearest(std::span<const float> query, int64_t k) const override;

 private:
  Tensor rows_;  // (N,C)
};

class EmbeddingRetriever : public Retriever {
 public:
  // Embeds every chunk (embed_texts) and searches them exactly. The model and the tokenizer must
  // outlive the retriever: each query is embedded with them.
  EmbeddingRetriever(GPT& model, const Tokenizer& tok, const std::vector<Chunk>& chunks, EmbedOptions options = {});
  // Searches vectors stored elsewhere (a vector index over the same chunks, embedded with the same
  // model and options). Throws when the search's dim is not the model's C.
  EmbeddingRetriever(GPT& model, const Tokenizer& tok, std::unique_ptr<VectorSearch> search, EmbedOptions options = {});
  std::vector<ScoredId> top_k(std::string_view query, int64_t k) override;

 private:
  GPT& model_;
  const Tokenizer& tok_;
  EmbedOptions options_;
  std::unique_ptr<VectorSearch> search_;
};

// rankings: lists, each best first, of distinct ids → the k best ids by rrf, score = rrf(id),
// ties to the lower id. Throws for k < 1 or k_rrf < 0.
std::vector<ScoredId> reciprocal_rank_fusion(const std::vector<std::vector<ScoredId>>& rankings, int64_t k,
                                             double k_rrf = 60.0);

class HybridRetriever : public Retriever {
 public:
  // Fuses the top `depth` of each retriever (both must outlive this one). depth ≥ 1; a top_k(k)
  // asks each for max(depth, k).
  HybridRetriever(Retriever& words, Retriever& meaning, int64_t depth = 100, double k_rrf = 60.0);
  std::vector<ScoredId> top_k(std::string_view query, int64_t k) override;

 private:
  Retriever& words_;
  Retriever& meaning_;
  int64_t depth_;
  double k_rrf_;
};

// recall@k for each k of ks: the fraction of questions whose top k holds any of relevant[q]
// (chunk ids). One top_k(max ks) per question. Throws std::invalid_argument for no questions, a
// size mismatch, a question with no relevant chunk (it could never count), or a k < 1.
std::vector<double> recall_at_k(const std::vector<std::string>& questions,
                                const std::vector<std::vector<int64_t>>& relevant, Retriever& retriever,
                                const std::vector<int64_t>& ks);

}  // namespace sog
