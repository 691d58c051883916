// The vector index file: both kinds, one format. Little-endian throughout.
//
//   header: 32 int32 words (common/io/binary_header.h), 128 bytes
//     [0]      magic 0x58444956, the bytes "VIDX"
//     [1]      format version, 1
//     [2]      kind: 1 flat, 2 hnsw
//     [3]      d, the dimension (1 … 2²⁰)
//     [4, 5]   n, the vector count, int64 as two words (low, high); at most 2³¹ − 1
//     hnsw only (zero for flat):
//     [6]      M    [7] ef_construction    [8] ef_search
//     [9, 10]  entry point, int64 (−1 when empty)
//     [11]     max level (−1 when empty)
//     [12, 13] seed, uint64
//     [14…21]  the level generator's state (xoshiro256**, four uint64), so that vectors added
//              after loading get the levels they would have got without the round trip
//     [22…31]  zero, reserved
//   payload:
//     vectors  n × d float32, row-major, each row unit length (as stored, normalised)
//     hnsw only:
//     levels   n uint8: each node's level
//     level 0  n records of (1 + 2M) int32: [neighbour count, neighbour ids…, −1 in unused slots]
//     upper    for each node of level ℓ ≥ 1, in id order, ℓ records of (1 + M) int32, levels 1 … ℓ,
//              laid out as level 0's
//   checksum: uint64, FNV-1a 64 of every byte before it (header included)
//
// A file is refused, with its path, what was expected and what was found, for: a short header,
// a wrong magic number (another of our formats is named), an unknown version, an unknown kind or
// the other kind than asked for, a dimension that differs from the caller's ("index has dim 192,
// the model gives 256"), counts out of range, a size that is not the one the header implies
// (truncated or trailing bytes), a checksum mismatch, and, for hnsw, a graph that breaks its
// invariants (neighbour ids out of range or absent from that level, lists over their caps).
#include <array>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "common/io/binary_header.h"
#include "common/retrieval/vector_index.h"
#include "common/tensor/random.h"

namespace sog {

namespace {

constexpr BinaryFormat kVectorIndexFormat = {"vector index", "vector index", file_magic::vector_index, 1, 1, 32,
                                             "written by a newer version of this project? rebuild the index"};
constexpr int64_t kMaxDim = int64_t(1) << 20;

void put_int64(BinaryHeader& h, size_t at, int64_t v) {
  h[at] = static_cast<int32_t>(static_cast<uint64_t>(v) & 0xffffffffu);
  h[at + 1] = static_cast<int32_t>(static_cast<uint64_t>(v) >> 32);
}
int64_t get_int64(const BinaryHeader& h, size_t at) {
  return static_cast<int64_t>(static_cast<uint64_t>(static_cast<uint32_t>(h[at])) |
                              static_cast<uint64_t>(static_cast<uint32_t>(h[at + 1])) << 32);
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// An AtomicFile that hashes what goes through it.
struct HashingWriter {
  AtomicFile file;
  uint64_t hash = kFnv1a64Offset;
  explicit HashingWriter(const std::string& path) : file(path) {}
  void write(const void* data, size_t bytes) {
    file.write(data, bytes);
    hash = fnv1a64(data, bytes, hash);
  }
  void commit() {
    const uint64_t checksum = hash;
    file.write(&checksum, sizeof checksum);
    file.commit();
  }
};

}  // namespace

struct VectorIndexFile {
  // ---- writing --------------------------------------------------------------------------------
  static BinaryHeader header(const VectorIndex& index) {
    BinaryHeader h(kVectorIndexFormat);
    h[2] = static_cast<int32_t>(index.kind());
    h[3] = static_cast<int32_t>(index.dim_);
    put_int64(h, 4, index.count_);
    return h;
  }
  static void write_header_and_vectors(HashingWriter& w, const BinaryHeader& h, const VectorIndex& index) {
    std::vector<int32_t> words(32);
    for (size_t i = 0; i < words.size(); i++) words[i] = h[i];
    w.write(words.data(), words.size() * sizeof(int32_t));
    w.write(index.vectors_.data(), static_cast<size_t>(index.count_ * index.dim_) * sizeof(float));
  }
  static void save(const FlatIndex& index, const std::string& path) {
    HashingWriter w(path);
    write_header_and_vectors(w, header(index), index);
    w.commit();
  }
  static void save(const HnswIndex& index, const std::string& path) {
    BinaryHeader h = header(index);
    h[6] = index.params_.M;
    h[7] = index.params_.ef_construction;
    h[8] = index.params_.ef_search;
    put_int64(h, 9, index.entry_point_);
    h[11] = index.max_level_;
    put_int64(h, 12, static_cast<int64_t>(index.params_.seed));
    for (size_t i = 0; i < 4; i++) put_int64(h, 14 + 2 * i, static_cast<int64_t>(index.level_rng_.state()[i]));
    HashingWriter w(path);
    write_header_and_vectors(w, h, index);
    w.write(index.levels_.data(), index.levels_.size());
    w.write(index.level0_.data(), index.level0_.size() * sizeof(int32_t));
    w.write(index.upper_.data(), index.upper_.size() * sizeof(int32_t));
    w.commit();
  }

  // ---- reading --------------------------------------------------------------------------------
  // The open file with its header checked, reading (and hashing) the payload in order.
  class Reader {
   public:
    Reader(const std::string& path, int64_t expected_dim) : r_(path, kVectorIndexFormat) {
      const BinaryHeader& h = r_.header();
      for (size_t i = 0; i < 32; i++) {
        const int32_t word = h[i];
        hash_ = fnv1a64(&word, sizeof word, hash_);
      }
      if (h[2] != static_cast<int32_t>(VectorIndexKind::flat) && h[2] != static_cast<int32_t>(VectorIndexKind::hnsw)) {
        r_.fail("unknown index kind: expected 1 (flat) or 2 (hnsw), found " + std::to_string(h[2]));
      }
      kind_ = static_cast<VectorIndexKind>(h[2]);
      dim_ = h[3];
      count_ = get_int64(h, 4);
      if (dim_ < 1 || dim_ > kMaxDim) {
        r_.fail("dim out of range: expected 1…" + std::to_string(kMaxDim) + ", found " + std::to_string(dim_));
      }
      if (count_ < 0 || count_ > INT32_MAX) {
        r_.fail("vector count out of range: expected 0…" + std::to_string(INT32_MAX) + ", found " +
                std::to_string(count_));
      }
      if (expected_dim >= 0 && expected_dim != dim_) {
        r_.fail("index has dim " + std::to_string(dim_) + ", the model gives " + std::to_string(expected_dim) +
                " (expected dim " + std::to_string(expected_dim) + ", found " + std::to_string(dim_) +
                "): the index was built from other embeddings; rebuild it with this model");
      }
    }
    VectorIndexKind kind() const { return kind_; }
    const BinaryHeader& header() const { return r_.header(); }
    BinaryReader& reader() { return r_; }
    void require_kind(VectorIndexKind want) const {
      if (kind_ != want) {
        r_.fail(std::string("index kind: expected ") + vector_index_kind_name(want) + ", found " +
                vector_index_kind_name(kind_) + " (load_vector_index reads either)");
      }
    }
    // Refuses a file shorter than `bytes` before anything of that size is allocated.
    void require_at_least(uint64_t bytes, const std::string& what) const {
      const uint64_t found = std::filesystem::file_size(r_.path());
      if (found < bytes) {
        r_.fail("wrong size: expected at least " + std::to_string(bytes) + " bytes (" + what + "), found " +
                std::to_string(found) + " bytes (truncated?)");
      }
    }
    void read(void* dst, size_t bytes, const std::string& what) {
      r_.read(dst, bytes, what);
      hash_ = fnv1a64(dst, bytes, hash_);
    }
    void read_vectors(VectorIndex& index) {
      index.count_ = count_;
      index.vectors_.resize(static_cast<size_t>(count_ * dim_));
      read(index.vectors_.data(), index.vectors_.size() * sizeof(float), "the vectors");
    }
    // The stored checksum against the one of every byte read.
    void finish() {
      uint64_t stored = 0;
      r_.read(&stored, sizeof stored, "the checksum");
      if (stored != hash_) {
        r_.fail("checksum mismatch: the file says " + hex(stored) + ", its contents give " + hex(hash_) +
                " (FNV-1a 64 of the " + std::to_string(std::filesystem::file_size(r_.path()) - 8) +
                " bytes before it): the file is corrupt; rebuild or copy it again");
      }
    }
    uint64_t vector_bytes() const { return static_cast<uint64_t>(count_ * dim_) * sizeof(float); }
    int64_t dim() const { return dim_; }
    int64_t count() const { return count_; }

   private:
    BinaryReader r_;
    uint64_t hash_ = kFnv1a64Offset;
    VectorIndexKind kind_ = VectorIndexKind::flat;
    int64_t dim_ = 0, count_ = 0;
  };

  static FlatIndex read_flat(Reader& in) {
    in.reader().require_size(128 + in.vector_bytes() + 8, std::to_string(in.count()) + " vectors of dim " +
                                                              std::to_string(in.dim()) + " and a checksum");
    FlatIndex index(in.dim());
    in.read_vectors(index);
    in.finish();
    return index;
  }

  static HnswIndex read_hnsw(Reader& in) {
    const BinaryHeader& h = in.header();
    HnswParams params{.M = h[6], .ef_construction = h[7], .ef_search = h[8], .seed = uint64_t(get_int64(h, 12))};
    std::unique_ptr<HnswIndex> made;
    try {
      made = std::make_unique<HnswIndex>(in.dim(), params);
    } catch (const std::invalid_argument& e) {
      in.reader().fail(e.what());
    }
    HnswIndex& index = *made;
    const int64_t n = in.count(), stride0 = 1 + 2 * int64_t(params.M);
    const uint64_t level0_bytes = static_cast<uint64_t>(n * stride0) * sizeof(int32_t);
    in.require_at_least(128 + in.vector_bytes() + uint64_t(n) + level0_bytes + 8,
                        std::to_string(n) + " vectors of dim " + std::to_string(in.dim()) +
                            ", their levels, level-0 lists and a checksum");
    in.read_vectors(index);
    index.levels_.resize(static_cast<size_t>(n));
    in.read(index.levels_.data(), index.levels_.size(), "the levels");
    int64_t upper_ints = 0;
    index.upper_offset_.resize(static_cast<size_t>(n));
    for (int64_t id = 0; id < n; id++) {
      index.upper_offset_[id] = upper_ints;
      upper_ints += int64_t(index.levels_[id]) * (1 + params.M);
    }
    in.reader().require_size(128 + in.vector_bytes() + uint64_t(n) + level0_bytes +
                                 uint64_t(upper_ints) * sizeof(int32_t) + 8,
                             "the header's counts and the stored levels");
    index.level0_.resize(static_cast<size_t>(n * stride0));
    in.read(index.level0_.data(), level0_bytes, "the level-0 neighbour lists");
    index.upper_.resize(static_cast<size_t>(upper_ints));
    in.read(index.upper_.data(), index.upper_.size() * sizeof(int32_t), "the upper-level neighbour lists");
    in.finish();
    index.entry_point_ = get_int64(h, 9);
    index.max_level_ = h[11];
    std::array<uint64_t, 4> state;
    for (size_t i = 0; i < 4; i++) state[i] = static_cast<uint64_t>(get_int64(h, 14 + 2 * i));
    index.level_rng_.set_state(state);
    index.check_graph(in.reader().path());
    return std::move(index);
  }
};

void FlatIndex::save(const std::string& path) const { VectorIndexFile::save(*this, path); }
void HnswIndex::save(const std::string& path) const { VectorIndexFile::save(*this, path); }

FlatIndex FlatIndex::load(const std::string& path, int64_t expected_dim) {
  VectorIndexFile::Reader in(path, expected_dim);
  in.require_kind(VectorIndexKind::flat);
  return VectorIndexFile::read_flat(in);
}

HnswIndex HnswIndex::load(const std::string& path, int64_t expected_dim) {
  VectorIndexFile::Reader in(path, expected_dim);
  in.require_kind(VectorIndexKind::hnsw);
  return VectorIndexFile::read_hnsw(in);
}

std::unique_ptr<VectorIndex> load_vector_index(const std::string& path, int64_t expected_dim) {
  VectorIndexFile::Reader in(path, expected_dim);
  if (in.kind() == VectorIndexKind::flat) return std::make_unique<FlatIndex>(VectorIndexFile::read_flat(in));
  return std::make_unique<HnswIndex>(VectorIndexFile::read_hnsw(in));
}

}  // namespace sog
