#!/usr/bin/env bash
# The README's first command, end to end, in a minute: scripts/pipeline.sh --no-setup on the built
# programs, every stage with a few steps, into a temporary run folder. Checks that each stage wrote
# its artifacts and its table, that the report gathers them, and that every training run learned
# something: all its losses finite, and its validation loss (the same batches each time) lower at
# the end than at step 0. (Beyond that, the figures of so short a run mean nothing; the chapters'
# READMEs quote the full run.)
#
#   BIN=build/release/bin tests/pipeline_short.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run="$(mktemp -d "${TMPDIR:-/tmp}/sog_pipeline_short.XXXXXX")"
part="$(mktemp -d "${TMPDIR:-/tmp}/sog_pipeline_until.XXXXXX")"
trap 'rm -rf "$run" "$part" "$run.log"' EXIT
export CHAR_STEPS=20 SMALL_STEPS=20 FEWSHOT_PER_TASK=2 SFT_STEPS=10 SFT_EVAL_PER_TASK=2
export RM_K=3 RM_TRAIN_PER_TASK=4 RM_HELDOUT_PER_TASK=2 RM_BEST_OF_N=2 RM_BEST_PER_TASK=1
export PPO_STEPS=3 PPO_BATCH=8 PPO_EVAL_PER_TASK=1 PPO_EVAL_SAMPLES=2 PPO_BEST_OF=2 PPO_LORA_STEPS=2
export PROMPT_PER_TASK=1 PROMPT_ARITH_PER_TASK=1 PROMPT_SC_SAMPLES=3 PROMPT_TOT_PER_TASK=1
export PROMPT_TOOLS_PER_TASK=1 PROMPT_RAG_PER_TASK=1
"$root/scripts/pipeline.sh" --run "$run" --no-setup > "$run.log" 2>&1 || { tail -40 "$run.log"; exit 1; }

fail=0
need_file() { [[ -s "$run/$1" ]] || { echo "missing or empty: $1"; fail=1; }; }
need_text() { grep -qF -- "$2" "$run/$1" || { echo "$1 lacks: $2"; fail=1; }; }

# --until stops after the stage named (scripts/calibrate_world.sh runs --until 02); a bad value is
# refused with the flag's name.
"$root/scripts/pipeline.sh" --run "$part" --until 01 --no-setup > "$run.log" 2>&1 || { tail -40 "$run.log"; exit 1; }
[[ -s "$part/01_tokenizer/report.md" && ! -e "$part/02_pretrain" ]] || { echo "--until 01 did not stop after stage 01"; fail=1; }
if "$root/scripts/pipeline.sh" --run "$part" --until two --no-setup > "$run.log" 2>&1 || ! grep -q -- "--until" "$run.log"; then
  echo "--until two was not refused with a clear error"; fail=1
fi
for f in tokenizer/tokenizer.json world/manifest.json world/pretrain.txt shards_mix/meta.json \
         02_pretrain/char/model.bin 02_pretrain/small/model.bin 02_pretrain/small/loss.svg \
         02_pretrain/fewshot_test_3shot.json 03_sft/full/model.bin 03_sft/lora/adapter.bin \
         03_sft/lora_merged.bin 03_sft/summary.json 04_reward/data_train/pairs.jsonl \
         04_reward/rm/model.bin 04_reward/rm/head.bin 04_reward/rm/config.json 04_reward/eval_heldout.json \
         04_reward/best_of_n.json 05_ppo/ppo_rm/model.bin 05_ppo/ppo_rm/config.json 05_ppo/ppo_rm/dashboard.svg \
         05_ppo/ppo_grader/metrics.jsonl 05_ppo/ppo_lora/adapter.bin 05_ppo/overoptimization.svg \
         05_ppo/eval_best_of_n.json 05_ppo/eval_ppo_rm.json 06_prompting/summary.json \
         06_prompting/fewshot.svg 06_prompting/self_consistency.svg 06_prompting/index_bm25/chunks.jsonl \
         06_prompting/index_sft_mean/index.vidx report.md; do
  need_file "$f"
done
need_text report.md "## 01 tokenizer"
need_text report.md "## 02 pretrain"
need_text report.md "| add (test split) |"
need_text report.md "| age (people it read) |"
need_text report.md "## 03 SFT"
need_text report.md "| **all (held-out)** |"
need_text report.md "## 04 reward model"
need_text report.md "| **all** |"
need_text report.md "## 05 PPO"
need_text report.md "| PPO with the grader |"
need_text report.md "](05_ppo/overoptimization.svg)"
need_text report.md "## 06 prompting"
need_text report.md "### Self-consistency (SFT, arithmetic)"
need_text report.md "### Tools (the calculator and lookup run inside generation)"
need_text report.md "### Retrieval-augmented generation (held-out people's facts)"
need_text report.md "### Prompt injection"
need_text 06_prompting/chat_example.txt "[retrieved]"
need_text shards_mix/meta.json '"weight": 5.0'
# Which CPU kernels ran, in the report and in every training run's summary.json.
need_text report.md "kernels on"
for r in 02_pretrain/char 02_pretrain/small 03_sft/full 03_sft/lora 04_reward/rm 05_ppo/ppo_rm; do
  need_text "$r/summary.json" '"cpu_isa"'
done

# Numbers, not just files: a run that trained to NaN (which the JSON log writes as null) or did not
# move fails here. The training loss is on a new batch each step, so with a few steps only the
# validation loss is a fair before/after comparison.
# (The reward model of so short a run trains on comparisons of an untrained assistant's noise, a few
# steps: its losses must be finite, its validation loss need not fall. PPO has no validation loss:
# its policy and value losses must be finite.)
for r in 02_pretrain/char 02_pretrain/small 03_sft/full 03_sft/lora 04_reward/rm 05_ppo/ppo_rm 05_ppo/ppo_grader; do
  python3 - "$run/$r/metrics.jsonl" "$r" <<'PY' || fail=1
import json, math, sys
path, name = sys.argv[1], sys.argv[2]
records = [json.loads(line) for line in open(path) if line.strip()]
bad = [(r.get("step"), k, r[k]) for r in records for k in ("train_loss", "val_loss", "value_loss")
       if k in r and not (isinstance(r[k], (int, float)) and math.isfinite(r[k]))]
if bad:
    sys.exit(f"{name}: non-finite losses (step, which, value): {bad[:5]}")
if sum("train_loss" in r for r in records) == 0:
    sys.exit(f"{name}: no training loss logged")
val = [r["val_loss"] for r in records if "val_loss" in r]
if name.startswith("04_") or name.startswith("05_"):
    print(f"{name}: {len(records)} steps, losses finite")
    sys.exit(0)
if len(val) < 2 or not val[-1] < val[0]:
    sys.exit(f"{name}: the validation loss did not fall: {val}")
print(f"{name}: {len(records)} steps, losses finite, validation loss {val[0]:.3f} -> {val[-1]:.3f}")
PY
done
(( fail == 0 )) && echo "pipeline_short: every stage wrote its artifacts and its table, and its losses fell"
exit "$fail"
