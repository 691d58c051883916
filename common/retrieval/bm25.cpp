#include "common/retrieval/bm25.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace sog {

namespace {

// The length of an apostrophe at text[i] (' or ’, U+2019, three bytes in UTF-8), or 0.
size_t apostrophe_at(std::string_view text, size_t i) {
  if (i < text.size() && text[i] == '\'') return 1;
  return text.substr(std::min(i, text.size()), 3) == "\xE2\x80\x99" ? 3 : 0;
}

// A byte of a word: an ASCII letter or digit, or a byte ≥ 0x80 that is not part of a ’.
bool word_byte_at(std::string_view text, size_t i) {
  if (i >= text.size()) return false;
  const auto c = static_cast<unsigned char>(text[i]);
  if (c >= 0x80) return apostrophe_at(text, i) == 0;
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::vector<std::string> bm25_terms(std::string_view text) {
  std::vector<std::string> terms;
  for (size_t i = 0; i < text.size();) {
    if (!word_byte_at(text, i)) {
      i += std::max<size_t>(1, apostrophe_at(text, i));
      continue;
    }
    std::string word;
    for (; word_byte_at(text, i); i++) word += (text[i] >= 'A' && text[i] <= 'Z') ? char(text[i] - 'A' + 'a') : text[i];
    terms.push_back(std::move(word));
    // The possessive: an apostrophe, then s or S, then no word byte — skipped.
    const size_t s = i + apostrophe_at(text, i);
    if (s > i && s < text.size() && (text[s] == 's' || text[s] == 'S') && !word_byte_at(text, s + 1)) i = s + 1;
  }
  return terms;
}

Bm25Index::Bm25Index(const std::vector<std::string>& documents, Bm25Params params) : params_(params) {
  if (documents.empty()) throw std::invalid_argument("Bm25Index: documents: expected at least one, found none");
  if (!(params.k1 >= 0.0)) throw std::invalid_argument("Bm25Index: k1: expected ≥ 0, found " + std::to_string(params.k1));
  if (!(params.b >= 0.0 && params.b <= 1.0)) {
    throw std::invalid_argument("Bm25Index: b: expected 0 ≤ b ≤ 1, found " + std::to_string(params.b));
  }
  int64_t total = 0;
  for (size_t d = 0; d < documents.size(); d++) {
    const std::vector<std::string> terms = bm25_terms(documents[d]);
    std::map<std::string, int32_t> tf;  // ordered: the postings are built the same on every platform
    for (const std::string& t : terms) tf[t]++;
    for (const auto& [term, count] : tf) postings_[term].push_back({static_cast<int32_t>(d), count});
    length_.push_back(static_cast<int32_t>(terms.size()));
    total += static_cast<int64_t>(terms.size());
  }
  avgdl_ = static_cast<double>(total) / static_cast<double>(documents.size());
}

int64_t Bm25Index::document_frequency(const std::string& term) const {
  const auto it = postings_.find(term);
  return it == postings_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

double Bm25Index::idf(const std::string& term) const {
  const double N = static_cast<double>(size()), n = static_cast<double>(document_frequency(term));
  return std::log(1.0 + (N - n + 0.5) / (n + 0.5));
}

void Bm25Index::accumulate(std::string_view query, std::vector<double>& scores, std::vector<char>& hit) const {
  scores.assign(length_.size(), 0.0);
  hit.assign(length_.size(), 0);
  const double k1 = params_.k1, b = params_.b;
  for (const std::string& term : bm25_terms(query)) {
    const auto it = postings_.find(term);
    if (it == postings_.end()) continue;
    const double w = idf(term);
    for (const Posting& p : it->second) {  // a posting means |d| ≥ 1, so avgdl > 0
      const double tf = p.tf, norm = k1 * (1.0 - b + b * length_[p.doc] / avgdl_);
      scores[p.doc] += w * tf * (k1 + 1.0) / (tf + norm);
      hit[p.doc] = 1;
    }
  }
}

std::vector<double> Bm25Index::scores(std::string_view query) const {
  std::vector<double> s;
  std::vector<char> hit;
  accumulate(query, s, hit);
  return s;
}

std::vector<ScoredId> Bm25Index::search(std::string_view query, int64_t k) const {
  std::vector<double> s;
  std::vector<char> hit;
  accumulate(query, s, hit);
  std::vector<ScoredId> matches;
  for (size_t d = 0; d < s.size(); d++)
    if (hit[d]) matches.push_back({static_cast<int64_t>(d), s[d]});
  return top_k_by_score(std::move(matches), k);
}

}  // namespace sog
