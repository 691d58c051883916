# Stage 02 — pretraining (sourced by scripts/pipeline.sh; defines stage_02_pretrain).
#
# uses:   BIN, RUN (stage 01's tokenizers and shards)
# writes: $RUN/02_pretrain/char   nanoGPT's CPU Shakespeare baseline: bytes, char-baby, 2000 steps
#         $RUN/02_pretrain/small  the `small` preset on the BPE tokenizer, pretrained on the
#                                 mixture (Tiny Shakespeare + the world's documents): the base
#                                 model later chapters start from (model.bin, samples.txt, loss.svg)
#         $RUN/02_pretrain/fewshot_*.json   the base model asked the world's questions, 0- and 3-shot
#         $RUN/02_pretrain/report.md
# Steps can be shortened for a quick look: CHAR_STEPS=200 SMALL_STEPS=300 scripts/pipeline.sh

stage_02_pretrain() {
  local out="$RUN/02_pretrain"
  mkdir -p "$out"
  local char_steps="${CHAR_STEPS:-2000}" small_steps="${SMALL_STEPS:-3000}" per_task="${FEWSHOT_PER_TASK:-50}"

  # nanoGPT's published CPU config (README "I only have a macbook"): val loss ≈ 1.88
  "$BIN/pretrain" train --data "$RUN/shards_bytes" --tokenizer "$RUN/tokenizer_bytes" --out "$out/char" \
    --preset char-baby -B 12 -T 64 --steps "$char_steps" --lr 1e-3 --min-lr 1e-4 --warmup 100 \
    --decay-steps "$char_steps" --beta2 0.99 --weight-decay 0.1 --grad-clip 1.0 --dropout 0 \
    --eval-every 250 --eval-batches 20 --sample-every 1000 --sample-tokens 300 | tee "$out/char.log"

  "$BIN/pretrain" train --data "$RUN/shards_mix" --tokenizer "$RUN/tokenizer" --out "$out/small" \
    --preset small -B 8 -T 256 --steps "$small_steps" --lr 2e-3 --min-lr 2e-4 --warmup 100 \
    --beta2 0.99 --weight-decay 0.1 --grad-clip 1.0 --dropout 0 \
    --eval-every 250 --eval-batches 20 --sample-every 500 --sample-tokens 200 | tee "$out/small.log"

  # The base model completes documents: a play if the prompt is a play, a Q/A sheet if it is one.
  "$BIN/pretrain" sample --model "$out/small/model.bin" --tokenizer "$RUN/tokenizer" --prompt $'ROMEO:\n' \
    --max-new-tokens 200 --temperature 0.8 --top-k 40 --seed 1 > "$out/sample_romeo.txt"
  "$BIN/pretrain" sample --model "$out/small/model.bin" --tokenizer "$RUN/tokenizer" --prompt $'Q: What is 12 + 7?\nA: 19\n' \
    --max-new-tokens 80 --temperature 0.8 --top-k 40 --seed 1 > "$out/sample_qa.txt"

  # The talk's few-shot trick: the same questions zero-shot and with 3 solved examples in the
  # prompt. Facts are asked about people the model read (eval_seen); arithmetic and strings come
  # from the held-out test split, with the examples drawn from the validation split.
  local shots
  for shots in 0 3; do
    "$BIN/pretrain" fewshot --model "$out/small/model.bin" --tokenizer "$RUN/tokenizer" \
      --eval "$RUN/world/eval_seen.jsonl" --shots "$shots" --max-per-task "$per_task" --out "$out/fewshot_facts_${shots}shot.json"
    "$BIN/pretrain" fewshot --model "$out/small/model.bin" --tokenizer "$RUN/tokenizer" \
      --eval "$RUN/world/eval_test.jsonl" --shots-from "$RUN/world/eval_val.jsonl" --shots "$shots" \
      --max-per-task "$per_task" --out "$out/fewshot_test_${shots}shot.json"
  done

  python3 - "$out" <<'PY' > "$out/report.md"
import json, math, sys, os
out = sys.argv[1]
print("## 02 pretrain\n")
print("| run | model | parameters | loss at step 0 | ln V | final val loss | best val loss | tokens/s | wall time |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name in ("char", "small"):
    s = json.load(open(os.path.join(out, name, "summary.json")))
    first = json.loads(open(os.path.join(out, name, "metrics.jsonl")).readline())
    V = int(s["model"].split("V=")[1].split(" ")[0])
    print(f"| {name} | {s['model']} | {s['parameters']:,} | {first['train_loss']:.3f} | {math.log(V):.3f} | "
          f"{s['final_val_loss']:.3f} | {s['best_val_loss']:.3f} | {s['tokens_per_s']:.0f} | {s['wall_time_s']:.0f} s |")
print("\nnanoGPT reports a validation loss of about 1.88 for the `char` configuration (Tiny Shakespeare, "
      "characters, 4 layers, 4 heads, 128 channels, block 64, batch 12, 2000 iterations).\n")
for name in ("char", "small"):
    print(f"![{name} loss]({name}/loss.svg)\n")
    samples = open(os.path.join(out, name, "samples.txt")).read().split("==== step ")
    last = samples[-1].split("\n", 1)
    print(f"A sample of `{name}` after step {last[0].strip(' =')}:\n")
    print("```\n" + last[1].strip()[:800] + "\n```\n")
for f, what in (("sample_romeo.txt", "prompted with `ROMEO:`"), ("sample_qa.txt", "prompted with one Q/A line")):
    print(f"The base model (`small`), {what} (temperature 0.8, top-k 40):\n")
    print("```\n" + open(os.path.join(out, f)).read().strip()[:700] + "\n```\n")

world = os.path.join(os.path.dirname(out), "world")
chance = json.load(open(os.path.join(world, "manifest.json")))["chance_level"]
print("### The base model answers questions: zero-shot vs few-shot\n")
print("Greedy accuracy of the base model (`small`), the question as a `Q: … A:` document, without and "
      "with 3 solved examples in the prompt. Facts: people it read about; arithmetic and strings: the "
      "held-out test split.\n")
print("| task | questions | chance | zero-shot | 3-shot |")
print("|---|---:|---:|---:|---:|")
facts = {"age", "city", "job", "pet", "color", "hobby"}
for name in ("facts", "test"):
    runs = {k: {t["task"]: t for t in json.load(open(os.path.join(out, f"fewshot_{name}_{k}shot.json")))["tasks"]}
            for k in (0, 3)}
    for task, t in runs[3].items():
        where = "people it read" if name == "facts" else "held-out people" if task in facts else "test split"
        print(f"| {task} ({where}) | {t['total']} | {chance[task]:.3f} | {runs[0][task]['accuracy']:.2f} | {t['accuracy']:.2f} |")
print()
PY
  echo "stage 02_pretrain: wrote $out/report.md"
}
