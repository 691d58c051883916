#include "common/nn/hf_gpt2.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "common/io/atomic_file.h"
#include "common/io/safetensors.h"
#include "common/nn/gpt_params.h"
#include "common/tokenizer/file_errors.h"

namespace sog {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
using tokenizer_files::field_error;

constexpr const char* kPrefix = "transformer.";
constexpr float kLayerNormEps = 1e-5f;  // the eps of our layernorm (ops/layernorm.h)

// "h.{l}.ln_1.weight", 3 → "h.3.ln_1.weight"
std::string layer_name(const std::string& pattern, int64_t l) {
  std::string s = pattern;
  if (const size_t at = s.find("{l}"); at != std::string::npos) s.replace(at, 3, std::to_string(l));
  return s;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

// One tensor of one layer (or of the model) as Hugging Face stores it: its name, its shape there,
// where its values sit in our flat buffer, and whether the two layouts are transposes.
struct HfTensor {
  std::string name;            // without "transformer."
  std::vector<int64_t> shape;  // Hugging Face's
  int64_t offset;              // into the flat parameter buffer
  int64_t rows, cols;          // our (rows, cols) = (out, in) for a matrix; (1, n) for a vector
  bool transposed;
};

// The parameter table (gpt_params.h) unrolled over layers. wte is given `hf_vocab` rows (the
// real vocabulary) of our Vp.
std::vector<HfTensor> hf_tensors(const GPTConfig& cfg, int64_t hf_vocab) {
  std::vector<HfTensor> out;
  int64_t offset = 0;
  for (const ParamSpec& p : gpt_param_specs(cfg)) {
    const int64_t L = p.per_layer ? p.shape[0] : 1;
    const int64_t per = p.shape.numel() / L;
    for (int64_t l = 0; l < L; ++l) {
      HfTensor t{layer_name(p.hf_name, l), {}, offset + l * per, 1, per, p.hf_transposed};
      const int inner = p.per_layer ? 1 : 0;  // the first dimension of one layer's slice
      if (p.shape.ndim - inner == 2) {
        t.rows = p.shape[inner];
        t.cols = p.shape[inner + 1];
        if (p.name == "wte") t.rows = hf_vocab;
        t.shape = p.hf_transposed ? std::vector<int64_t>{t.cols, t.rows} : std::vector<int64_t>{t.rows, t.cols};
      } else {
        t.shape = {per};
      }
      out.push_back(std::move(t));
    }
    offset += p.shape.numel();
  }
  return out;
}

}  // namespace

// ---- export -------------------------------------------------------------------------------------

void save_hf_gpt2(const std::string& dir, const GPT& model, std::optional<int32_t> eot_id,
                  std::optional<int32_t> end_id) {
  if (model.lora()) throw std::invalid_argument("save_hf_gpt2: a LoRA is attached; merge it into the weights first (LoRA::merge_into)");
  const GPTConfig& c = model.config();
  const float* params = model.params().f32();  // throws for a bf16-frozen base
  SafetensorsWriter st;
  st.set_metadata("format", "pt");  // transformers refuses a file without it
  std::vector<float> buf;
  for (const HfTensor& t : hf_tensors(c, c.V)) {
    const float* src = params + t.offset;
    buf.assign(src, src + t.rows * t.cols);
    if (t.transposed) {  // ours (out, in) → Conv1D's (in, out)
      for (int64_t r = 0; r < t.rows; ++r)
        for (int64_t k = 0; k < t.cols; ++k) buf[k * t.rows + r] = src[r * t.cols + k];
    }
    st.add_f32(kPrefix + t.name, t.shape, buf);
  }

  ojson config = {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}},
                  {"vocab_size", c.V}, {"n_positions", c.max_T}, {"n_ctx", c.max_T}, {"n_embd", c.C},
                  {"n_layer", c.L}, {"n_head", c.NH}, {"n_inner", nullptr},
                  {"activation_function", "gelu_new"}, {"layer_norm_epsilon", kLayerNormEps},
                  {"resid_pdrop", c.dropout}, {"embd_pdrop", c.dropout}, {"attn_pdrop", c.dropout},
                  {"initializer_range", 0.02}, {"scale_attn_weights", true},
                  {"scale_attn_by_inverse_layer_idx", false}, {"reorder_and_upcast_attn", false},
                  {"tie_word_embeddings", true}, {"use_cache", true}, {"torch_dtype", "float32"}};
  ojson generation = ojson::object();
  if (eot_id) {
    for (const char* key : {"bos_token_id", "eos_token_id"}) {
      config[key] = *eot_id;
      generation[key] = *eot_id;
    }
    if (end_id) generation["eos_token_id"] = {*eot_id, *end_id};
  }
  fs::create_directories(dir);
  st.write(dir + "/model.safetensors");
  write_file_atomic(dir + "/generation_config.json", generation.dump(2) + "\n");
  write_file_atomic(dir + "/config.json", config.dump(2) + "\n");
}

// ---- import -------------------------------------------------------------------------------------

namespace {

struct HfConfig {
  GPTConfig gpt;
  int64_t vocab_size = 0;
  bool tied = true;
};

HfConfig parse_config(const std::string& dir, int V) {
  const std::string file = dir + "/config.json";
  if (!fs::exists(file)) throw std::runtime_error(file + ": no such file (a Hugging Face model folder has config.json + model.safetensors)");
  const nlohmann::json j = tokenizer_files::parse_json_file(file, read_file(file));  // "file:line: …"
  if (!j.is_object()) throw std::runtime_error(file + ": expected a JSON object");
  auto has = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
  if (j.value("model_type", "") != "gpt2") {
    field_error(file, "model_type", "expected \"gpt2\", found " + (has("model_type") ? j["model_type"].dump() : std::string("none")) +
                                         " (only GPT-2's architecture maps onto ours)");
  }
  if (has("architectures")) {
    for (const auto& a : j["architectures"]) {
      if (a != "GPT2LMHeadModel" && a != "GPT2Model") {
        field_error(file, "architectures", "expected GPT2LMHeadModel (or GPT2Model), found " + a.dump() +
                                                " (a model with another head does not map onto a language model)");
      }
    }
  }
  auto positive = [&](const char* key) {
    if (!has(key) || !j[key].is_number_integer() || j[key].get<int64_t>() <= 0 || j[key].get<int64_t>() > (1 << 30)) {
      field_error(file, key, "expected a positive integer, found " + (j.contains(key) ? j[key].dump() : std::string("none")));
    }
    return static_cast<int>(j[key].get<int64_t>());
  };
  HfConfig h;
  h.gpt.C = positive("n_embd");
  h.gpt.NH = positive("n_head");
  h.gpt.L = positive("n_layer");
  h.gpt.max_T = positive("n_positions");
  h.vocab_size = positive("vocab_size");
  h.tied = j.value("tie_word_embeddings", true);
  // What this GPT computes, field by field; anything else is another network.
  const std::string act = j.value("activation_function", "gelu_new");
  if (act != "gelu_new" && act != "gelu_pytorch_tanh") {
    field_error(file, "activation_function", "expected \"gelu_new\" (GPT-2's tanh GELU, ops/gelu.h), found \"" + act + "\"");
  }
  const double eps = j.value("layer_norm_epsilon", 1e-5);
  if (std::abs(eps - kLayerNormEps) > 1e-12) field_error(file, "layer_norm_epsilon", "expected 1e-05 (ours), found " + j["layer_norm_epsilon"].dump());
  if (has("n_inner") && j["n_inner"] != 4 * h.gpt.C) {
    field_error(file, "n_inner", "expected null or 4·n_embd = " + std::to_string(4 * h.gpt.C) + ", found " + j["n_inner"].dump());
  }
  const std::pair<const char*, bool> flags[] = {{"scale_attn_weights", true}, {"scale_attn_by_inverse_layer_idx", false},
                                                {"reorder_and_upcast_attn", false}, {"add_cross_attention", false}};
  for (const auto& [key, ours] : flags) {
    if (j.contains(key) && j[key].is_boolean() && j[key].get<bool>() != ours) {
      field_error(file, key, std::string("expected ") + (ours ? "true" : "false") + " (our attention), found " + j[key].dump() +
                                  ": this variant is not implemented here");
    }
  }
  if (V > h.vocab_size) {
    field_error(file, "vocab_size", "the tokenizer has " + std::to_string(V) + " tokens but the model only " +
                                         std::to_string(h.vocab_size) + " embedding rows: they do not belong together");
  }
  h.gpt.V = V;
  h.gpt.Vp = padded_vocab(V);
  try {
    h.gpt.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(file + ": describes no model we can build: " + e.what());
  }
  return h;
}

std::string missing_weights_hint(const std::string& dir) {
  if (fs::exists(dir + "/model.safetensors.index.json")) return " (the weights are sharded: model.safetensors.index.json; save them as one file)";
  if (fs::exists(dir + "/pytorch_model.bin")) {
    return " (this folder has only pytorch_model.bin, a pickled PyTorch checkpoint, which is not read here: loading a pickle "
           "can run code. Convert it with transformers: GPT2LMHeadModel.from_pretrained(DIR).save_pretrained(DIR, "
           "safe_serialization=True))";
  }
  return "";
}

}  // namespace

HfGpt2Import load_hf_gpt2(const std::string& dir, int V) {
  const HfConfig h = parse_config(dir, V);
  const std::string file = dir + "/model.safetensors";
  if (!fs::exists(file)) throw std::runtime_error(file + ": no such file" + missing_weights_hint(dir));
  const SafetensorsFile st = SafetensorsFile::read(file);
  HfGpt2Import out{GPT(h.gpt), {}};
  float* params = out.model.params().f32();
  std::set<std::string> used, dtypes;

  auto lookup = [&](const std::string& name) -> const SafetensorsEntry* {
    for (const std::string& candidate : {kPrefix + name, name}) {
      if (const SafetensorsEntry* e = st.find(candidate)) {
        used.insert(candidate);
        return e;
      }
    }
    return nullptr;
  };
  auto require = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const SafetensorsEntry* e = lookup(name);
    if (!e) throw std::runtime_error(file + ": tensor \"" + kPrefix + name + "\" (or \"" + name + "\") is missing");
    if (e->shape != shape) {
      throw std::runtime_error(file + ": tensor \"" + e->name + "\": expected shape " + shape_str(shape) + " for " +
                               h.gpt.describe() + " with vocab_size " + std::to_string(h.vocab_size) + ", found " + shape_str(e->shape));
    }
    dtypes.insert(e->dtype);
    return std::pair{e, st.to_f32(*e)};
  };

  std::vector<float> wte;
  for (HfTensor t : hf_tensors(h.gpt, h.vocab_size)) {
    auto [e, values] = require(t.name, t.shape);
    if (t.name == "wte.weight") {
      wte = values;
      t.rows = V;  // the rows past the tokenizer's vocabulary are never produced: left out
    }
    float* dst = params + t.offset;
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t k = 0; k < t.cols; ++k) dst[r * t.cols + k] = t.transposed ? values[k * t.rows + r] : values[r * t.cols + k];
  }
  if (h.vocab_size > V) {
    out.notes.push_back("wte: rows " + std::to_string(V) + ".." + std::to_string(h.vocab_size - 1) +
                        " left out (vocab_size " + std::to_string(h.vocab_size) + ", the tokenizer makes " + std::to_string(V) + " ids)");
  }

  // The LM head: ours is wte. An untied head is accepted only when it holds wte's values.
  const bool has_head = lookup("lm_head.weight") != nullptr;  // tied: Hugging Face ignores its values too
  if (!h.tied) {
    if (!has_head) throw std::runtime_error(file + ": tensor \"lm_head.weight\" is missing, and config.json's tie_word_embeddings is false");
    auto [e, values] = require("lm_head.weight", {h.vocab_size, h.gpt.C});
    double max_diff = 0;
    for (size_t i = 0; i < values.size(); ++i) max_diff = std::max(max_diff, static_cast<double>(std::abs(values[i] - wte[i])));
    if (max_diff != 0) {
      throw std::runtime_error(file + ": tensor \"" + e->name + "\": tie_word_embeddings is false and the LM head differs from "
                               "wte (max |Δ| = " + std::to_string(max_diff) + "); our GPT ties its LM head to the token "
                               "embedding, so an untied head cannot be kept");
    }
  }
  for (const SafetensorsEntry& e : st.tensors()) {
    if (used.count(e.name)) continue;
    if (e.name.ends_with(".attn.bias") || e.name.ends_with(".attn.masked_bias")) continue;  // causal-mask buffers
    throw std::runtime_error(file + ": tensor \"" + e.name + "\" has no place in GPT-2's language model (another head or "
                             "architecture?); refusing rather than dropping it");
  }
  for (const std::string& d : dtypes) {
    if (d != "F32") out.notes.push_back(d + " weights widened to f32");
  }
  return out;
}

}  // namespace sog
