# shellcheck shell=bash
# Stage 01 — the tokenizer (sourced by scripts/pipeline.sh; defines stage_01_tokenizer).
#
# uses:   BIN (bin folder), DATA (data folder), RUN (run folder); CORPUS if the pipeline set one
# writes: $RUN/tokenizer        BPE, gpt2 pattern, 2048 ranks (+ 8 special tokens)
#         $RUN/tokenizer_bytes  256 byte tokens (+ 8 special tokens): the character-level baseline
#         $RUN/shards, $RUN/shards_bytes   Tiny Shakespeare in llm.c shards, last 10% = validation
#         $RUN/world                the verifiable world (common/world): documents, SFT, eval sets
#         $RUN/shards_mix           the pretraining mixture: Tiny Shakespeare + the world's
#                                   documents, sampled 1 : 5 (BPE tokens; last 5% = validation)
#         $RUN/01_tokenizer/report.md      vocabulary sizes and bytes/token of this run
#
# Why 2048: chapter 02 trains a few-million-parameter model for minutes on ~1 MB of text. The
# embedding table (and the tied classifier) costs n_vocab × C parameters, and a token must be seen
# often enough to learn its embedding: 2048 ranks already carry ~3 bytes/token on Shakespeare
# (sequences a third as long as with bytes) while each token still occurs hundreds of times.

stage_01_tokenizer() {
  local out="$RUN/01_tokenizer"
  mkdir -p "$out"
  local corpus note=""
  if [[ -f "$DATA/tinyshakespeare.txt" ]]; then
    corpus="$DATA/tinyshakespeare.txt"
  elif [[ -n "${CORPUS:-}" && -f "$CORPUS" ]]; then
    corpus="$CORPUS"
    note="Tiny Shakespeare is missing from $DATA: the tokenizers were trained and the shards written on $(basename "$corpus") instead."
  else
    echo "stage 01_tokenizer: no corpus (neither $DATA/tinyshakespeare.txt nor \$CORPUS)" >&2
    return 1
  fi
  # 2048, or smaller when the corpus is too small to allow that many merges (the fallback text)
  local vocab
  for vocab in 2048 1024 512 256; do
    if "$BIN/tokenizer" train --input "$corpus" --vocab-size "$vocab" --pattern gpt2 --out "$RUN/tokenizer" > "$out/train.log" 2>&1; then
      break
    fi
    note="$note The corpus is too small for a vocabulary of $vocab ($(tail -1 "$out/train.log" | sed 's/.*error: //')); trying $((vocab / 2))."
  done
  cat "$out/train.log"
  "$BIN/tokenizer" train --input "$corpus" --vocab-size 256 --pattern gpt2 --out "$RUN/tokenizer_bytes" | tee "$out/train_bytes.log"
  "$BIN/tokenizer" shard --tokenizer "$RUN/tokenizer" --input "$corpus" --val-fraction 0.1 --out "$RUN/shards"
  "$BIN/tokenizer" shard --tokenizer "$RUN/tokenizer_bytes" --input "$corpus" --val-fraction 0.1 --out "$RUN/shards_bytes"

  # The world every later chapter draws on, and the mixture the base model is pretrained on (as
  # LLaMA samples its sources by weight). The BPE was trained on Shakespeare alone, which has no
  # numbers: digits stay single tokens, so arithmetic is learnable digit by digit. The world is
  # weighted 5 : 1 because direct arithmetic is learned late and suddenly (after about 3.5 M tokens
  # of it in this mixture, common/world/README.md): at this weight 57% of the base model's tokens
  # are direct arithmetic Q/A.
  "$BIN/tokenizer" world --out "$RUN/world" | tee "$out/world.log"
  "$BIN/tokenizer" shard --tokenizer "$RUN/tokenizer" --input "$corpus" --input "$RUN/world/pretrain.txt" \
    --weight 1 --weight 5 --val-fraction 0.05 --out "$RUN/shards_mix"

  # bytes/token of each tokenizer on the corpus (and of GPT-2's, when its files are there)
  local rows="" name dir
  for name in tokenizer tokenizer_bytes gpt2; do
    if [[ "$name" == gpt2 ]]; then
      dir="$DATA/gpt2"
      [[ -f "$dir/encoder.json" && -f "$dir/vocab.bpe" ]] || { note="$note GPT-2's files are missing from $DATA/gpt2: its row is left out."; continue; }
    else
      dir="$RUN/$name"
    fi
    "$BIN/tokenizer" stats --tokenizer "$dir" --input "$corpus" > "$out/stats_$name.txt"
    local bpt tpw used
    bpt=$(sed -n 's/^bytes\/token: *//p' "$out/stats_$name.txt")
    tpw=$(sed -n 's/^tokens\/word: *\([0-9.]*\).*/\1/p' "$out/stats_$name.txt")
    used=$(sed -n 's/^ids used: *\([0-9]* \/ [0-9]*\).*/\1/p' "$out/stats_$name.txt")
    local label="$name"
    [[ "$name" == tokenizer ]] && label="BPE $vocab (gpt2 pattern, trained here)"
    [[ "$name" == tokenizer_bytes ]] && label="bytes 256"
    [[ "$name" == gpt2 ]] && label="GPT-2 50257 (OpenAI's)"
    rows+="| $label | $bpt | $tpw | $used |"$'\n'
  done
  local train_line
  train_line=$(grep '^time:' "$out/train.log" || true)
  {
    echo "## 01 tokenizer"
    echo
    echo "Corpus: \`$(basename "$corpus")\` ($(wc -c < "$corpus") bytes). Tokenizers: \`tokenizer/\` and \`tokenizer_bytes/\`; shards: \`shards/\`, \`shards_bytes/\` (last 10% of the tokens = validation)."
    [[ -n "$note" ]] && { echo; echo "**Note:** $note"; }
    echo
    echo "| tokenizer | bytes/token | tokens/word | ids used / n_vocab |"
    echo "|---|---:|---:|---:|"
    printf '%s' "$rows"
    echo
    echo "Training the $vocab-token BPE: $train_line"
    echo
    echo "The world (\`world/\`, common/world/README.md): $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); f=m["files"]; p=m["people"]; print(f"{p['train']}+{p['val']}+{p['test']} people (train+val+test), {f['pretrain.txt']['documents']} pretraining documents ({f['pretrain.txt']['bytes']} bytes), {f['sft_train.jsonl']['lines']} SFT conversations, {f['eval_test.jsonl']['lines']} test questions")' "$RUN/world/manifest.json" 2>/dev/null || echo "see world/manifest.json"). The pretraining mixture \`shards_mix/\` samples Tiny Shakespeare and the world's documents 1 : 5."
    echo
    echo "Shards (train + val tokens): BPE $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sources"][0]; print(s["train_tokens"], "+", s["val_tokens"])' "$RUN/shards/meta.json" 2>/dev/null || echo "see shards/meta.json"), bytes $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sources"][0]; print(s["train_tokens"], "+", s["val_tokens"])' "$RUN/shards_bytes/meta.json" 2>/dev/null || echo "see shards_bytes/meta.json")."
  } > "$out/report.md"
  echo "stage 01_tokenizer: wrote $out/report.md"
}
