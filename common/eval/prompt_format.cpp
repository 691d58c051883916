#include "common/eval/prompt_format.h"

#include <stdexcept>

#include "common/chat/chat_template.h"
#include "common/tokenizer/special_tokens.h"
#include "common/world/grader.h"

namespace sog {

std::string_view prompt_format_name(PromptFormat format) {
  switch (format) {
    case PromptFormat::qa_fewshot: return "qa-fewshot";
    case PromptFormat::fewshot_doc: return "fewshot-doc";
    case PromptFormat::chat: return "chat";
    case PromptFormat::solution_doc: return "solution-doc";
  }
  return "?";
}

PromptFormat prompt_format_from_name(std::string_view name) {
  for (PromptFormat f : {PromptFormat::chat, PromptFormat::fewshot_doc, PromptFormat::qa_fewshot, PromptFormat::solution_doc})
    if (name == prompt_format_name(f)) return f;
  throw std::invalid_argument("unknown prompt format '" + std::string(name) +
                              "': expected chat, fewshot-doc, qa-fewshot or solution-doc");
}

void validate(const PromptOptions& options) {
  if (options.shots < 0) throw std::invalid_argument("--shots " + std::to_string(options.shots) + ": expected 0 or more");
  if (options.format == PromptFormat::qa_fewshot && !options.system.empty()) {
    throw std::invalid_argument("a system prompt has no place on a qa-fewshot sheet; use --mode chat or fewshot-doc");
  }
  if (!options.persona.empty() && options.persona != "expert" && options.persona != "student") {
    throw std::invalid_argument("--persona '" + options.persona + "': expected expert, student or none");
  }
  if (options.format != PromptFormat::solution_doc) {
    if (!options.persona.empty()) {
      throw std::invalid_argument("--persona " + options.persona + ": only a solution document names who solves");
    }
    return;
  }
  if (options.shots != 0 || !options.system.empty() || options.tools || options.chain_of_thought) {
    throw std::invalid_argument("a solution document is one worked solution: no examples, system prompt, tools or "
                                "chain-of-thought suffix");
  }
}

int shots_in_prompt(const PromptOptions& options) {
  return options.format == PromptFormat::chat || options.format == PromptFormat::solution_doc ? 0 : options.shots;
}

std::string system_prompt_of(const PromptOptions& options) {
  if (options.system.empty() && options.tools && !options.no_system && options.format != PromptFormat::qa_fewshot &&
      options.format != PromptFormat::solution_doc)
    return std::string(tools_system_prompt);
  return options.system;
}

AnswerFormat answer_format_of(const PromptOptions& options) {
  if (options.tools) return AnswerFormat::tool;
  return options.chain_of_thought || options.format == PromptFormat::solution_doc ? AnswerFormat::worked
                                                                                  : AnswerFormat::direct;
}

EvalPrompt build_prompt(const Tokenizer& tok, const PromptOptions& options, const SolvedExamples& shots,
                        const std::string& question) {
  const std::string asked = options.chain_of_thought ? question + std::string(step_by_step_suffix) : question;
  const std::string system = system_prompt_of(options);
  EvalPrompt p;
  if (options.format == PromptFormat::chat) {
    Chat chat;
    if (!system.empty()) chat.push_back({ChatRole::system, system});
    chat.push_back({ChatRole::user, asked});
    p.ids = render_for_completion(tok, chat);  // starts with <|endoftext|>
    p.page = tok.decode(std::span<const int32_t>(p.ids).subspan(1));
    return p;
  }
  if (options.format == PromptFormat::solution_doc) {
    // the pretraining documents' own layout (world.cpp): "Q: …\nExpert solution:\n" + the steps
    p.page = "Q: " + question + "\n";
    if (options.persona == "expert") p.page += "Expert solution:\n";
    if (options.persona == "student") p.page += "Student solution:\n";
  } else if (options.format == PromptFormat::qa_fewshot) {
    p.page = qa_sheet(shots, asked);
  } else {
    p.page = fewshot_assistant_document(shots, asked);
    if (!system.empty()) p.page.insert(kAssistantDocumentHeader.size(), system + "\n\n");
  }
  p.ids = tok.encode(p.page);
  p.ids.insert(p.ids.begin(), tok.eot_id());  // a new document starts
  return p;
}

// A worked reply in a document is over when the line holding "Answer:" has ended, or when the
// next question begins.
static bool worked_reply_over(std::string_view text, std::string_view next_question) {
  const size_t tag = text.find("Answer:");
  if (tag != std::string_view::npos && text.find('\n', tag) != std::string_view::npos) return true;
  return text.find(next_question) != std::string_view::npos;
}

ReplyRules reply_rules(const Tokenizer& tok, const PromptOptions& options, int64_t max_new_tokens) {
  ReplyRules r;
  r.format = answer_format_of(options);
  r.stop.max_new_tokens = max_new_tokens;
  r.stop.stop_ids = {tok.eot_id()};
  if (options.format == PromptFormat::chat) {
    r.turn_end = ChatTokens(tok).end;
    r.stop.stop_ids.push_back(r.turn_end);
  } else if (r.format == AnswerFormat::direct) {  // a document's reply is one line
    r.stop.should_stop = [&tok](const std::vector<int32_t>& ids) {
      return tok.decode_bytes(ids).find('\n') != std::string::npos;
    };
  } else {
    const std::string next = options.format == PromptFormat::fewshot_doc ? "\nUser:" : "\nQ:";
    r.stop.should_stop = [&tok, next](const std::vector<int32_t>& ids) {
      return worked_reply_over(tok.decode_bytes(ids), next);
    };
  }
  return r;
}

bool ReplyRules::ended_turn(const Answer& answer) const {
  return turn_end >= 0 ? answer.stop_id == turn_end : answer.stop_rule;
}

bool ReplyRules::well_formed(const Answer& answer) const {
  return ended_turn(answer) && is_well_formed(answer.text, format);
}

}  // namespace sog
