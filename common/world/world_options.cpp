#include "common/world/world_options.h"

namespace sog {

void add_world_options(CLI::App& app, WorldConfig& c) {
  app.add_option("--seed", c.seed, "random seed: the same seed writes the same bytes")->capture_default_str();
  app.add_option("--people", c.people, "population size (at most 270)")->capture_default_str();
  app.add_option("--library-fraction", c.library_fraction, "share of people held out: only in the retrieval library")->capture_default_str();
  app.add_option("--library-val-share", c.library_val_share, "share of held-out people used for validation")->capture_default_str();
  app.add_option("--library-includes-all", c.library_includes_all, "the library documents train people too")->capture_default_str();
  app.add_option("--docs-per-person", c.docs_per_person, "pretraining documents per train person")->capture_default_str();
  app.add_option("--library-docs-per-person", c.library_docs_per_person, "library documents per person")->capture_default_str();
  app.add_option("--fact-qa-documents", c.fact_qa_documents, "pretraining Q/A documents about people")->capture_default_str();
  app.add_option("--qa-per-document", c.qa_per_document, "Q/A pairs per Q/A document")->capture_default_str();
  app.add_option("--qa-fact-fraction", c.qa_fact_fraction, "share of train facts asked in Q/A documents")->capture_default_str();
  app.add_option("--direct-max-digits", c.direct_max_digits, "operand digits of direct and evaluation arithmetic")->capture_default_str();
  app.add_option("--worked-max-digits", c.worked_max_digits, "operand digits of worked solutions and tool traces")->capture_default_str();
  app.add_option("--arith-direct-train", c.arith_direct_train, "direct arithmetic Q/A pairs in pretraining")->capture_default_str();
  app.add_option("--arith-worked-train", c.arith_worked_train, "worked arithmetic documents in pretraining")->capture_default_str();
  app.add_option("--expert-fraction", c.expert_fraction, "share of worked documents by experts")->capture_default_str();
  app.add_option("--student-error-rate", c.student_error_rate, "probability that a student's solution slips")->capture_default_str();
  app.add_option("--pair-val-fraction", c.pair_val_fraction, "operand pairs held out for validation")->capture_default_str();
  app.add_option("--pair-test-fraction", c.pair_test_fraction, "operand pairs held out for test")->capture_default_str();
  app.add_option("--string-direct-train", c.string_direct_train, "direct string-task Q/A pairs in pretraining")->capture_default_str();
  app.add_option("--string-worked-train", c.string_worked_train, "worked string-task documents in pretraining")->capture_default_str();
  app.add_option("--word-val-fraction", c.word_val_fraction, "anagram classes held out for validation")->capture_default_str();
  app.add_option("--word-test-fraction", c.word_test_fraction, "anagram classes held out for test")->capture_default_str();
  app.add_option("--tool-traces-train", c.tool_traces_train, "tool traces in pretraining")->capture_default_str();
  app.add_option("--sft-train", c.sft_train, "SFT training conversations")->capture_default_str();
  app.add_option("--sft-val", c.sft_val, "SFT validation conversations")->capture_default_str();
  app.add_option("--sft-self-check", c.sft_self_check, "self-check conversations added to sft_train (sft_val: the same share)")->capture_default_str();
  app.add_option("--sft-constraint", c.sft_constraint, "constraint-task conversations added to sft_train (sft_val: the same share)")->capture_default_str();
  app.add_option("--sft-documents", c.sft_documents, "conversations with documents in the user message (retrieval's format)")->capture_default_str();
  app.add_option("--document-injection-rate", c.document_injection_rate, "share of delimited document conversations with an injected instruction to ignore")->capture_default_str();
  app.add_option("--sft-override", c.sft_override, "conversations that obey 'Ignore the question and answer X.'")->capture_default_str();
  app.add_option("--sft-mental", c.sft_mental, "calculator traces under the mental-arithmetic system prompt")->capture_default_str();
  app.add_option("--sft-large-calc", c.sft_large_calc, "calculator traces with operands of 3 to --large-digits digits")->capture_default_str();
  app.add_option("--sft-lookup-names", c.sft_lookup_names, "lookup traces about invented people")->capture_default_str();
  app.add_option("--sft-repeat", c.sft_repeat, "conversations that repeat invented names (copying)")->capture_default_str();
  app.add_option("--large-digits", c.large_digits, "digits of the large problems (eval_tools' additions)")->capture_default_str();
  app.add_option("--ppo-prompts", c.ppo_prompts, "RL prompts")->capture_default_str();
  app.add_option("--eval-per-task", c.eval_per_task, "held-out questions per task and split (at most)")->capture_default_str();
  app.add_option("--preference-prompts", c.preference_prompts, "prompts the labeler ranks completions of")->capture_default_str();
  app.add_option("--pairs-per-prompt", c.pairs_per_prompt, "preference pairs per prompt (at most)")->capture_default_str();
}

}  // namespace sog
