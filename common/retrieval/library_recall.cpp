#include "common/retrieval/library_recall.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/retrieval/bm25.h"
#include "common/retrieval/retrieve.h"
#include "common/world/people_file.h"
#include "common/world/question_set.h"

namespace sog {

FactRetrievalSet read_fact_retrieval_set(const std::string& world_dir, const std::string& question_file) {
  namespace fs = std::filesystem;
  const std::string library = (fs::path(world_dir) / "library.txt").string();
  const std::string questions = (fs::path(world_dir) / question_file).string();
  FactRetrievalSet set;
  set.chunks = chunk_documents(read_file(library), "library.txt");
  std::set<std::string> names;  // lower-cased, as bm25_terms writes words
  for (const Person& p : read_people_jsonl((fs::path(world_dir) / "people.jsonl").string())) {
    const std::vector<std::string> terms = bm25_terms(p.name);
    if (terms.size() == 1) names.insert(terms[0]);
  }
  std::vector<std::set<std::string>> chunk_words;
  for (const Chunk& c : set.chunks) {
    const std::vector<std::string> terms = bm25_terms(c.text);
    chunk_words.emplace_back(terms.begin(), terms.end());
  }
  const std::vector<QuestionRow> rows = read_question_rows(questions);
  for (size_t i = 0; i < rows.size(); i++) {
    if (!is_fact_task(task_kind_from_name(rows[i].task))) continue;
    const std::string where = questions + ": question " + std::to_string(i + 1) + " (\"" + rows[i].prompt + "\")";
    std::set<std::string> named;
    for (const std::string& w : bm25_terms(rows[i].prompt))
      if (names.count(w)) named.insert(w);
    if (named.size() != 1) {
      throw std::runtime_error(where + ": expected the name of one person of people.jsonl, found " +
                               std::to_string(named.size()));
    }
    const std::string& person = *named.begin();
    std::vector<int64_t> relevant;
    for (size_t c = 0; c < chunk_words.size(); c++)
      if (chunk_words[c].count(person)) relevant.push_back(static_cast<int64_t>(c));
    if (relevant.empty()) {
      throw std::runtime_error(where + ": " + library + " has no document naming '" + person +
                               "' (a world whose library leaves this person out?)");
    }
    set.questions.push_back(rows[i].prompt);
    set.people.push_back(person);
    set.relevant.push_back(std::move(relevant));
  }
  if (set.questions.empty()) throw std::runtime_error(questions + ": no fact question (tasks age city job pet color hobby)");
  return set;
}

std::vector<RecallRow> library_recall_table(const FactRetrievalSet& set, const Tokenizer& tok,
                                            const std::vector<EmbeddingModel>& models, const std::vector<int64_t>& ks) {
  Bm25Retriever bm25(set.chunks);
  std::vector<RecallRow> rows{{"bm25", recall_at_k(set.questions, set.relevant, bm25, ks)}};
  for (const EmbeddingModel& m : models) {
    if (m.model == nullptr) throw std::invalid_argument("library_recall_table: model '" + m.name + "' is null");
    for (Pooling pooling : {Pooling::mean, Pooling::last}) {
      const std::string name = m.name + " " + pooling_name(pooling);
      EmbeddingRetriever embed(*m.model, tok, set.chunks, {.pooling = pooling});
      rows.push_back({"embed " + name, recall_at_k(set.questions, set.relevant, embed, ks)});
      HybridRetriever hybrid(bm25, embed);
      rows.push_back({"hybrid bm25 + " + name, recall_at_k(set.questions, set.relevant, hybrid, ks)});
    }
  }
  return rows;
}

std::string recall_table_markdown(const std::vector<RecallRow>& rows, const std::vector<int64_t>& ks,
                                  int64_t questions) {
  std::string out = "| retriever |", rule = "|---|";
  for (int64_t k : ks) out += " recall@" + std::to_string(k) + " |", rule += "---:|";
  out += "\n" + rule + "\n";
  for (const RecallRow& r : rows) {
    out += "| " + r.retriever + " |";
    for (double v : r.recall) {
      char cell[64];
      std::snprintf(cell, sizeof cell, " %.3f (%lld/%lld) |", v, static_cast<long long>(std::llround(v * questions)),
                    static_cast<long long>(questions));
      out += cell;
    }
    out += "\n";
  }
  return out;
}

}  // namespace sog
