# Stage 03 — supervised fine-tuning (sourced by scripts/pipeline.sh; defines stage_03_sft).
#
# uses:   BIN, RUN: the base model $RUN/02_pretrain/small/model.bin, its tokenizer $RUN/tokenizer,
#         the world $RUN/world (written here if stage 01 did not)
# writes: $RUN/03_sft/full          full fine-tuning (model.bin, loss.svg, samples.txt, summary.json)
#         $RUN/03_sft/lora          LoRA r=8 on all four matrices, base frozen in bf16 (adapter.bin, …)
#         $RUN/03_sft/lora_merged.bin  the adapter folded into the base (an ordinary checkpoint)
#         $RUN/03_sft/eval_*.json   per-task greedy accuracy of (a) base zero-shot chat, (b) base
#                                   few-shot assistant document, (c) full SFT, (d) LoRA SFT
#         $RUN/03_sft/report.md     the table
# Shorter for a quick look: SFT_STEPS=100 SFT_EVAL_PER_TASK=10 scripts/pipeline.sh

stage_03_sft() {
  local out="$RUN/03_sft"
  mkdir -p "$out"
  local base="$RUN/02_pretrain/small/model.bin" tok="$RUN/tokenizer" world="$RUN/world"
  local steps="${SFT_STEPS:-600}" per_task="${SFT_EVAL_PER_TASK:-50}"
  if [[ ! -f "$world/sft_train.jsonl" ]]; then
    "$BIN/tokenizer" world --out "$world"
  fi
  if [[ ! -f "$base" ]]; then
    echo "stage 03_sft: no base model at $base (stage 02 writes it)" >&2
    return 1
  fi

  local common=(--model "$base" --tokenizer "$tok" --data "$world/sft_train.jsonl" --val-data "$world/sft_val.jsonl"
                -B 8 --steps "$steps" --warmup 20 --grad-clip 1.0 --eval-every 50 --eval-batches 10 --samples 6
                --checkpoint-every 0 --seed 1337)
  # Full fine-tuning: every weight moves, a small learning rate (the base is already good at text).
  "$BIN/sft" train "${common[@]}" --lr 3e-4 --min-lr 3e-5 --out "$out/full" | tee "$out/full.log"
  # LoRA: only the adapters train, so they take a larger step; the frozen base is kept in bf16.
  # All four matrices of each block: on a small model, attention alone (qkv,attproj) underfits
  # (03_sft/README.md, "A short run").
  "$BIN/sft" train "${common[@]}" --lr 6e-3 --min-lr 6e-4 --lora-rank 8 --lora-alpha 16 --lora-dropout 0.05 \
    --lora-targets all --bf16-base --out "$out/lora" | tee "$out/lora.log"
  "$BIN/sft" merge --model "$base" --lora "$out/lora/adapter.bin" --out "$out/lora_merged.bin"

  # The table: held-out test questions (arithmetic and strings: unseen operand pairs and words;
  # facts: held-out people, unanswerable closed-book), facts about people the model read, and
  # training items (the RL prompts: operand pairs, words and people of the training split) — what
  # the base model had the chance to learn, so that a missing skill and a missing format separate.
  local evals=("test:$world/eval_test.jsonl" "seen:$world/eval_seen.jsonl" "train:$world/ppo_prompts.jsonl")
  for e in "${evals[@]}"; do
    local name="${e%%:*}" file="${e#*:}"
    local ev=(--tokenizer "$tok" --eval "$file" --max-per-task "$per_task")
    "$BIN/sft" eval --model "$base" "${ev[@]}" --mode chat --out "$out/eval_${name}_base_chat.json"
    "$BIN/sft" eval --model "$base" "${ev[@]}" --mode fewshot-doc --shots 3 --shots-from "$world/eval_val.jsonl" \
      --out "$out/eval_${name}_base_fewshot_doc.json"
    "$BIN/sft" eval --model "$out/full/model.bin" "${ev[@]}" --mode chat --out "$out/eval_${name}_full.json"
    "$BIN/sft" eval --model "$base" --lora "$out/lora/adapter.bin" "${ev[@]}" --mode chat --out "$out/eval_${name}_lora.json"
  done
  "$BIN/sft" chat --model "$out/full/model.bin" --tokenizer "$tok" --temperature 0 --prompt "What is 12 + 7?" \
    > "$out/chat_example.txt"
  # The calculator run inside generation (generate_with_tools): the tool trace SFT taught, executed.
  "$BIN/sft" chat --model "$out/full/model.bin" --tokenizer "$tok" --temperature 0 --tools --world "$world" \
    --prompt "What is 478 * 56?" > "$out/chat_tools_example.txt"

  python3 - "$out" "$world" <<'PY' > "$out/report.md"
import json, os, sys
out, world = sys.argv[1], sys.argv[2]
chance = json.load(open(os.path.join(world, "manifest.json")))["chance_level"]
cols = [("base_chat", "(a) base, zero-shot chat"), ("base_fewshot_doc", "(b) base, 3-shot assistant document"),
        ("full", "(c) full SFT"), ("lora", "(d) LoRA SFT")]
print("## 03 SFT\n")
print("Greedy accuracy per task, graded exactly by the world's grader. (a), (c), (d) ask in the chat format "
      "(`<|user|>QUESTION<|end|><|assistant|>`); (b) gives the base model a plain-text transcript of a helpful "
      "assistant with 3 solved examples of the same task.\n")
print("*Well-formed*: the reply has the assistant's format, right or wrong — the model stopped by itself "
      "(`<|end|>` in chat; the end of the line in a document) after one non-empty line.\n")
print("| task | questions | chance | " + " | ".join(c[1] for c in cols) + " |")
print("|---|---:|---:|" + "---:|" * len(cols))
for name, label in (("test", "held-out"), ("seen", "people it read"), ("train", "training items")):
    runs = {c: {t["task"]: t for t in json.load(open(os.path.join(out, f"eval_{name}_{c}.json")))["tasks"]} for c, _ in cols}
    facts = ("age", "city", "job", "pet", "color", "hobby")
    for task, t in runs["full"].items():
        if (name == "seen" and task not in facts) or name == "train": continue
        cells = " | ".join(f"{runs[c][task]['accuracy']:.2f}" for c, _ in cols)
        print(f"| {task} ({label}) | {t['total']} | {chance.get(task, 0):.3f} | {cells} |")
    total = {c: json.load(open(os.path.join(out, f"eval_{name}_{c}.json"))) for c, _ in cols}
    print(f"| **all ({label})** | {total['full']['total']} | | " + " | ".join(f"**{total[c]['accuracy']:.2f}**" for c, _ in cols) + " |")
    print(f"| *well-formed ({label})* | | | " + " | ".join(f"*{total[c]['well_formed_rate']:.2f}*" for c, _ in cols) + " |")
print("\n| run | trainable parameters | trainable % | weights file | model state in training | peak RSS | wall time | final val loss |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for run in ("full", "lora"):
    s = json.load(open(os.path.join(out, run, "summary.json")))
    print(f"| {run} | {s['trainable_parameters']:,} | {s['trainable_percent']:.2f}% | "
          f"{os.path.basename(s['weights_file'])} {s['weights_file_bytes'] / 1e3:,.0f} kB | "
          f"{s['training_state_bytes'] / 1e6:.2f} MB | {s['peak_rss_mb']:.0f} MB | "
          f"{s['wall_time_s']:.0f} s | {s['final_val_loss']:.3f} |")
print("\n*Model state in training*: the base's weights (bf16 matrices for LoRA's frozen base), their gradients "
      "(full only), the adapters and their gradients (LoRA), and AdamW's two moments of what trains. "
      "*Peak RSS* is the whole process (data, tokenizer, evaluation included).")
c = json.load(open(os.path.join(out, "full", "summary.json")))["config"]
print(f"\nSettings: {c['steps']} steps of B={c['B']} rows × T={c['T']} tokens (packed conversations); "
      "full: lr 3e-4; LoRA: r=8, α=16, dropout 0.05 on qkv, attproj, fc, fcproj, lr 6e-3, base frozen in bf16.\n")
for run in ("full", "lora"):
    print(f"![{run} loss]({run}/loss.svg)\n")
print("`sft chat --prompt \"What is 12 + 7?\"` with the full SFT model:\n")
print("```\n" + open(os.path.join(out, "chat_example.txt")).read().strip() + "\n```\n")
print("`sft chat --tools --world RUN/world --prompt \"What is 478 * 56?\"` with the full SFT model (the "
      "world's tool prompt as the system message; `[tool]` lines are the runtime's):\n")
print("```\n" + open(os.path.join(out, "chat_tools_example.txt")).read().strip() + "\n```")
PY
  # The same table, machine-readable: accuracy and well-formed rate per set, model and task, and
  # each SFT run's cost (trainable %, file size, memory, wall time).
  python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
table = {"sets": {}, "runs": {}}
for name in ("test", "seen", "train"):
    table["sets"][name] = {}
    for c in ("base_chat", "base_fewshot_doc", "full", "lora"):
        r = json.load(open(os.path.join(out, f"eval_{name}_{c}.json")))
        table["sets"][name][c] = {"accuracy": r["accuracy"], "well_formed_rate": r["well_formed_rate"],
                                  "total": r["total"], "tasks": {t["task"]: t["accuracy"] for t in r["tasks"]}}
for run in ("full", "lora"):
    s = json.load(open(os.path.join(out, run, "summary.json")))
    table["runs"][run] = {k: s[k] for k in ("trainable_parameters", "trainable_percent", "weights_file_bytes",
                                            "training_state_bytes", "peak_rss_mb", "wall_time_s", "final_val_loss")}
tmp = os.path.join(out, "summary.json.tmp")
json.dump(table, open(tmp, "w"), indent=1)
os.replace(tmp, os.path.join(out, "summary.json"))
PY
  echo "stage 03_sft: wrote $out/report.md and $out/summary.json"
}
