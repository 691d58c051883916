// Retrieval by words: BM25 (Robertson et al., Okapi at TREC-3, 1994), from scratch.
//
// A query q of terms t and a document d of |d| terms (avgdl the mean |d| of the collection):
//
//   score(q, d) = Σ_{t ∈ q}  idf(t) · tf(t,d)·(k1 + 1) / ( tf(t,d) + k1·(1 − b + b·|d|/avgdl) )
//   idf(t)      = ln( 1 + (N − n(t) + 0.5) / (n(t) + 0.5) )         N documents, n(t) of them hold t
//
// k1 = 1.2 caps what repeating a term is worth (the tf part saturates at k1 + 1), b = 0.75 scales
// a term's weight down in long documents, and the idf is Lucene's: the "1 +" keeps it positive
// even for a term in every document (Robertson's original goes negative there). A query term
// written twice counts twice, as Lucene's sum over the query's term clauses. Two departures from
// Lucene that move no ranking: Lucene ≥ 8 leaves out the constant factor (k1 + 1), and it stores
// |d| rounded to one byte; here |d| is exact.
//
// Terms (bm25_terms): lower-cased words, a word being a run of ASCII letters and digits (bytes
// ≥ 0x80 count as letters, so a UTF-8 name stays one word; only ASCII is lower-cased). Every other
// byte separates words, except the possessive: a word followed by 's (' or ’) and then no letter
// loses the 's, so "Catherine's favorite color" gives catherine, favorite, color — the question
// "What is Catherine's job?" then finds "Catherine works as a baker." Other apostrophes split:
// "don't" gives don, t.
//
// The index is inverted: term → postings [(document, tf)] in document order, plus every |d|. A
// search walks only the postings of the query's terms; documents that share no term with the
// query are not returned (Lucene's behaviour), so a search may return fewer than k.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/retrieval/ranking.h"

namespace sog {

// "Catherine's favorite color is GREEN." → {"catherine", "favorite", "color", "is", "green"}
std::vector<std::string> bm25_terms(std::string_view text);

struct Bm25Params {
  double k1 = 1.2;
  double b = 0.75;
};

class Bm25Index {
 public:
  // Document i is documents[i]. Throws std::invalid_argument for no documents or a parameter
  // outside k1 ≥ 0, 0 ≤ b ≤ 1.
  explicit Bm25Index(const std::vector<std::string>& documents, Bm25Params params = {});

  // score(q, d) for every document (0 where no query term occurs): (N).
  std::vector<double> scores(std::string_view query) const;
  // The k best documents that share a term with the query; ties to the lower id. k ≥ 1.
  std::vector<ScoredId> search(std::string_view query, int64_t k) const;

  double idf(const std::string& term) const;        // of a term in no document too (n = 0)
  int64_t document_frequency(const std::string& term) const;  // n(t)
  int64_t size() const { return static_cast<int64_t>(length_.size()); }  // N
  int64_t length(int64_t doc) const { return length_.at(doc); }         // |d| in terms
  double average_length() const { return avgdl_; }

 private:
  struct Posting {
    int32_t doc;
    int32_t tf;
  };
  // scores (N) ← score(query, d); hit[d] = 1 where d holds a query term.
  void accumulate(std::string_view query, std::vector<double>& scores, std::vector<char>& hit) const;

  Bm25Params params_;
  std::unordered_map<std::string, std::vector<Posting>> postings_;
  std::vector<int32_t> length_;  // (N)
  double avgdl_ = 0.0;
};

}  // namespace sog
