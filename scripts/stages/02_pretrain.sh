# Stage 02 — pretraining (sourced by scripts/pipeline.sh; defines stage_02_pretrain).
#
# uses:   BIN, RUN (stage 01's tokenizers and shards)
# writes: $RUN/02_pretrain/char   nanoGPT's CPU Shakespeare baseline: bytes, char-baby, 2000 steps
#         $RUN/02_pretrain/small  the `small` preset on the BPE tokenizer: the base model later
#                                 chapters start from (model.bin, samples.txt, loss.svg, …)
#         $RUN/02_pretrain/report.md
# Steps can be shortened for a quick look: CHAR_STEPS=200 SMALL_STEPS=300 scripts/pipeline.sh

stage_02_pretrain() {
  local out="$RUN/02_pretrain"
  mkdir -p "$out"
  local char_steps="${CHAR_STEPS:-2000}" small_steps="${SMALL_STEPS:-1500}"

  # nanoGPT's published CPU config (README "I only have a macbook"): val loss ≈ 1.88
  "$BIN/pretrain" train --data "$RUN/shards_bytes" --tokenizer "$RUN/tokenizer_bytes" --out "$out/char" \
    --preset char-baby -B 12 -T 64 --steps "$char_steps" --lr 1e-3 --min-lr 1e-4 --warmup 100 \
    --decay-steps "$char_steps" --beta2 0.99 --weight-decay 0.1 --grad-clip 1.0 --dropout 0 \
    --eval-every 250 --eval-batches 20 --sample-every 1000 --sample-tokens 300 | tee "$out/char.log"

  "$BIN/pretrain" train --data "$RUN/shards" --tokenizer "$RUN/tokenizer" --out "$out/small" \
    --preset small -B 16 -T 128 --steps "$small_steps" --lr 1e-3 --min-lr 1e-4 --warmup 100 \
    --beta2 0.99 --weight-decay 0.1 --grad-clip 1.0 --dropout 0.1 \
    --eval-every 250 --eval-batches 20 --sample-every 500 --sample-tokens 200 | tee "$out/small.log"

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
PY
  echo "stage 02_pretrain: wrote $out/report.md"
}
