#!/usr/bin/env bash
# Measures the world's calibration (common/world/README.md, "Calibration, measured"): a base model
# of a few million parameters, trained a few CPU minutes on Tiny Shakespeare + the world's
# documents, then asked the held-out questions zero-shot and 3-shot. The same settings as the
# pipeline's stages 01–02 (scripts/stages/), without the rest of the pipeline.
#
#   scripts/calibrate_world.sh [OUT]     (default runs/calibration; ~15 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-runs/calibration}"
steps="${CALIBRATION_STEPS:-3000}"
mkdir -p "$out"
scripts/setup.sh
scripts/get_data.sh --partial
cmake --preset release >/dev/null && cmake --build --preset release --target tokenizer pretrain
bin=build/release/bin
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

"$bin/tokenizer" world --out "$out/world"
# A 2048-token BPE trained on Shakespeare alone, which has no numbers: digits stay single tokens.
"$bin/tokenizer" train --input data/tinyshakespeare.txt --vocab-size 2048 --pattern gpt2 --out "$out/tokenizer"
"$bin/tokenizer" shard --tokenizer "$out/tokenizer" --input data/tinyshakespeare.txt \
  --input "$out/world/pretrain.txt" --weight 1 --weight 5 --val-fraction 0.05 --out "$out/shards"
"$bin/pretrain" train --data "$out/shards" --tokenizer "$out/tokenizer" --out "$out/base" \
  --preset small -B 16 -T 128 --steps "$steps" --lr 2e-3 --min-lr 2e-4 --warmup 100 \
  --beta2 0.99 --weight-decay 0.1 --grad-clip 1.0 --dropout 0 --eval-every 250 --eval-batches 20 \
  --sample-every 500 --sample-tokens 200

for shots in 0 3; do
  # Facts about people the model read (eval_seen); arithmetic and strings on the held-out test split.
  "$bin/pretrain" fewshot --model "$out/base/model.bin" --tokenizer "$out/tokenizer" \
    --eval "$out/world/eval_seen.jsonl" --shots "$shots" --max-per-task 50 --out "$out/facts_${shots}shot.json"
  "$bin/pretrain" fewshot --model "$out/base/model.bin" --tokenizer "$out/tokenizer" \
    --eval "$out/world/eval_test.jsonl" --shots-from "$out/world/eval_val.jsonl" --shots "$shots" --max-per-task 50 \
    --out "$out/test_${shots}shot.json"
done

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
chance = json.load(open(f"{out}/world/manifest.json"))["chance_level"]
print("| task | questions | chance | zero-shot | 3-shot |")
print("|---|---:|---:|---:|---:|")
for name, label in (("facts", "people it read"), ("test", "held-out test split")):
    runs = {shots: {t["task"]: t for t in json.load(open(f"{out}/{name}_{shots}shot.json"))["tasks"]} for shots in (0, 3)}
    for task, t in runs[3].items():
        print(f"| {task} ({label}) | {t['total']} | {chance[task]:.3f} | {runs[0][task]['accuracy']:.2f} | {t['accuracy']:.2f} |")
PY
