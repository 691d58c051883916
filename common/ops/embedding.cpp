#include "common/ops/embedding.h"

#include <bit>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/autograd/tape.h"
#include "common/ops/op_checks.h"

namespace sog {

// ---- kernels ----------------------------------------------------------------------------------

// A table element as a float: itself, or a bf16 widened (exact).
static inline float to_f32(float x) { return x; }
static inline float to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

template <typename TW>
static void lookup(float* out, const int32_t* ids, const TW* table, int64_t N, int64_t C) {
#pragma omp parallel for if (N * C > (1 << 15))
  for (int64_t n = 0; n < N; n++) {
    const TW* row = table + static_cast<int64_t>(ids[n]) * C;  // (C)
    float* o = out + n * C;                                       // (C)
#pragma omp simd
    for (int64_t c = 0; c < C; c++) o[c] = to_f32(row[c]);
  }
}

void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t N, int64_t C) {
  lookup(out, ids, table, N, C);
}

void embedding_forward_bf16(float* out, const int32_t* ids, const uint16_t* table, int64_t N, int64_t C) {
  lookup(out, ids, table, N, C);
}

// Positions grouped by id: the positions holding id v are order[start[v] .. start[v+1]), ascending.
// `used` lists the ids that occur, so the parallel loop visits only rows that receive gradient.
struct IdBuckets {
  std::vector<int64_t> start;  // (V+1)
  std::vector<int64_t> order;  // (N)
  std::vector<int32_t> used;
};

static IdBuckets bucket_by_id(const int32_t* ids, int64_t N, int64_t V) {
  IdBuckets b;
  b.start.assign(V + 1, 0);
  b.order.resize(N);
  for (int64_t n = 0; n < N; n++) b.start[ids[n] + 1]++;
  for (int64_t v = 0; v < V; v++) {
    if (b.start[v + 1] > 0) b.used.push_back(static_cast<int32_t>(v));
    b.start[v + 1] += b.start[v];
  }
  std::vector<int64_t> fill(b.start.begin(), b.start.end() - 1);
  for (int64_t n = 0; n < N; n++) b.order[fill[ids[n]]++] = n;  // stable: ascending n within a bucket
  return b;
}

void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t N, int64_t C, int64_t V) {
  IdBuckets b = bucket_by_id(ids, N, V);
  const int64_t U = static_cast<int64_t>(b.used.size());
#pragma omp parallel for schedule(dynamic, 16) if (N * C > (1 << 15))
  for (int64_t u = 0; u < U; u++) {
    const int32_t v = b.used[u];
    float* d = dtable + static_cast<int64_t>(v) * C;  // (C), owned by this thread alone
    for (int64_t k = b.start[v]; k < b.start[v + 1]; k++) {
      const float* g = dout + b.order[k] * C;  // (C)
#pragma omp simd
      for (int64_t c = 0; c < C; c++) d[c] += g[c];
    }
  }
}

template <typename TW>
static void lookup_tokens_and_positions(float* out, const int32_t* ids, const TW* wte, const TW* wpe, int64_t B,
                                        int64_t T, int64_t C) {
#pragma omp parallel for collapse(2) if (B * T * C > (1 << 15))
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < T; t++) {
      float* o = out + (b * T + t) * C;                              // (C)
      const TW* tok = wte + static_cast<int64_t>(ids[b * T + t]) * C;  // (C)
      const TW* pos = wpe + t * C;                                   // (C)
#pragma omp simd
      for (int64_t c = 0; c < C; c++) o[c] = to_f32(tok[c]) + to_f32(pos[c]);
    }
  }
}

void embed_tokens_and_positions_forward(float* out, const int32_t* ids, const float* wte, const float* wpe,
                                        int64_t B, int64_t T, int64_t C) {
  lookup_tokens_and_positions(out, ids, wte, wpe, B, T, C);
}

void embed_tokens_and_positions_forward_bf16(float* out, const int32_t* ids, const uint16_t* wte, const uint16_t* wpe,
                                             int64_t B, int64_t T, int64_t C) {
  lookup_tokens_and_positions(out, ids, wte, wpe, B, T, C);
}

void embed_tokens_and_positions_backward(float* dwte, float* dwpe, const float* dout, const int32_t* ids,
                                         int64_t B, int64_t T, int64_t C, int64_t V) {
  if (dwte) embedding_backward(dwte, dout, ids, B * T, C, V);
  if (dwpe) {
    // Row t of dwpe sums the B rows dout[:, t, :], in order b = 0, 1, …: one thread per t.
#pragma omp parallel for if (B * T * C > (1 << 15))
    for (int64_t t = 0; t < T; t++) {
      float* d = dwpe + t * C;  // (C)
      for (int64_t b = 0; b < B; b++) {
        const float* g = dout + (b * T + t) * C;  // (C)
#pragma omp simd
        for (int64_t c = 0; c < C; c++) d[c] += g[c];
      }
    }
  }
}

// ---- differentiable ops ---------------------------------------------------------------------

// "position 5 = (0, 5)": the flat index and the multi-index of element n of `shape`.
static std::string describe_position(int64_t n, const Shape& shape) {
  std::vector<int64_t> index(shape.ndim);
  int64_t rest = n;
  for (int d = shape.ndim - 1; d >= 0; d--) {
    index[d] = rest % shape[d];
    rest /= shape[d];
  }
  std::string s = std::to_string(n) + " = (";
  for (int d = 0; d < shape.ndim; d++) s += (d ? ", " : "") + std::to_string(index[d]);
  return s + ")";
}

static void require_ids_in_range(const Tensor& ids, int64_t V, const char* op) {
  const int32_t* p = ids.i32();
  for (int64_t n = 0; n < ids.numel(); n++) {
    if (p[n] < 0 || p[n] >= V) {
      throw std::out_of_range(std::string(op) + ": ids: expected every id in [0, " + std::to_string(V) +
                              ") (the table's rows), found id " + std::to_string(p[n]) + " at position " +
                              describe_position(n, ids.shape()) + " of ids " + ids.shape().str());
    }
  }
}

// A table the lookups accept: CPU f32, or CPU bf16 that requires no gradient (a frozen table).
static void require_table(const Tensor& t, const char* op, const char* arg) {
  if (t.defined() && t.dtype() == DType::bf16 && t.device() == Device::cpu) {
    if (t.requires_grad()) {
      throw std::invalid_argument(std::string(op) + ": " + arg + ": a bf16 table " + t.shape().str() +
                                  " must not require grad (bf16 tables are frozen: only f32 tables train)");
    }
    return;
  }
  require_cpu_f32(t, op, arg);
}

Tensor embedding(const Tensor& ids, const Tensor& table) {
  require_cpu_i32(ids, "embedding", "ids");
  require_table(table, "embedding", "table");
  require_ndim(table, 2, "embedding", "table");
  if (ids.ndim() >= kMaxDims) {
    throw std::invalid_argument("embedding: ids: expected at most " + std::to_string(kMaxDims - 1) +
                                " dimensions (the output adds one), found " + ids.shape().str());
  }
  const int64_t V = table.size(0), C = table.size(1), N = ids.numel();
  require_ids_in_range(ids, V, "embedding");
  Shape out_shape = ids.shape();
  out_shape.dims[out_shape.ndim++] = C;
  Tensor out = Tensor::empty(out_shape);  // ids.shape + (C)
  if (table.dtype() == DType::bf16) {
    embedding_forward_bf16(out.f32(), ids.i32(), table.bf16(), N, C);
    return out;  // frozen: nothing to record
  }
  embedding_forward(out.f32(), ids.i32(), table.f32(), N, C);
  if (should_record({&table})) {
    record("embedding", out, [ids, table, N, C, V](const Tensor& dout) {
      embedding_backward(table.grad_ref().f32(), dout.f32(), ids.i32(), N, C, V);
    });
  }
  return out;
}

Tensor embed_tokens_and_positions(const Tensor& ids, const Tensor& wte, const Tensor& wpe) {
  const char* op = "embed_tokens_and_positions";
  require_cpu_i32(ids, op, "ids");
  require_ndim(ids, 2, op, "ids");
  require_table(wte, op, "wte");
  require_ndim(wte, 2, op, "wte");
  require_table(wpe, op, "wpe");
  require_ndim(wpe, 2, op, "wpe");
  if (wte.dtype() != wpe.dtype()) {
    throw std::invalid_argument(std::string(op) + ": wpe: expected the dtype of wte (" + dtype_name(wte.dtype()) +
                                "), found " + dtype_name(wpe.dtype()));
  }
  const int64_t B = ids.size(0), T = ids.size(1), V = wte.size(0), C = wte.size(1);
  if (wpe.size(1) != C) {
    throw std::invalid_argument(std::string(op) + ": wpe: expected " + std::to_string(C) +
                                " channels (as wte " + wte.shape().str() + "), found " + wpe.shape().str());
  }
  if (T > wpe.size(0)) {
    throw std::invalid_argument(std::string(op) + ": ids: expected T ≤ " + std::to_string(wpe.size(0)) +
                                " (the rows of wpe, the longest context), found T = " + std::to_string(T));
  }
  require_ids_in_range(ids, V, op);
  Tensor out = Tensor::empty({B, T, C});  // (B,T,C)
  if (wte.dtype() == DType::bf16) {
    embed_tokens_and_positions_forward_bf16(out.f32(), ids.i32(), wte.bf16(), wpe.bf16(), B, T, C);
    return out;  // frozen: nothing to record
  }
  embed_tokens_and_positions_forward(out.f32(), ids.i32(), wte.f32(), wpe.f32(), B, T, C);
  if (should_record({&wte, &wpe})) {
    record(op, out, [ids, wte, wpe, B, T, C, V](const Tensor& dout) {
      float* dwte = wte.requires_grad() ? wte.grad_ref().f32() : nullptr;
      float* dwpe = wpe.requires_grad() ? wpe.grad_ref().f32() : nullptr;
      embed_tokens_and_positions_backward(dwte, dwpe, dout.f32(), ids.i32(), B, T, C, V);
    });
  }
  return out;
}

Tensor positions(int64_t B, int64_t T) {
  if (B < 0 || T < 0) {
    throw std::invalid_argument("positions: expected B ≥ 0 and T ≥ 0, found B = " + std::to_string(B) +
                                ", T = " + std::to_string(T));
  }
  Tensor pos = Tensor::empty({B, T}, DType::i32);  // (B,T)
  int32_t* p = pos.i32();
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) p[b * T + t] = static_cast<int32_t>(t);
  return pos;
}

}  // namespace sog
