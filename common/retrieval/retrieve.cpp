#include "common/retrieval/retrieve.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "common/ops/op_checks.h"

namespace sog {

Bm25Retriever::Bm25Retriever(const std::vector<Chunk>& chunks, Bm25Params params)
    : index_(chunk_texts(chunks), params) {}

ExactCosineSearch::ExactCosineSearch(Tensor rows) : rows_(std::move(rows)) {
  require_cpu_f32(rows_, "ExactCosineSearch", "rows");
  require_ndim(rows_, 2, "ExactCosineSearch", "rows (N,C)");
}

std::vector<ScoredId> ExactCosineSearch::nearest(std::span<const float> query, int64_t k) const {
  const int64_t N = rows_.size(0), C = rows_.size(1);
  if (static_cast<int64_t>(query.size()) != C) {
    throw std::invalid_argument("ExactCosineSearch::nearest: query: expected " + std::to_string(C) +
                                " floats (the stored rows' width), found " + std::to_string(query.size()));
  }
  std::vector<double> scores(N);
  for (int64_t i = 0; i < N; i++) {
    const float* row = rows_.f32() + i * C;
    double dot = 0.0;
    for (int64_t c = 0; c < C; c++) dot += static_cast<double>(row[c]) * query[c];
    scores[i] = dot;
  }
  return top_k_by_score(scores, k);
}

EmbeddingRetriever::EmbeddingRetriever(GPT& model, const Tokenizer& tok, const std::vector<Chunk>& chunks,
                                       EmbedOptions options)
    : EmbeddingRetriever(model, tok,
                         std::make_unique<ExactCosineSearch>(embed_texts(model, tok, chunk_texts(chunks), options)),
                         options) {}

EmbeddingRetriever::EmbeddingRetriever(GPT& model, const Tokenizer& tok, std::unique_ptr<VectorSearch> search,
                                       EmbedOptions options)
    : model_(model), tok_(tok), options_(options), search_(std::move(search)) {
  if (!search_ || search_->dim() != model.config().C) {
    throw std::invalid_argument("EmbeddingRetriever: the vector search holds vectors of dim " +
                                std::to_string(search_ ? search_->dim() : 0) + ", the model gives C=" +
                                std::to_string(model.config().C) + " (embed the chunks with this model)");
  }
}

std::vector<ScoredId> EmbeddingRetriever::top_k(std::string_view query, int64_t k) {
  const Tensor q = embed_texts(model_, tok_, {std::string(query)}, options_);  // (1,C)
  return search_->nearest(std::span<const float>(q.f32(), q.numel()), k);
}

std::vector<ScoredId> reciprocal_rank_fusion(const std::vector<std::vector<ScoredId>>& rankings, int64_t k,
                                             double k_rrf) {
  if (!(k_rrf >= 0.0)) throw std::invalid_argument("reciprocal_rank_fusion: k_rrf: expected ≥ 0, found " + std::to_string(k_rrf));
  std::map<int64_t, double> fused;  // summed in id order: the same bits on every platform
  for (const auto& list : rankings)
    for (size_t r = 0; r < list.size(); r++) fused[list[r].id] += 1.0 / (k_rrf + static_cast<double>(r + 1));
  std::vector<ScoredId> all;
  all.reserve(fused.size());
  for (const auto& [id, score] : fused) all.push_back({id, score});
  return top_k_by_score(std::move(all), k);
}

HybridRetriever::HybridRetriever(Retriever& words, Retriever& meaning, int64_t depth, double k_rrf)
    : words_(words), meaning_(meaning), depth_(depth), k_rrf_(k_rrf) {
  if (depth < 1) throw std::invalid_argument("HybridRetriever: depth: expected ≥ 1, found " + std::to_string(depth));
}

std::vector<ScoredId> HybridRetriever::top_k(std::string_view query, int64_t k) {
  const int64_t depth = std::max(depth_, k);
  return reciprocal_rank_fusion({words_.top_k(query, depth), meaning_.top_k(query, depth)}, k, k_rrf_);
}

std::vector<double> recall_at_k(const std::vector<std::string>& questions,
                                const std::vector<std::vector<int64_t>>& relevant, Retriever& retriever,
                                const std::vector<int64_t>& ks) {
  if (questions.empty()) throw std::invalid_argument("recall_at_k: questions: expected at least one, found none");
  if (relevant.size() != questions.size()) {
    throw std::invalid_argument("recall_at_k: relevant: expected one set per question (" + std::to_string(questions.size()) +
                                "), found " + std::to_string(relevant.size()));
  }
  if (ks.empty()) throw std::invalid_argument("recall_at_k: ks: expected at least one k, found none");
  for (int64_t k : ks)
    if (k < 1) throw std::invalid_argument("recall_at_k: ks: expected every k ≥ 1, found " + std::to_string(k));
  for (size_t q = 0; q < questions.size(); q++) {
    if (relevant[q].empty()) {
      throw std::invalid_argument("recall_at_k: question " + std::to_string(q) + " (\"" + questions[q] +
                                  "\") has no relevant chunk: it could never be recalled");
    }
  }
  const int64_t deepest = *std::max_element(ks.begin(), ks.end());
  std::vector<int64_t> found(ks.size(), 0);
  for (size_t q = 0; q < questions.size(); q++) {
    const std::set<int64_t> wanted(relevant[q].begin(), relevant[q].end());
    const std::vector<ScoredId> hits = retriever.top_k(questions[q], deepest);
    int64_t first = -1;  // rank (from 0) of the first relevant hit
    for (size_t r = 0; r < hits.size() && first < 0; r++)
      if (wanted.count(hits[r].id)) first = static_cast<int64_t>(r);
    for (size_t i = 0; i < ks.size(); i++) found[i] += (first >= 0 && first < ks[i]) ? 1 : 0;
  }
  std::vector<double> recall(ks.size());
  for (size_t i = 0; i < ks.size(); i++) recall[i] = static_cast<double>(found[i]) / static_cast<double>(questions.size());
  return recall;
}

}  // namespace sog
