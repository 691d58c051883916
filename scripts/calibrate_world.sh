#!/usr/bin/env bash
# Measures the world's calibration (common/world/README.md, "Calibration, measured"): a base model
# of a few million parameters, trained a few CPU minutes on Tiny Shakespeare + the world's
# documents, then asked the held-out questions zero-shot and 3-shot. It is the pipeline's stages
# 01–02 alone (scripts/pipeline.sh --until 02), so the settings are the pipeline's own; the table is
# OUT/02_pretrain/report.md, printed at the end.
#
#   scripts/calibrate_world.sh [OUT]     (default runs/calibration; ~19 minutes on 2 cores)
#   CALIBRATION_STEPS=N                  the base model's steps (default: the pipeline's, 3000)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-runs/calibration}"
[[ -n "${CALIBRATION_STEPS:-}" ]] && export SMALL_STEPS="$CALIBRATION_STEPS"
"$root/scripts/pipeline.sh" --run "$out" --until 02
sed -n '/^### The base model answers questions/,$p' "$out/02_pretrain/report.md"
