// The special tokens of the project, declared once. Every chapter that renders a document, a chat
// turn or a tool call spells these strings through the constants below.
//
//   <|endoftext|>                         separates documents (GPT-2's id 50256 when the GPT-2
//                                         files are loaded; right after the ranks otherwise)
//   <|system|> <|user|> <|assistant|> <|end|>   chat turns (chapter 03): a turn is
//                                         <|user|>text<|end|>
//   <|tool_call|> <|tool_result|> <|tool_end|>  tools (chapters 05-06):
//       <|tool_call|>calc(12*7)<|tool_end|><|tool_result|>84<|tool_end|>
//
// A special token is one id that never comes out of BPE: it is produced only when the caller
// encodes with AllowedSpecial::all (see tokenizer.h); otherwise the same characters are ordinary
// text and become several ordinary tokens.
#pragma once
#include <array>
#include <string_view>

namespace sog {

inline constexpr std::string_view kEndOfText = "<|endoftext|>";
inline constexpr std::string_view kSystem = "<|system|>";
inline constexpr std::string_view kUser = "<|user|>";
inline constexpr std::string_view kAssistant = "<|assistant|>";
inline constexpr std::string_view kEnd = "<|end|>";
inline constexpr std::string_view kToolCall = "<|tool_call|>";
inline constexpr std::string_view kToolResult = "<|tool_result|>";
inline constexpr std::string_view kToolEnd = "<|tool_end|>";

// In this order a trained tokenizer gives them ids n_ranks, n_ranks+1, ...
inline constexpr std::array<std::string_view, 8> kSpecialTokens = {
    kEndOfText, kSystem, kUser, kAssistant, kEnd, kToolCall, kToolResult, kToolEnd};

}  // namespace sog
