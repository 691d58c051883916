# Stage 04 — reward model: comparisons of the SFT assistant's own samples, a reward model trained
# on them, and what it is worth before any RL (04_reward/README.md).
#
#   comparisons   K = 4 replies per prompt sampled from the SFT model, ranked by the world's
#                 labeler: the training prompts (ppo_prompts.jsonl) and held-out prompts
#                 (eval_test.jsonl: people, operands and words that appear in no training text)
#   reward model  the SFT model + a scalar head, one epoch over the training comparisons
#   its worth     held-out pairwise accuracy; the learning curve (10%, 30%, 100% of the
#                 comparisons); label noise (p = 0.1, 0.25); calibration; best-of-N
#
# Sizes can be shrunk for a quick run: RM_K, RM_TRAIN_PER_TASK, RM_HELDOUT_PER_TASK, RM_BEST_OF_N,
# RM_BEST_PER_TASK.

stage_04_reward() {
  local out="$RUN/04_reward"
  mkdir -p "$out"
  local sft="$RUN/03_sft/full/model.bin" tok="$RUN/tokenizer" world="$RUN/world"
  local k="${RM_K:-4}" heldout_per_task="${RM_HELDOUT_PER_TASK:-40}" n="${RM_BEST_OF_N:-16}"
  local best_per_task="${RM_BEST_PER_TASK:-20}" train_per_task="${RM_TRAIN_PER_TASK:-0}"
  if [[ ! -f "$sft" ]]; then
    echo "stage 04_reward: no SFT model at $sft (stage 03 writes it)" >&2
    return 1
  fi

  "$BIN/reward" data --model "$sft" --tokenizer "$tok" --prompts "$world/ppo_prompts.jsonl" --k "$k" \
    --max-per-task "$train_per_task" --out "$out/data_train" | tee "$out/data_train.log"
  "$BIN/reward" data --model "$sft" --tokenizer "$tok" --prompts "$world/eval_test.jsonl" --k "$k" \
    --max-per-task "$heldout_per_task" --seed 7 --out "$out/data_heldout" | tee "$out/data_heldout.log"

  local common=(--model "$sft" --tokenizer "$tok" --data "$out/data_train/rankings.jsonl"
                --val-data "$out/data_heldout/rankings.jsonl" --groups-per-step 8 --lr 3e-4 --min-lr 3e-5
                --warmup 10 --eval-every 25 --seed 1337)
  "$BIN/reward" train "${common[@]}" --out "$out/rm" | tee "$out/rm.log"
  "$BIN/reward" eval --model "$out/rm" --tokenizer "$tok" --data "$out/data_heldout/rankings.jsonl" \
    --out "$out/eval_heldout.json" --calibration "$out/calibration.svg" | tee "$out/eval_heldout.md"
  local variant
  for variant in "fraction:0.1" "fraction:0.3" "noise:0.1" "noise:0.25"; do
    local kind="${variant%%:*}" value="${variant#*:}"
    local flag="--data-fraction"
    [[ "$kind" == noise ]] && flag="--label-noise"
    "$BIN/reward" train "${common[@]}" "$flag" "$value" --out "$out/rm_${kind}_${value}" > "$out/rm_${kind}_${value}.log"
    "$BIN/reward" eval --model "$out/rm_${kind}_${value}" --tokenizer "$tok" \
      --data "$out/data_heldout/rankings.jsonl" --out "$out/eval_heldout_${kind}_${value}.json" > /dev/null
  done
  "$BIN/reward" best-of-n --model "$out/rm" --policy "$sft" --tokenizer "$tok" --prompts "$world/eval_test.jsonl" \
    --n "$n" --max-per-task "$best_per_task" --out "$out/best_of_n.json" | tee "$out/best_of_n.md"

  python3 - "$out" <<'PY' > "$out/report.md"
import json, os, sys
out = sys.argv[1]
def load(name): return json.load(open(os.path.join(out, name)))
ev = load("eval_heldout.json")
train, held = load("data_train/summary.json"), load("data_heldout/summary.json")
rm = load("rm/summary.json")
print("## 04 reward model\n")
print(f"Comparisons: {train['prompts']} training prompts × {train['k']} samples of the SFT model at temperature "
      f"{train['temperature']} → {train['pairs']} pairs from {train['prompts_with_pairs']} prompts; held out: "
      f"{held['prompts']} prompts → {held['pairs']} pairs. The reward model (the SFT model + a scalar head) trained "
      f"one epoch, {rm['config']['steps']} steps of {rm['config']['groups_per_step']} prompts, "
      f"{rm['pairs_per_s']:.0f} pairs/s, {rm['wall_time_s']:.0f} s.\n")
print("### Pairwise accuracy on held-out comparisons\n")
print("| task | pairs | accuracy | 95% interval | correct vs wrong: pairs | accuracy |")
print("|---|---:|---:|---|---:|---:|")
for task, t in sorted(ev["per_task"].items()):
    cw = ev.get("correct_vs_wrong", {}).get(task)
    lo, hi = t["accuracy_interval"]
    print(f"| {task} | {t['pairs']} | {t['accuracy']:.3f} | {lo:.2f}–{hi:.2f} | "
          f"{cw['pairs'] if cw else ''} | {format(cw['accuracy'], '.3f') if cw else ''} |")
lo, hi = ev["accuracy_interval"]
print(f"| **all** | {ev['pairs']} | **{ev['accuracy']:.3f}** | {lo:.2f}–{hi:.2f} | | |\n")
print("InstructGPT's reward model: 72.4% on its held-out comparisons (69.6% on held-out labelers).\n")
print("| trained on | held-out accuracy |\n|---|---:|")
for name, label in (("eval_heldout_fraction_0.1.json", "10% of the comparisons"),
                    ("eval_heldout_fraction_0.3.json", "30%"), ("eval_heldout.json", "100%"),
                    ("eval_heldout_noise_0.1.json", "100%, labels flipped with p = 0.1"),
                    ("eval_heldout_noise_0.25.json", "100%, labels flipped with p = 0.25")):
    print(f"| {label} | {load(name)['accuracy']:.3f} |")
print()
bo = load("best_of_n.json")
print("### Comparing vs generating, and best-of-N\n")
print("| task | SFT greedy accuracy (generating) | reward model on correct-vs-wrong pairs (comparing) |")
print("|---|---:|---:|")
for task, t in sorted(bo["per_task"].items()):
    cw = ev.get("correct_vs_wrong", {}).get(task)
    print(f"| {task} | {t['greedy']:.2f} | {format(cw['accuracy'], '.2f') + ' (' + str(cw['pairs']) + ' pairs)' if cw else '—'} |")
print()
print(f"Best-of-N on {bo['questions']} held-out prompts (true accuracy by the world's grader):\n")
print("| pick | accuracy | 95% interval | oracle: any of the n correct |\n|---|---:|---|---:|")
print(f"| SFT greedy | {bo['greedy_accuracy']:.3f} | | |")
for b in bo["best_of"]:
    label = "one sample" if b["n"] == 1 else f"best of {b['n']} by the reward model"
    lo, hi = b["accuracy_interval"]
    print(f"| {label} | {b['accuracy']:.3f} | {lo:.2f}–{hi:.2f} | {b['oracle']:.3f} |")
print("\n![calibration](calibration.svg)\n")
print("![reward model loss](rm/loss.svg)\n")
PY
  echo "stage 04_reward: wrote $out/report.md"
}
