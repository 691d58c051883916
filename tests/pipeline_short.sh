#!/usr/bin/env bash
# The README's first command, end to end, in a minute: scripts/pipeline.sh --no-setup on the built
# programs, every stage with a few steps, into a temporary run folder. Checks that each stage wrote
# its artifacts and its table, and that the report gathers them. (The figures of so short a run
# mean nothing; the chapters' READMEs quote the full run.)
#
#   BIN=build/release/bin tests/pipeline_short.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run="$(mktemp -d "${TMPDIR:-/tmp}/sog_pipeline_short.XXXXXX")"
part="$(mktemp -d "${TMPDIR:-/tmp}/sog_pipeline_until.XXXXXX")"
trap 'rm -rf "$run" "$part" "$run.log"' EXIT
export CHAR_STEPS=20 SMALL_STEPS=20 FEWSHOT_PER_TASK=2 SFT_STEPS=10 SFT_EVAL_PER_TASK=2
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
         03_sft/lora_merged.bin 03_sft/summary.json report.md; do
  need_file "$f"
done
need_text report.md "## 01 tokenizer"
need_text report.md "## 02 pretrain"
need_text report.md "| add (test split) |"
need_text report.md "| age (people it read) |"
need_text report.md "## 03 SFT"
need_text report.md "| **all (held-out)** |"
need_text shards_mix/meta.json '"weight": 5.0'
(( fail == 0 )) && echo "pipeline_short: every stage wrote its artifacts and its table"
exit "$fail"
