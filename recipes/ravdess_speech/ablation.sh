#!/usr/bin/env bash
# What each option beyond the published recipe buys (docs/results.md, "Beyond the paper"), honest
# inner-validation selection, 6 folds of the real RAVDESS speech. The `improved` combination was
# fixed before any of these ran (all four options); it is not chosen from their test scores.
#
#   recipes/ravdess_speech/ablation.sh OUT [SINGLE_SEEDS] [IMPROVED_SEEDS]    # after run.sh (its cache)
set -euo pipefail
OUT=${1:-runs/ravdess_speech}
SINGLE=${2:-"0"}
IMPROVED=${3:-"0"}
AV=${AV:-avemotion}
CACHE=$(ls -d "$OUT"/cache/*/ | head -1)
train() { $AV train --model audio --data "$CACHE" --preset paper "$@"; }
single() {  # one option on top of the published recipe
  local s=$1 name=$2; shift 2
  train --seed "$s" "$@" --out "$OUT/${name}_s$s"
}
improved() {
  local s=$1 opts=(--mfcc-norm train --audio-augment mask --label-smoothing 0.1 --lr-schedule cosine)
  train --seed "$s" "${opts[@]}" --out "$OUT/improved_s$s"
  train --seed "$s" "${opts[@]}" --refit --unimodal-dir "$OUT/improved_s$s" --out "$OUT/improvedrefit_s$s"
}
# two streams (the audio CNN trains on one thread), in order of priority
( for s in $IMPROVED; do improved "$s"; done ) > "$OUT/log_improved.txt" 2>&1 &
( for s in $SINGLE; do
    single "$s" norm --mfcc-norm train
    single "$s" mask --audio-augment mask
    single "$s" smooth --label-smoothing 0.1
    single "$s" cosine --lr-schedule cosine
  done ) > "$OUT/log_singles.txt" 2>&1 &
wait
