// common/retrieval/rag.h: an index folder written and read back (bm25; mean-pooled embeddings of a
// nano GPT in a flat and an HNSW index), folders whose files disagree refused with the file named,
// the retrievers over an index, the fact questions with the chunks that answer them, and the
// stuffed question.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "byte_tokenizer.h"
#include "common/io/atomic_file.h"
#include "common/nn/gpt.h"
#include "common/retrieval/rag.h"
#include "test_util.h"

using namespace sog;
using sog::testing::error_of;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Three documents, as the world's library.txt writes them.
const std::string kLibrary =
    "Nils is 46 years old. Nils lives in Paris.\n<|endoftext|>"
    "Goran owns a dog. Goran lives in Oslo.\n<|endoftext|>"
    "Ada says hello to everyone.\n<|endoftext|>";

class RagIndexTest : public sog::testing::ScratchFolderTest {
 protected:
  void SetUp() override {
    ScratchFolderTest::SetUp();
    model.init_gpt2(5);
    write_file_atomic(p("library.txt"), kLibrary);
  }
  IndexBuildOptions options(const std::string& embed = "bm25", const std::string& vector_index = "hnsw") const {
    IndexBuildOptions o;
    o.sources = {p("library.txt")};
    o.max_tokens = 0;  // one chunk per document
    o.embed = embed;
    o.model_path = "m.bin";
    o.vector_index = vector_index;
    o.hnsw.M = 4;
    o.hnsw.ef_construction = 16;
    return o;
  }
  // config.json changed by `edit`, written back.
  void edit_config(const std::string& dir, const std::function<void(json&)>& edit) {
    json c = json::parse(read_file(dir + "/config.json"));
    edit(c);
    write_file_atomic(dir + "/config.json", c.dump());
  }
  const Tokenizer& tok = sog::testing::shared_byte_tokenizer();
  GPT model{gpt_preset("nano", 256 + static_cast<int>(kSpecialTokens.size()))};  // C = 32, maxT 32
};

void expect_same_chunks(const std::vector<Chunk>& a, const std::vector<Chunk>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++) {
    EXPECT_EQ(a[i].source, b[i].source) << i;
    EXPECT_EQ(a[i].document, b[i].document) << i;
    EXPECT_EQ(a[i].offset, b[i].offset) << i;
    EXPECT_EQ(a[i].length, b[i].length) << i;
    EXPECT_EQ(a[i].text, b[i].text) << i;
  }
}

}  // namespace

TEST_F(RagIndexTest, Bm25IndexRoundTrip) {
  const std::string dir = p("idx");
  const json config = build_rag_index(options(), tok, nullptr, dir);
  EXPECT_EQ(config, json::parse(read_file(dir + "/config.json")));
  EXPECT_EQ(config["format"], "sog-rag-index");
  EXPECT_EQ(config["version"], 1);
  EXPECT_EQ(config["embed"], "bm25");
  EXPECT_EQ(config["chunks"], 3);
  EXPECT_TRUE(config["model"].is_null());
  EXPECT_TRUE(config["dim"].is_null());
  EXPECT_TRUE(config["vector_index"].is_null());
  EXPECT_EQ(config["sources"], json::array({p("library.txt")}));
  EXPECT_EQ(config["chunking"]["max_tokens"], 0);
  EXPECT_FALSE(fs::exists(dir + "/index.vidx")) << "bm25 stores no vectors";

  const RagIndex index = load_rag_index(dir);
  EXPECT_EQ(index.dir, dir);
  EXPECT_EQ(index.config, config);
  EXPECT_EQ(index.vectors, nullptr);
  expect_same_chunks(index.chunks, chunk_documents(kLibrary, "library.txt"));
  ASSERT_EQ(index.chunks.size(), 3u);
  EXPECT_EQ(index.chunks[1].text, "Goran owns a dog. Goran lives in Oslo.");
  EXPECT_EQ(index.chunks[1].document, 1);
  for (const Chunk& c : index.chunks) EXPECT_EQ(kLibrary.substr(c.offset, c.length), c.text);

  // Token windows: the chunker's, each at most 16 tokens (bytes here), read back the same.
  IndexBuildOptions o = options();
  o.max_tokens = 16, o.overlap_tokens = 4;
  const json windows = build_rag_index(o, tok, nullptr, p("idx16"));
  const RagIndex w = load_rag_index(p("idx16"));
  expect_same_chunks(w.chunks, chunk_by_tokens(kLibrary, "library.txt", tok, {16, 4}));
  EXPECT_EQ(windows["chunks"], w.chunks.size());
  EXPECT_GT(w.chunks.size(), 3u);
  for (const Chunk& c : w.chunks) EXPECT_LE(c.text.size(), 16u) << c.text;
  EXPECT_EQ(windows["chunking"], json({{"max_tokens", 16}, {"overlap_tokens", 4}}));
}

TEST_F(RagIndexTest, EmbeddingIndexFlatAndHnsw) {
  for (const std::string kind : {"flat", "hnsw"}) {
    SCOPED_TRACE(kind);
    const std::string dir = p("idx_" + kind);
    const json config = build_rag_index(options("mean", kind), tok, &model, dir);
    EXPECT_EQ(config["embed"], "mean");
    EXPECT_EQ(config["model"], "m.bin");
    EXPECT_EQ(config["dim"], model.config().C);
    EXPECT_EQ(config["vector_index"], kind);
    EXPECT_EQ(config.contains("hnsw"), kind == "hnsw");
    if (kind == "hnsw") {
      EXPECT_EQ(config["hnsw"]["M"], 4);
      EXPECT_EQ(config["hnsw"]["ef_construction"], 16);
    }
    const RagIndex index = load_rag_index(dir);
    ASSERT_NE(index.vectors, nullptr);
    EXPECT_EQ(index.vectors->size(), static_cast<int64_t>(index.chunks.size())) << "a vector per chunk";
    EXPECT_EQ(index.vectors->size(), 3);
    EXPECT_EQ(index.vectors->dim(), model.config().C);
    EXPECT_STREQ(vector_index_kind_name(index.vectors->kind()), kind.c_str());

    // A chunk's own text embeds to its own vector: the top hit.
    std::unique_ptr<Retriever> embed = make_index_retriever(index, "embed", &model, tok);
    for (size_t i = 0; i < index.chunks.size(); i++) {
      const auto hits = embed->top_k(index.chunks[i].text, 1);
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].id, static_cast<int64_t>(i));
      EXPECT_NEAR(hits[0].score, 1.0, 1e-4);
    }
    std::unique_ptr<Retriever> hybrid = make_index_retriever(index, "hybrid", &model, tok);
    EXPECT_EQ(hybrid->top_k("Goran owns a dog.", 3).size(), 3u);
    EXPECT_NE(error_of([&] { make_index_retriever(index, "embed", nullptr, tok); }).find("needs a model to embed the question"),
              std::string::npos);
  }
}

TEST_F(RagIndexTest, BuildRefusesBadOptions) {
  IndexBuildOptions o = options();
  o.sources.clear();
  EXPECT_NE(error_of([&] { build_rag_index(o, tok, nullptr, p("x")); }).find("no documents (--docs FILE)"), std::string::npos);
  o = options();
  o.max_tokens = -1;
  EXPECT_NE(error_of([&] { build_rag_index(o, tok, nullptr, p("x")); }).find("--max-tokens must be"), std::string::npos);
  o = options("mean");
  EXPECT_NE(error_of([&] { build_rag_index(o, tok, nullptr, p("x")); }).find("--embed mean needs --model"), std::string::npos);
  o = options("mean", "ivf");
  EXPECT_NE(error_of([&] { build_rag_index(o, tok, &model, p("x")); }).find("--vector-index 'ivf': expected flat or hnsw"),
            std::string::npos);
  o = options("cls");
  EXPECT_NE(error_of([&] { build_rag_index(o, tok, &model, p("x")); }).find("embed 'cls': expected bm25, mean or last"),
            std::string::npos);
  write_file_atomic(p("blank.txt"), " \n<|endoftext|>\n");
  o = options();
  o.sources = {p("blank.txt")};
  EXPECT_NE(error_of([&] { build_rag_index(o, tok, nullptr, p("x")); }).find("no text to chunk"), std::string::npos);
  EXPECT_FALSE(fs::exists(p("x") + "/config.json"));
}

TEST_F(RagIndexTest, LoadRefusesAFolderWhoseFilesDisagree) {
  const std::string dir = p("idx");
  auto load_error = [&] { return error_of([&] { load_rag_index(dir); }); };
  auto contains = [](const std::string& e, const std::string& part) {
    EXPECT_NE(e.find(part), std::string::npos) << "expected \"" << part << "\" in: " << e;
  };
  fs::create_directories(dir);
  contains(load_error(), dir + "/config.json: no such file");

  build_rag_index(options(), tok, nullptr, dir);
  const std::string good_config = read_file(dir + "/config.json"), good_chunks = read_file(dir + "/chunks.jsonl");
  write_file_atomic(dir + "/config.json", "{not json");
  contains(load_error(), dir + "/config.json: not JSON");
  write_file_atomic(dir + "/config.json", good_config);
  edit_config(dir, [](json& c) { c["format"] = "other"; });
  contains(load_error(), dir + "/config.json: expected format \"sog-rag-index\" version 1, found other version 1");
  write_file_atomic(dir + "/config.json", good_config);
  edit_config(dir, [](json& c) { c["version"] = 2; });
  contains(load_error(), "config.json: expected format \"sog-rag-index\" version 1, found sog-rag-index version 2");
  write_file_atomic(dir + "/config.json", good_config);
  edit_config(dir, [](json& c) { c["chunks"] = 5; });
  contains(load_error(), dir + "/chunks.jsonl: 3 chunks, config.json says 5");
  write_file_atomic(dir + "/config.json", good_config);

  // A line that is not JSON, a line without a field: the line is named.
  const std::string first = good_chunks.substr(0, good_chunks.find('\n') + 1);
  write_file_atomic(dir + "/chunks.jsonl", first + "not json\n" + first);
  contains(load_error(), dir + "/chunks.jsonl: line 2: ");
  write_file_atomic(dir + "/chunks.jsonl", first + first + "{\"source\": \"library.txt\", \"document\": 2}\n");
  contains(load_error(), dir + "/chunks.jsonl: line 3: ");
  fs::remove(dir + "/chunks.jsonl");
  contains(load_error(), dir + "/chunks.jsonl: cannot open");
  write_file_atomic(dir + "/chunks.jsonl", good_chunks);
  EXPECT_EQ(load_error(), "");

  // An embedding index whose index.vidx is of another width, holds too few vectors, or is gone.
  const std::string edir = p("eidx");
  build_rag_index(options("mean", "flat"), tok, &model, edir);
  EXPECT_EQ(error_of([&] { load_rag_index(edir); }), "");
  const std::vector<float> rows(3 * 8, 0.5f);
  FlatIndex narrow(8);
  narrow.add(rows.data(), 3);
  narrow.save(edir + "/index.vidx");
  std::string e = error_of([&] { load_rag_index(edir); });
  contains(e, "index.vidx");
  contains(e, "index has dim 8, the model gives " + std::to_string(model.config().C));
  const std::vector<float> wide(2 * model.config().C, 0.5f);
  FlatIndex few(model.config().C);
  few.add(wide.data(), 2);
  few.save(edir + "/index.vidx");
  contains(error_of([&] { load_rag_index(edir); }), edir + "/index.vidx: 2 vectors, chunks.jsonl has 3 chunks");
  fs::remove(edir + "/index.vidx");
  contains(error_of([&] { load_rag_index(edir); }), "index.vidx");
}

TEST_F(RagIndexTest, RetrieversOverABm25Index) {
  build_rag_index(options(), tok, nullptr, p("idx"));
  const RagIndex index = load_rag_index(p("idx"));
  std::unique_ptr<Retriever> bm25 = make_index_retriever(index, "bm25", nullptr, tok);
  const auto hits = bm25->top_k("Where does Goran live?", 3);
  ASSERT_EQ(hits.size(), 1u) << "only one chunk shares a word with the question";
  EXPECT_EQ(hits[0].id, 1);
  EXPECT_EQ(bm25->top_k("hello", 1).at(0).id, 2);
  for (const char* mode : {"embed", "hybrid"}) {
    const std::string e = error_of([&] { make_index_retriever(index, mode, &model, tok); });
    EXPECT_NE(e.find(p("idx") + "/config.json: retriever '" + mode + "' needs embeddings"), std::string::npos) << e;
    EXPECT_NE(e.find("bm25 only"), std::string::npos) << e;
  }
  const std::string e = error_of([&] { make_index_retriever(index, "magic", nullptr, tok); });
  EXPECT_NE(e.find("retriever 'magic': expected bm25, embed or hybrid"), std::string::npos) << e;
}

// LoadedRetriever loads the folder and the retriever once; what it finds, as a person reads it
// (retrieved_line) and as a program does (retrieved_json), names the same chunk.
TEST_F(RagIndexTest, LoadedRetrieverAndWhatItFound) {
  build_rag_index(options(), tok, nullptr, p("idx"));
  LoadedRetriever loaded(p("idx"), "bm25", tok, "");
  EXPECT_EQ(loaded.index().chunks.size(), 3u);
  const std::vector<ScoredId> hits = loaded.retriever().top_k("Where does Goran live?", 3);
  ASSERT_EQ(hits.size(), 1u);
  const json found = retrieved_json(loaded.index(), hits);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["rank"], 1);
  EXPECT_EQ(found[0]["source"], "library.txt");
  EXPECT_EQ(found[0]["document"], 1);
  EXPECT_EQ(found[0]["score"], hits[0].score);
  EXPECT_EQ(found[0]["text"], "Goran owns a dog. Goran lives in Oslo.");
  EXPECT_EQ(retrieved_line(loaded.index(), hits[0], 1).substr(0, 19), "[1] library.txt #1 ");
  EXPECT_TRUE(retrieved_json(loaded.index(), {}).is_array());
  const std::string e = error_of([&] { LoadedRetriever(p("idx"), "embed", tok, ""); });
  EXPECT_NE(e.find("needs embeddings"), std::string::npos) << e;
  const std::string missing = error_of([&] { LoadedRetriever(p("nowhere"), "bm25", tok, ""); });
  EXPECT_NE(missing.find(p("nowhere")), std::string::npos) << missing;
}

// The chunks that answer a question name its person AND state its gold value as a whole word.
TEST(RagQuestions, AnsweringChunksByHand) {
  auto chunk = [](const std::string& text) { return Chunk{"library.txt", 0, 0, static_cast<int64_t>(text.size()), text}; };
  const std::vector<Chunk> chunks = {
      chunk("Goran is 46 years old."),     // 0: Goran, but "4" is not in "46"
      chunk("Goran is 4 years old."),      // 1: answers Goran's age
      chunk("Nils is 4 years old."),       // 2: the value, another person
      chunk("Goran, 4, lives in Oslo."),   // 3: answers Goran's age
      chunk("Nils lives in Paris."),       // 4: answers Nils's city
      chunk("Parisians like Nils."),       // 5: "Paris" only inside a word
      chunk("Goran's favorite color is red."),  // 6: the possessive names Goran
  };
  const std::vector<Person> people = {{"Nils", 46, "Paris", "baker", "cat", "green", "chess"},
                                      {"Goran", 4, "Oslo", "nurse", "dog", "red", "golf"}};
  const std::vector<QuestionRow> rows = {{"How old is Goran?", "4", "age"},
                                         {"What is 2 + 2?", "4", "add"},
                                         {"Where does Nils live?", "Paris", "city"},
                                         {"What is Goran's favorite color?", "red", "color"},
                                         {"Reverse the word 'dog'.", "god", "reverse"}};
  const std::vector<RagQuestion> qs = rag_questions(rows, chunks, people);
  ASSERT_EQ(qs.size(), 3u) << "the arithmetic and string questions are skipped";
  EXPECT_EQ(qs[0].person, "Goran");
  EXPECT_EQ(qs[0].row.prompt, "How old is Goran?");
  EXPECT_EQ(qs[0].answering, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(qs[1].person, "Nils");
  EXPECT_EQ(qs[1].answering, (std::vector<int64_t>{4}));
  EXPECT_EQ(qs[2].person, "Goran");
  EXPECT_EQ(qs[2].answering, (std::vector<int64_t>{6}));

  // A fact question naming nobody, or two people, is refused with its number (1-based, in rows).
  std::vector<QuestionRow> bad = rows;
  bad.push_back({"How old is Zed?", "30", "age"});
  std::string e = error_of([&] { rag_questions(bad, chunks, people); });
  EXPECT_NE(e.find("question 6 (\"How old is Zed?\"): expected the name of one person, found 0"), std::string::npos) << e;
  bad.back() = {"Is Nils older than Goran?", "yes", "age"};
  e = error_of([&] { rag_questions(bad, chunks, people); });
  EXPECT_NE(e.find("question 6 (\"Is Nils older than Goran?\"): expected the name of one person, found 2"), std::string::npos)
      << e;
  // A question nothing answers keeps an empty list (the oracle skips it).
  const std::vector<RagQuestion> none = rag_questions({{"What is Nils's job?", "baker", "job"}}, chunks, people);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].answering.empty());
}

TEST(RagQuestions, StuffedKeepsGoldAndTask) {
  const QuestionRow q{"How old is Nils?", "46", "age"};
  const std::vector<std::string> docs = {"Nils is 46.", " Goran owns a dog.\n"};
  for (DocumentLayout layout : {DocumentLayout::delimited, DocumentLayout::plain}) {
    const QuestionRow s = stuffed(q, docs, layout);
    EXPECT_EQ(s.prompt, documents_prompt(docs, q.prompt, layout));
    EXPECT_EQ(s.answer, "46");
    EXPECT_EQ(s.task, "age");
  }
  EXPECT_EQ(stuffed(q, docs, DocumentLayout::plain).prompt, "How old is Nils?\n\nNils is 46.\n\nGoran owns a dog.");
  EXPECT_EQ(stuffed(q, {}, DocumentLayout::delimited).prompt, "How old is Nils?") << "closed-book: the question alone";
}
