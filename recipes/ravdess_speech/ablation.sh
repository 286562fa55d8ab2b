#!/usr/bin/env bash
# What each option beyond the published recipe buys (docs/results.md, "Beyond the paper"): the
# paper preset plus ONE option, honest inner-validation selection, 6 folds of the real RAVDESS speech.
# `results.py OUT --ablation ...` tables them with their inner-validation accuracy, which is what the
# `improved` preset is chosen from (never the test figures).
#
#   recipes/ravdess_speech/ablation.sh CACHE OUT [SEEDS]          # SEEDS default "0"
#
# Two streams (the audio CNN trains on one thread); "speaker" is transductive (a test speaker's own
# unlabelled clips give its statistics) and is reported apart.
set -euo pipefail
CACHE=$1
OUT=$2
SEEDS=${3:-"0"}
AV=${AV:-avemotion}
one() {  # name, seed, options...
  local name=$1 s=$2; shift 2
  $AV train --model audio --data "$CACHE" --preset paper --seed "$s" "$@" --out "$OUT/${name}_s$s"
}
( for s in $SEEDS; do
    one base "$s"
    one norm "$s" --mfcc-norm train
    one mask "$s" --audio-augment mask
    one smooth "$s" --label-smoothing 0.1
  done ) > "$OUT/log_a.txt" 2>&1 &
( for s in $SEEDS; do
    one cosine "$s" --lr-schedule cosine
    one noise "$s" --audio-augment noise
    one tempo "$s" --audio-augment tempo
    one speaker "$s" --mfcc-norm speaker
  done ) > "$OUT/log_b.txt" 2>&1 &
wait
