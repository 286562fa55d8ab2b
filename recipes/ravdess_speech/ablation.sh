#!/usr/bin/env bash
# What each option beyond the published recipe buys (docs/results.md, "Beyond the paper"), honest
# inner-validation selection, 6 folds of the real RAVDESS speech. The `improved` combination was
# fixed before any of these ran (all four options); it is not chosen from their test scores.
#
#   recipes/ravdess_speech/ablation.sh OUT [SINGLE_SEEDS] [IMPROVED_SEEDS]    # after run.sh (its cache)
set -euo pipefail
OUT=${1:-runs/ravdess_speech}
SINGLE=${2:-"0"}
IMPROVED=${3:-"0 1 2"}
AV=${AV:-avemotion}
CACHE=$(ls -d "$OUT"/cache/*/ | head -1)
train() { $AV train --model audio --data "$CACHE" --preset paper "$@"; }
singles() {
  for s in $SINGLE; do
    train --seed "$s" --mfcc-norm train --out "$OUT/norm_s$s"
    train --seed "$s" --audio-augment mask --out "$OUT/mask_s$s"
    train --seed "$s" --label-smoothing 0.1 --out "$OUT/smooth_s$s"
    train --seed "$s" --lr-schedule cosine --out "$OUT/cosine_s$s"
  done
}
improved() {
  for s in $IMPROVED; do
    opts=(--seed "$s" --mfcc-norm train --audio-augment mask --label-smoothing 0.1 --lr-schedule cosine)
    train "${opts[@]}" --out "$OUT/improved_s$s"
    train "${opts[@]}" --refit --unimodal-dir "$OUT/improved_s$s" --out "$OUT/improvedrefit_s$s"
  done
}
singles > "$OUT/log_singles.txt" 2>&1 &
improved > "$OUT/log_improved.txt" 2>&1 &
wait
