#!/usr/bin/env bash
# The whole pipeline on the default data, stage by stage, as the talk goes:
#   01 tokenizer → 02 pretrain → 03 sft → 04 reward → 05 ppo → 06 prompting
# Each stage is scripts/stages/NN_name.sh (a function stage_NN_name); a stage whose chapter does not
# exist yet is simply absent. Every artifact lands in one run folder, and report.md gathers each
# stage's table (RUN/NN_name/report.md) at the end.
#
#   scripts/pipeline.sh [--run DIR] [--until NN] [--no-setup]     (default run folder: runs/default)
#
# Does its own set-up: missing Debian packages, configure, build, data. Where the third-party data
# cannot be had (no ../shared/data, no network) it runs on the project's own text instead and the
# report says so. --no-setup skips the set-up and runs the programs in $BIN (default
# build/release/bin) on the data already there, as tests/pipeline_short.sh does. --until NN stops
# after stage NN (the stages before it run too: each reads what the previous wrote).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
RUN="runs/default"
setup=1
until_stage=99
while (( $# )); do
  case "$1" in
    --run) RUN="$2"; shift 2 ;;
    --until)
      [[ "${2:-}" =~ ^[0-9][0-9]$ ]] || { echo "pipeline: --until expects a stage number such as 02, got '${2:-}'" >&2; exit 2; }
      until_stage="$2"; shift 2 ;;
    --no-setup) setup=0; shift ;;
    *) echo "pipeline: unknown argument '$1' (usage: scripts/pipeline.sh [--run DIR] [--until NN] [--no-setup])" >&2; exit 2 ;;
  esac
done
mkdir -p "$RUN"
RUN="$(cd "$RUN" && pwd)"

if (( setup )); then
  scripts/setup.sh
  scripts/get_data.sh --partial
  cmake --preset release >/dev/null
  cmake --build --preset release
  BIN="$root/build/release/bin"
else
  BIN="${BIN:-$root/build/release/bin}"
  for program in tokenizer pretrain sft reward ppo prompting; do
    [[ -x "$BIN/$program" ]] || { echo "pipeline --no-setup: $BIN/$program is not built" >&2; exit 1; }
  done
fi
DATA="$root/data"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

# The pretraining corpus: Tiny Shakespeare, else the project's own prose (its READMEs and design
# notes), so that every stage still runs end to end.
if [[ -f "$DATA/tinyshakespeare.txt" ]]; then
  CORPUS="$DATA/tinyshakespeare.txt"
  DATA_NOTE="Tiny Shakespeare (third-party, sha256 checked)."
else
  mkdir -p "$RUN/fallback"
  CORPUS="$RUN/fallback/project_text.txt"
  # (the folders are excluded from the checkout's root down, so a checkout that itself lives in a
  # folder named runs/ or build/ still finds its text)
  find "$root" -name '*.md' -not -path "$root/build/*" -not -path "$root/runs/*" -not -path "$root/data/*" | sort |
    xargs cat > "$CORPUS"
  DATA_NOTE="**Tiny Shakespeare could not be had (no ../shared/data, no network): this run uses the project's own text (its READMEs) as the corpus, so its figures are not comparable with the chapters' tables.**"
fi
export BIN DATA RUN CORPUS DATA_NOTE

stages=()
for f in scripts/stages/[0-9][0-9]_*.sh; do
  [[ -f "$f" ]] || continue
  (( 10#$(basename "$f" | cut -c1-2) <= 10#$until_stage )) || break
  # shellcheck source=/dev/null
  source "$f"
  name="$(basename "$f" .sh)"
  stages+=("$name")
  echo "==== stage $name ===="
  start=$(date +%s)
  "stage_$name"
  echo "==== stage $name done in $(( $(date +%s) - start )) s ===="
done

report="$RUN/report.md"
{
  echo "# stateofgpt — pipeline report"
  echo
  echo "Run folder: \`$(basename "$RUN")\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPU threads, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  # The CPU kernels the chapters ran (cpu_isa in each summary.json: common/cpu/isa.h).
  cpu_line="$(python3 - "$RUN" <<'PY'
import glob, json, sys
runs = {(s.get("cpu_isa"), s.get("cpu")) for f in sorted(glob.glob(f"{sys.argv[1]}/*/**/summary.json", recursive=True))
        for s in [json.load(open(f))] if "cpu_isa" in s}
print("; ".join(f"{isa} kernels on {cpu}" for isa, cpu in sorted(runs)) or "no CPU training ran")
PY
)"
  echo "CPU: $cpu_line (SOG_CPU=${SOG_CPU:-unset: the best this CPU runs})."
  echo
  echo "Data: $DATA_NOTE"
  echo
  if (( ${#stages[@]} == 0 )); then
    echo "No chapter exists yet: the pipeline built the library and fetched the data."
  fi
  for s in "${stages[@]}"; do
    if [[ -f "$RUN/$s/report.md" ]]; then
      # a stage's images are relative to its folder: relative to RUN here
      sed -E 's#!\[([^]]*)\]\(([^/:)][^:)]*)\)#![\1]('"$s"'/\2)#g' "$RUN/$s/report.md"
      echo
    fi
  done
} > "$report.tmp"
mv "$report.tmp" "$report"
echo "pipeline: report written to $report"
