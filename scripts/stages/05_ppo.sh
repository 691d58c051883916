# Stage 05 — RLHF with PPO: the SFT policy pushed toward chapter 04's reward model (and, to see
# what a perfect reward does, toward the world's grader), a KL penalty keeping it near the SFT
# model; the chapter's table on held-out prompts, the dashboard, and over-optimisation
# (05_ppo/README.md).
#
#   ppo_rm        the reward model drives, β adaptive (target 6 nats, horizon 10,000)
#   ppo_grader    the grader's 1/0 drives, the same settings (the gold reward, always visible)
#   ppo_beta0     the reward model with no KL penalty            } over-optimisation: RM score and
#   ppo_beta_small the reward model with a small fixed β          } gold accuracy against √KL
#   ppo_lora      a few iterations with LoRA: the memory of four models on one copy of the weights
#   table         SFT, best-of-16 by the reward model, PPO (RM), PPO (grader) on eval_test.jsonl
#
# Sizes can be shrunk for a quick run: PPO_STEPS, PPO_BATCH, PPO_EVAL_PER_TASK, PPO_EVAL_SAMPLES,
# PPO_BEST_OF, PPO_LORA_STEPS.

stage_05_ppo() {
  local out="$RUN/05_ppo"
  mkdir -p "$out"
  local sft="$RUN/03_sft/full/model.bin" rm="$RUN/04_reward/rm" tok="$RUN/tokenizer" world="$RUN/world"
  local steps="${PPO_STEPS:-60}" batch="${PPO_BATCH:-32}" per_task="${PPO_EVAL_PER_TASK:-12}"
  local samples="${PPO_EVAL_SAMPLES:-8}" best="${PPO_BEST_OF:-16}" lora_steps="${PPO_LORA_STEPS:-4}"
  for f in "$sft" "$rm/config.json"; do
    [[ -f "$f" ]] || { echo "stage 05_ppo: $f is missing (stages 03 and 04 write it)" >&2; return 1; }
  done

  local common=(--policy "$sft" --reward-model "$rm" --tokenizer "$tok" --prompts "$world/ppo_prompts.jsonl"
                --batch-size "$batch" --minibatch 8 --ppo-epochs 4 --temperature 0.7
                --max-new-tokens 32 --value-lr 1e-4 --seed 1337)
  local full=(--steps "$steps" --lr 1e-5)
  "$BIN/ppo" train "${common[@]}" "${full[@]}" --reward rm --out "$out/ppo_rm" | tee "$out/ppo_rm.log"
  "$BIN/ppo" train "${common[@]}" "${full[@]}" --reward grader --out "$out/ppo_grader" | tee "$out/ppo_grader.log"
  "$BIN/ppo" train "${common[@]}" "${full[@]}" --reward rm --kl-coef 0 --kl-target 0 --out "$out/ppo_beta0" \
    > "$out/ppo_beta0.log"
  "$BIN/ppo" train "${common[@]}" "${full[@]}" --reward rm --kl-coef 0.01 --kl-target 0 \
    --out "$out/ppo_beta_small" > "$out/ppo_beta_small.log"
  "$BIN/ppo" train "${common[@]}" --steps "$lora_steps" --reward rm --lora-rank 8 --lr 1e-4 --out "$out/ppo_lora" \
    > "$out/ppo_lora.log"
  "$BIN/ppo" plot --run "β = 0=$out/ppo_beta0" --run "β = 0.01 fixed=$out/ppo_beta_small" \
    --run "β adaptive=$out/ppo_rm" --out "$out/overoptimization.svg"

  local eval=(--sft "$sft" --reward-model "$rm" --tokenizer "$tok" --prompts "$world/eval_test.jsonl"
              --samples "$samples" --max-per-task "$per_task" --temperature 0.7 --max-new-tokens 32 --seed 4242)
  echo "| model | RM score (95%) | gold accuracy (95%) | KL to SFT | entropy | distinct-2 | length |" > "$out/table.md"
  echo "|---|---|---|---:|---:|---:|---:|" >> "$out/table.md"
  "$BIN/ppo" eval "${eval[@]}" --policy "$sft" --label "SFT" --out "$out/eval_sft.json" >> "$out/table.md"
  "$BIN/ppo" eval "${eval[@]}" --policy "$sft" --best-of "$best" --label "SFT, best-of-$best by the RM" \
    --out "$out/eval_best_of_n.json" >> "$out/table.md"
  "$BIN/ppo" eval "${eval[@]}" --policy "$out/ppo_rm" --label "PPO with the RM" --out "$out/eval_ppo_rm.json" \
    >> "$out/table.md"
  "$BIN/ppo" eval "${eval[@]}" --policy "$out/ppo_grader" --label "PPO with the grader" \
    --out "$out/eval_ppo_grader.json" >> "$out/table.md"
  cat "$out/table.md"

  python3 - "$out" <<'PY' > "$out/report.md"
import json, os, sys
out = sys.argv[1]
def load(name): return json.load(open(os.path.join(out, name)))
rows = [("SFT", load("eval_sft.json")), (None, load("eval_best_of_n.json")),
        ("PPO with the RM", load("eval_ppo_rm.json")), ("PPO with the grader", load("eval_ppo_grader.json"))]
rm, gr, lora = load("ppo_rm/summary.json"), load("ppo_grader/summary.json"), load("ppo_lora/summary.json")
sft = rows[0][1]
print("## 05 PPO\n")
print(f"{rm['config']['steps']} iterations of {rm['config']['batch_size']} rollouts on the training prompts, "
      f"{rm['config']['ppo_epochs']} epochs of minibatches of {rm['config']['minibatch']}, temperature "
      f"{rm['config']['temperature']:.2g}, lr {rm['config']['lr']:g}, β adaptive from {rm['config']['kl_coef']:g} "
      f"(final {rm['final_kl_coef']:.4f}); {rm['wall_time_s']:.0f} s with the reward model, "
      f"{gr['wall_time_s']:.0f} s with the grader.\n")
print(f"Held-out prompts (eval_test.jsonl: {sft['questions']} questions × {sft['samples']} samples at temperature "
      f"{sft['temperature']:.2g}; intervals over prompts):\n")
print("| model | RM score | 95% | gold accuracy | 95% | KL to SFT (nats) | per-token entropy | distinct-2 | length |")
print("|---|---:|---|---:|---|---:|---:|---:|---:|")
for label, r in rows:
    label = label or f"SFT, best-of-{r['best_of']} by the RM"
    (a, b), (c, d) = r["rm_score_interval"], r["gold_accuracy_interval"]
    print(f"| {label} | {r['rm_score']:.3f} | {a:.2f}–{b:.2f} | {r['gold_accuracy']:.3f} | {c:.2f}–{d:.2f} | "
          f"{r['kl']:.3f} | {r['entropy']:.3f} | {r['distinct_2']:.3f} | {r['length']:.1f} |")
print()
tasks = sorted(sft["per_task"])
print("Gold accuracy per task:\n")
print("| task | " + " | ".join(l or f"best-of-{r['best_of']}" for l, r in rows) + " |")
print("|---|" + "---:|" * len(rows))
for t in tasks:
    print(f"| {t} | " + " | ".join(f"{r['per_task'][t]['gold_accuracy']:.2f}" for _, r in rows) + " |")
print()
ppo = rows[2][1]
print(f"Claim 7 (PPO with the RM ≥ SFT + 0.05 gold accuracy): {ppo['gold_accuracy']:.3f} vs "
      f"{sft['gold_accuracy']:.3f} + 0.05 → {'met' if ppo['gold_accuracy'] >= sft['gold_accuracy'] + 0.05 else 'not met'}.\n")
print(f"Claim 8 (RLHF loses entropy): per-token entropy {sft['entropy']:.3f} → {ppo['entropy']:.3f} (RM), "
      f"{rows[3][1]['entropy']:.3f} (grader); distinct-2 {sft['distinct_2']:.3f} → {ppo['distinct_2']:.3f}, "
      f"{rows[3][1]['distinct_2']:.3f}.\n")
t = rm["time_split_s"]
print(f"Speed (per iteration): rollout {t['rollout']:.2f} s, scoring {t['scoring']:.2f} s, update {t['update']:.2f} s; "
      f"sampling {rm['sample_tokens_per_s']:.0f} response tokens/s, the whole rollout phase "
      f"{rm['rollout_tokens_per_s']:.0f}. Peak memory: full {rm['peak_rss_mb']:.0f} MB "
      f"(weights, gradients and moments {rm['memory']['total_mb']:.0f} MB), LoRA {lora['peak_rss_mb']:.0f} MB "
      f"({lora['memory']['total_mb']:.0f} MB).\n")
print("![PPO dashboard (reward model)](ppo_rm/dashboard.svg)\n")
print("![over-optimisation](overoptimization.svg)\n")
PY
  echo "stage 05_ppo: wrote $out/report.md"
}
