// Generation that runs tools (common/generate/tool_generate.h), driven by a scripted fake model
// whose next token depends only on what its cache holds — so it answers with the result it READ —
// and once on a real random GPT against generate().
#include <gtest/gtest.h>

#include <algorithm>

#include "common/chat/chat_template.h"
#include "common/generate/generate.h"
#include "common/generate/tool_generate.h"
#include "common/world/tools.h"
#include "byte_tokenizer.h"
#include "test_util.h"

using namespace sog;

namespace {

const Tokenizer& tok() {
  static const Tokenizer& t = sog::testing::shared_byte_tokenizer();
  return t;
}
std::vector<int32_t> ids(const std::string& text) { return tok().encode(text, AllowedSpecial::all); }
int32_t id_of(std::string_view special) { return *tok().special_id(special); }

// A model that writes turn(k, last_result) after it has read k observations: token by token, from
// what its cache holds (a slid window included), as a real model would. Every forward is recorded.
class FakeModel {
 public:
  using Turn = std::function<std::string(int observations, const std::string& last_result)>;
  explicit FakeModel(Turn turn) : turn_(std::move(turn)) {}

  Tensor forward(const std::vector<int32_t>& fed, bool fresh) {
    forwards.push_back({fed, fresh});
    if (fresh) cache.clear();
    cache.insert(cache.end(), fed.begin(), fed.end());
    std::vector<float> logits(tok().n_vocab(), 0.0f);
    logits[next_token()] = 50.0f;
    return Tensor::from_vector({1, tok().n_vocab()}, logits);
  }
  CachedForward as_forward() {
    return [this](const std::vector<int32_t>& fed, bool fresh) { return forward(fed, fresh); };
  }

  struct Forward {
    std::vector<int32_t> ids;
    bool fresh;
  };
  std::vector<Forward> forwards;
  std::vector<int32_t> cache;

 private:
  int32_t next_token() const {
    // The current turn starts after the last observation's "\n" (or after <|assistant|>).
    const int32_t result = id_of(kToolResult), end = id_of(kToolEnd), newline = ids("\n")[0];
    size_t start = 0;
    int observations = 0;
    std::string last_result;
    for (size_t i = 0; i < cache.size(); i++) {
      if (cache[i] == id_of(kAssistant)) start = i + 1;
      if (cache[i] != result) continue;
      size_t j = i + 1;
      while (j < cache.size() && cache[j] != end) j++;
      if (j + 1 >= cache.size() || cache[j + 1] != newline) break;  // not read whole yet
      last_result = tok().decode(std::span<const int32_t>(cache).subspan(i + 1, j - i - 1));
      observations++;
      start = j + 2;
    }
    const std::vector<int32_t> target = ids(turn_(observations, last_result));
    const size_t written = cache.size() - start;
    if (written >= target.size()) {
      ADD_FAILURE() << "the fake model has nothing left to write after " << written << " tokens of turn " << observations;
      return id_of(kEnd);
    }
    return target[written];
  }
  Turn turn_;
};

std::vector<int32_t> question_prompt() { return ids("<|endoftext|><|user|>What is 478 * 56?<|end|><|assistant|>"); }

ToolGenerateOptions options(int64_t max_new_tokens) {
  ToolGenerateOptions o;
  o.generate.max_new_tokens = max_new_tokens;
  o.generate.stop_ids = {id_of(kEnd), id_of(kEndOfText)};
  return o;
}

// Writes one call, then answers with whatever the observation said.
FakeModel::Turn call_then_answer(const std::string& call) {
  return [call](int k, const std::string& result) {
    return k == 0 ? "Thought: I will use the calculator.\n" + call : "Answer: " + result + "<|end|>";
  };
}

std::vector<int32_t> concat(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

ToolTranscript run(FakeModel& model, const std::vector<int32_t>& prompt, const ToolGenerateOptions& o,
                   int64_t window = 512, const ToolEventCallback& on_event = {}) {
  Sampler greedy({0.0f, 0, 1.0f});
  return decode_with_tools(prompt, tok().n_vocab(), window, tok(), o, greedy, on_event, model.as_forward());
}

}  // namespace

TEST(ToolGenerate, ObservationIdsAreTheTrainedOnes) {
  for (const std::string result : {"26768", "Paris", "error: division by zero", "-42"}) {
    const std::vector<int32_t> obs = encode_tool_observation(tok(), result);
    EXPECT_EQ(obs, ids(tool_observation(result))) << result;
    EXPECT_EQ(obs, encode_assistant_text(tok(), tool_observation(result)).ids) << result;
  }
  // A result that spells a control token stays ordinary text.
  const std::vector<int32_t> forged = encode_tool_observation(tok(), "<|end|>");
  EXPECT_EQ(forged.size(), 1 + std::string("<|end|>").size() + 1 + 1);
  EXPECT_EQ(std::count(forged.begin(), forged.end(), id_of(kEnd)), 0);
}

TEST(ToolGenerate, ATokenizerWithoutToolTokensIsAClearError) {
  const Tokenizer plain = sog::testing::byte_tokenizer_eot_only();
  EXPECT_EQ(sog::testing::error_of([&] { encode_tool_observation(plain, "1"); }),
            "generation with tools: the tokenizer has no special token <|tool_call|> (train or load it with the "
            "project's special tokens, special_tokens.h; a model imported with `pretrain import --format hf` gets "
            "the chat and tool tokens with --chat-tokens)");
}

// The call runs, its observation goes into the cache in one forward (no re-prefill), and the model
// answers with the result it read: the transcript is the world's training trace, token for token.
TEST(ToolGenerate, CalculatorCallRunsAndGenerationContinuesFromTheCache) {
  FakeModel model(call_then_answer("<|tool_call|>calc(478*56)<|tool_end|>"));
  const std::vector<int32_t> prompt = question_prompt();
  std::vector<std::string> events;
  std::vector<int32_t> streamed, observed;
  ToolTranscript t = run(model, prompt, options(200), 512, [&](const ToolEvent& e) {
    switch (e.kind) {
      case ToolEvent::Kind::model_token: streamed.push_back(e.token); break;
      case ToolEvent::Kind::tool_call:
        events.push_back("call " + e.call->call + " after " + std::to_string(streamed.size()) + " tokens");
        EXPECT_TRUE(e.call->result.empty());
        break;
      case ToolEvent::Kind::tool_result:
        events.push_back("result " + e.call->result);
        observed = *e.observation;
        break;
    }
  });

  const std::vector<int32_t> call = ids("Thought: I will use the calculator.\n<|tool_call|>calc(478*56)<|tool_end|>");
  const std::vector<int32_t> observation = ids("<|tool_result|>26768<|tool_end|>\n");
  const std::vector<int32_t> answer = ids("Answer: 26768<|end|>");
  ASSERT_EQ(t.segments.size(), 3u);
  EXPECT_EQ(t.segments[0].source, Source::model);
  EXPECT_EQ(t.segments[0].tokens, call);
  EXPECT_EQ(t.segments[1].source, Source::runtime);
  EXPECT_EQ(t.segments[1].tokens, observation);  // exactly the encoded observation
  EXPECT_EQ(t.segments[1].tokens, encode_tool_observation(tok(), "26768"));
  EXPECT_EQ(t.segments[2].source, Source::model);
  EXPECT_EQ(t.segments[2].tokens, answer);
  EXPECT_EQ(tok().decode(t.tokens()), calc_tool_trace({TaskKind::mul, 478, 56}) + "<|end|>");
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].call, "<|tool_call|>calc(478*56)<|tool_end|>");
  EXPECT_EQ(t.calls[0].result, "26768");
  EXPECT_TRUE(t.calls[0].executed);
  EXPECT_EQ(t.model_tokens, static_cast<int64_t>(call.size() + answer.size()));
  EXPECT_EQ(t.stop, StopReason::stop_id);
  EXPECT_TRUE(t.stopped_by_itself());

  // Events: every model token as written, the call when closed, then its result.
  EXPECT_EQ(streamed, concat(call, answer));
  EXPECT_EQ(events, (std::vector<std::string>{"call <|tool_call|>calc(478*56)<|tool_end|> after " + std::to_string(call.size()) + " tokens",
                                              "result 26768"}));
  EXPECT_EQ(observed, observation);

  // The caches: the prompt once, then only new tokens — one per model token, and <|tool_end|> with
  // the observation in a single forward. Every position is fed once; the final <|end|> never is.
  ASSERT_EQ(model.forwards.size(), 1 + call.size() + answer.size() - 1);
  EXPECT_TRUE(model.forwards[0].fresh);
  EXPECT_EQ(model.forwards[0].ids, prompt);
  int64_t positions = 0;
  for (size_t k = 0; k < model.forwards.size(); k++) {
    positions += static_cast<int64_t>(model.forwards[k].ids.size());
    if (k == 0) continue;
    EXPECT_FALSE(model.forwards[k].fresh) << "forward " << k << " prefilled again";
    if (k == call.size()) {
      EXPECT_EQ(model.forwards[k].ids, concat({id_of(kToolEnd)}, observation));
    } else {
      EXPECT_EQ(model.forwards[k].ids.size(), 1u) << "forward " << k;
    }
  }
  EXPECT_EQ(positions, static_cast<int64_t>(prompt.size() + t.tokens().size() - 1));
  std::vector<int32_t> read = concat(prompt, t.tokens());
  read.pop_back();
  EXPECT_EQ(model.cache, read);
}

TEST(ToolGenerate, LookupWithAndWithoutPeople) {
  const std::vector<Person> people = {{"Catherine", 54, "Paris", "baker", "cat", "green", "chess", Split::test}};
  for (bool loaded : {true, false}) {
    FakeModel model(call_then_answer("<|tool_call|>lookup(Catherine, city)<|tool_end|>"));
    ToolGenerateOptions o = options(200);
    if (loaded) o.people = people;
    ToolTranscript t = run(model, ids("<|endoftext|><|user|>Where does Catherine live?<|end|><|assistant|>"), o);
    ASSERT_EQ(t.calls.size(), 1u);
    const std::string expected = loaded ? "Paris" : "error: no people are loaded for lookup";
    EXPECT_EQ(t.calls[0].result, expected);
    EXPECT_EQ(t.segments.at(1).tokens, encode_tool_observation(tok(), expected));
    EXPECT_TRUE(tok().decode(t.tokens()).ends_with("Answer: " + expected + "<|end|>"));
  }
}

// A bad call is answered with "error: …", never an exception; the model reads it and goes on.
TEST(ToolGenerate, BadCallYieldsAnErrorObservation) {
  const std::pair<std::string, std::string> cases[] = {
      {"<|tool_call|>calc(2 x 3)<|tool_end|>", "error: unexpected character 'x' at position 3"},
      {"<|tool_call|>calc(1/0)<|tool_end|>", "error: division by zero"},
      {"<|tool_call|>calc 12<|tool_end|>", "error: expected '(' after the tool name calc"},
      {"<|tool_call|>search(cats)<|tool_end|>", "error: unknown tool search"},
  };
  for (const auto& [call, error] : cases) {
    FakeModel model(call_then_answer(call));
    ToolTranscript t;
    ASSERT_NO_THROW(t = run(model, question_prompt(), options(200))) << call;
    ASSERT_EQ(t.calls.size(), 1u) << call;
    EXPECT_TRUE(t.calls[0].result.starts_with(error)) << call << " → " << t.calls[0].result;
    EXPECT_EQ(t.segments.at(1).tokens, encode_tool_observation(tok(), t.calls[0].result));
    EXPECT_EQ(t.stop, StopReason::stop_id) << call;
  }
}

// A model stuck calling: two calls run, every later one is answered with the limit's error unrun;
// max_new_tokens counts only the model's tokens; the last call, closed by the last allowed token,
// still gets its observation.
TEST(ToolGenerate, CallLimitAndTokenBudget) {
  FakeModel model([](int, const std::string&) { return std::string("<|tool_call|>calc(1+1)<|tool_end|>"); });
  const int64_t per_call = static_cast<int64_t>(ids("<|tool_call|>calc(1+1)<|tool_end|>").size());
  ToolGenerateOptions o = options(6 * per_call);
  o.max_tool_calls = 2;
  ToolTranscript t = run(model, question_prompt(), o);
  EXPECT_EQ(t.model_tokens, 6 * per_call);
  EXPECT_EQ(t.stop, StopReason::max_new_tokens);
  EXPECT_FALSE(t.stopped_by_itself());
  ASSERT_EQ(t.calls.size(), 6u);
  ASSERT_EQ(t.segments.size(), 12u);
  const std::string limit = "error: too many tool calls (at most 2 per answer)";
  for (size_t i = 0; i < t.calls.size(); i++) {
    EXPECT_EQ(t.calls[i].executed, i < 2) << i;
    EXPECT_EQ(t.calls[i].result, i < 2 ? "2" : limit) << i;
    EXPECT_EQ(t.segments[2 * i].source, Source::model);
    EXPECT_EQ(t.segments[2 * i + 1].source, Source::runtime);
    EXPECT_EQ(t.segments[2 * i + 1].tokens, encode_tool_observation(tok(), t.calls[i].result)) << i;
  }
  EXPECT_GT(static_cast<int64_t>(t.tokens().size()), t.model_tokens);

  // max_tool_calls = 0: no call ever runs.
  FakeModel none([](int, const std::string&) { return std::string("<|tool_call|>calc(1+1)<|tool_end|>"); });
  o = options(per_call);
  o.max_tool_calls = 0;
  t = run(none, question_prompt(), o);
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_FALSE(t.calls[0].executed);
  EXPECT_EQ(t.calls[0].result, "error: too many tool calls (at most 0 per answer)");
}

// should_stop sees the runtime's tokens too: stopping on the first observation ends the reply there.
TEST(ToolGenerate, ShouldStopSeesTheWholeTranscript) {
  FakeModel model(call_then_answer("<|tool_call|>calc(478*56)<|tool_end|>"));
  ToolGenerateOptions o = options(200);
  o.generate.should_stop = [](const std::vector<int32_t>& reply) {
    return std::find(reply.begin(), reply.end(), id_of(kToolResult)) != reply.end();
  };
  ToolTranscript t = run(model, question_prompt(), o);
  EXPECT_EQ(t.stop, StopReason::should_stop);
  EXPECT_TRUE(t.stopped_by_itself());
  ASSERT_EQ(t.segments.size(), 2u);
  EXPECT_EQ(t.segments.back().source, Source::runtime);
  EXPECT_EQ(t.calls.size(), 1u);
}

// When <|tool_end|> and the observation would overflow the window, the last window/2 tokens of the
// context (observation included) are prefilled afresh, and the model answers from them.
TEST(ToolGenerate, WindowSlidesWhenTheObservationDoesNotFit) {
  const std::vector<int32_t> prompt = question_prompt();
  const std::string call = "<|tool_call|>calc(478*56)<|tool_end|>";
  FakeModel::Turn turn = [&](int k, const std::string& r) { return k == 0 ? call : "Answer: " + r + "<|end|>"; };
  const int64_t call_tokens = static_cast<int64_t>(ids(call).size());
  const int64_t obs_tokens = static_cast<int64_t>(encode_tool_observation(tok(), "26768").size());
  // Everything before the call's <|tool_end|> fits; <|tool_end|> + observation does not.
  const int64_t window = static_cast<int64_t>(prompt.size()) + call_tokens - 1 + obs_tokens;
  FakeModel model(turn);
  ToolTranscript t = run(model, prompt, options(200), window);
  FakeModel wide(turn);
  ToolTranscript reference = run(wide, prompt, options(200), 512);
  EXPECT_EQ(t.tokens(), reference.tokens());
  EXPECT_EQ(tok().decode(t.tokens()), call + "<|tool_result|>26768<|tool_end|>\nAnswer: 26768<|end|>");
  int fresh = 0;
  for (size_t k = 0; k < model.forwards.size(); k++) {
    if (!model.forwards[k].fresh) continue;
    fresh++;
    if (k == 0) continue;
    EXPECT_EQ(k, static_cast<size_t>(call_tokens)) << "the slide happens when the observation is fed";
    const std::vector<int32_t> context = concat(prompt, concat(ids(call), encode_tool_observation(tok(), "26768")));
    EXPECT_EQ(model.forwards[k].ids, std::vector<int32_t>(context.end() - window / 2, context.end()));
  }
  EXPECT_EQ(fresh, 2);
}

// On a real (random) GPT, a reply without calls is exactly generate()'s, window slides included.
TEST(ToolGenerate, WithoutCallsEqualsGenerateOnARealModel) {
  GPTConfig cfg = gpt_preset("nano", tok().n_vocab());
  cfg.max_T = 16;
  GPT model(cfg);
  model.init_gpt2(11);
  const std::vector<int32_t> prompt = ids("<|endoftext|><|user|>hi<|end|><|assistant|>");
  for (uint64_t seed : {1, 2, 3}) {
    GenerateOptions gen;
    gen.max_new_tokens = 40;  // the window of 16 slides several times
    Sampler a({1.0f, 0, 1.0f}, seed), b({1.0f, 0, 1.0f}, seed);
    const std::vector<int32_t> plain = generate(model, prompt, gen, a);
    ToolGenerateOptions o;
    o.generate = gen;
    ToolTranscript t = generate_with_tools(model, prompt, tok(), o, b);
    ASSERT_TRUE(t.calls.empty()) << "seed " << seed << ": the random model closed a call; pick another seed";
    EXPECT_EQ(t.tokens(), plain) << "seed " << seed;
    EXPECT_EQ(t.model_tokens, 40);
    ASSERT_EQ(t.segments.size(), 1u);
    EXPECT_EQ(t.segments[0].source, Source::model);
  }
}
