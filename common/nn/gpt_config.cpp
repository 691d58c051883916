#include "common/nn/gpt_config.h"

#include <stdexcept>

namespace sog {

int padded_vocab(int V) { return (V + 127) / 128 * 128; }

void GPTConfig::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("GPT config: " + what);
  };
  need(max_T > 0, "maxT must be positive, found " + std::to_string(max_T));
  need(V > 0, "V must be positive, found " + std::to_string(V));
  need(Vp >= V, "Vp must be >= V, found Vp=" + std::to_string(Vp) + " V=" + std::to_string(V));
  need(L > 0, "L must be positive, found " + std::to_string(L));
  need(NH > 0 && C > 0 && C % NH == 0,
       "C must be a positive multiple of NH, found C=" + std::to_string(C) + " NH=" + std::to_string(NH));
  need(dropout >= 0.0f && dropout < 1.0f, "dropout must be in [0, 1), found " + std::to_string(dropout));
}

std::string GPTConfig::describe() const {
  return "L=" + std::to_string(L) + " NH=" + std::to_string(NH) + " C=" + std::to_string(C) +
         " maxT=" + std::to_string(max_T) + " V=" + std::to_string(V) + " (Vp=" + std::to_string(Vp) + ")";
}

std::string gpt_config_mismatch(const GPTConfig& expected, const GPTConfig& found) {
  std::string s;
  auto field = [&](const char* name, int e, int f) {
    if (e != f) s += (s.empty() ? "" : "; ") + std::string(name) + ": expected " + std::to_string(e) + ", found " +
                     std::to_string(f);
  };
  field("L", expected.L, found.L);
  field("NH", expected.NH, found.NH);
  field("C", expected.C, found.C);
  field("maxT", expected.max_T, found.max_T);
  field("V", expected.V, found.V);
  field("Vp", expected.Vp, found.Vp);
  return s;
}

std::vector<std::string> gpt_preset_names() { return {"nano", "char-baby", "small", "gpt2"}; }

GPTConfig gpt_preset(const std::string& name, int V) {
  GPTConfig c;
  if (name == "nano") {
    c.L = 2, c.NH = 2, c.C = 32, c.max_T = 32;
  } else if (name == "char-baby") {
    c.L = 4, c.NH = 4, c.C = 128, c.max_T = 64;
  } else if (name == "small") {
    c.L = 6, c.NH = 6, c.C = 192, c.max_T = 256;
  } else if (name == "gpt2") {
    c.L = 12, c.NH = 12, c.C = 768, c.max_T = 1024;
  } else {
    std::string names;
    for (auto& n : gpt_preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown model preset '" + name + "' (expected one of: " + names + ")");
  }
  c.V = V;
  c.Vp = padded_vocab(V);
  c.validate();
  return c;
}

}  // namespace sog
