#include "common/retrieval/embed.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/autograd/tape.h"

namespace sog {

const char* pooling_name(Pooling pooling) { return pooling == Pooling::mean ? "mean" : "last"; }

std::vector<int32_t> embedding_ids(const Tokenizer& tok, const std::string& text, int64_t max_T) {
  if (max_T < 2) {
    throw std::invalid_argument("embedding_ids: max_T: expected ≥ 2 (<|endoftext|> and one token of text), found " +
                                std::to_string(max_T));
  }
  if (text.empty()) throw std::invalid_argument("embedding_ids: the text is empty: nothing to embed");
  std::vector<int32_t> ids{tok.require_special_id(kEndOfText, "embedding_ids")};
  const std::vector<int32_t> body = tok.encode(text, AllowedSpecial::none);
  ids.insert(ids.end(), body.begin(), body.begin() + std::min<int64_t>(static_cast<int64_t>(body.size()), max_T - 1));
  return ids;
}

Tensor embed_texts(GPT& model, const Tokenizer& tok, const std::vector<std::string>& texts,
                   const EmbedOptions& options) {
  const int64_t N = static_cast<int64_t>(texts.size()), C = model.config().C;
  if (N == 0) throw std::invalid_argument("embed_texts: texts: expected at least one, found none");
  if (options.batch_rows < 1) {
    throw std::invalid_argument("embed_texts: batch_rows: expected ≥ 1, found " + std::to_string(options.batch_rows));
  }
  std::vector<std::vector<int32_t>> sequences(N);
  for (int64_t i = 0; i < N; i++) {
    if (texts[i].empty()) throw std::invalid_argument("embed_texts: text " + std::to_string(i) + " is empty: nothing to embed");
    sequences[i] = embedding_ids(tok, texts[i], model.config().max_T);
  }
  NoGradGuard no_grad;
  Tensor out = Tensor::empty({N, C});  // (N,C)
  for (int64_t start = 0; start < N; start += options.batch_rows) {
    const int64_t B = std::min(options.batch_rows, N - start);
    int64_t T = 0;
    for (int64_t r = 0; r < B; r++) T = std::max(T, static_cast<int64_t>(sequences[start + r].size()));
    std::vector<int32_t> ids(B * T, sequences[start][0]);  // padding: any real id, never seen nor pooled
    for (int64_t r = 0; r < B; r++) std::copy(sequences[start + r].begin(), sequences[start + r].end(), ids.begin() + r * T);
    const Tensor hidden = model.hidden(Tensor::from_ids({B, T}, ids));  // (B,T,C)
    for (int64_t r = 0; r < B; r++) {
      const int64_t len = static_cast<int64_t>(sequences[start + r].size());
      // Positions 1 … len−1 are the text's (0 is <|endoftext|>); last pooling reads len−1 alone.
      const int64_t first = options.pooling == Pooling::mean ? 1 : len - 1;
      std::vector<double> e(C, 0.0);
      for (int64_t t = first; t < len; t++) {
        const float* h = hidden.f32() + (r * T + t) * C;
        for (int64_t c = 0; c < C; c++) e[c] += h[c];
      }
      double norm2 = 0.0;
      for (double v : e) norm2 += v * v;
      const double inv = 1.0 / std::max(std::sqrt(norm2), 1e-30);  // the mean's scale cancels here
      float* row = out.f32() + (start + r) * C;
      for (int64_t c = 0; c < C; c++) row[c] = static_cast<float>(e[c] * inv);
    }
  }
  return out;
}

}  // namespace sog
