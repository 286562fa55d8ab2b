#!/usr/bin/env bash
# The paper's audio row ("1D CNN (Aud.)", 56.53 %) on the real RAVDESS speech audio, honestly and as
# published: 6 folds of 4 actors, paper preset (70 epochs, Adam 1e-3 constant, batch 16), seeds 0-2,
# four selection rules (val, refit, test-legacy, and the last epoch of the test-legacy training). Results: python recipes/ravdess_speech/results.py OUT > table.md
#
#   recipes/ravdess_speech/run.sh [OUT] [SEEDS]      # default OUT=runs/ravdess_speech, SEEDS="0 1 2"
#
# Each seed's runs are one stream; streams run in parallel (the audio CNN trains on one thread).
set -euo pipefail
OUT=${1:-runs/ravdess_speech}
SEEDS=${2:-"0 1 2"}
CORPUS=${CORPUS:-../shared/data/ravdess-speech}
AV=${AV:-avemotion}
# --pad-short: one clip (03-01-02-01-02-02-13, 2.94 s) is 10 ms shorter than the 2.95 s audio window
$AV prepare "$CORPUS" --out "$OUT/cache" --pad-short
CACHE=$(ls -d "$OUT"/cache/*/ | head -1)

stream() {
  local s=$1 common=(--model audio --data "$CACHE" --preset paper --seed "$1")
  $AV train "${common[@]}" --out "$OUT/val_s$s"                                    # honest: inner validation actors
  $AV train "${common[@]}" --refit --unimodal-dir "$OUT/val_s$s" --out "$OUT/refit_s$s"  # + refit on all 20 actors
  # published: best test-fold epoch, 20 actors; its metrics.json also scores the final epoch
  # ("last_epoch"), which is exactly a `--selection last` run (training does not depend on validation)
  $AV train "${common[@]}" --selection test-legacy --out "$OUT/legacy_s$s"
}
for s in $SEEDS; do stream "$s" > "$OUT/log_s$s.txt" 2>&1 & done
wait
