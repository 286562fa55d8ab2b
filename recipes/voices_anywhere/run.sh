#!/usr/bin/env bash
# Voices anywhere (issue 23): the figures of docs/results.md "Voices anywhere" and the shipped voice-v1.
# usage: recipes/voices_anywhere/run.sh [WORK]   (default work/; about 40 min on 2 cores, most of it
# openSMILE's first pass over nEMO's 4481 files; features are cached in each store)
set -euo pipefail
W=${1:-work}
A="avemotion voice"
S=../shared/data
V=$W/voice
R=$W/vruns
# 1. the corpora's speech (16 kHz, trimmed, -23 dBFS)
$A prepare $S/ravdess-speech --out $V/ravdess
$A prepare $S/emodb --out $V/emodb
$A prepare $S/nemo --out $V/nemo
for spec in egemaps_linear:100 egemaps_mlp:100 compare_linear:30; do
  m=${spec%:*}; e=${spec#*:}  # the ComParE linear model overfits within a few epochs: 30 suffice
  # 2. in-corpus: each corpus's own speaker folds, 3 seeds, selection on validation speakers
  $A train --data $V/ravdess --protocol speaker-folds --seeds 0,1,2 --model $m --epochs $e --lr 0.001 --out $R/ravdess-$m
  $A train --data $V/emodb --protocol speaker-folds --seeds 0,1,2 --model $m --epochs $e --lr 0.001 --out $R/emodb-$m
  # 3. trained without EmoDB (RAVDESS only), scored on every EmoDB and nEMO speaker
  $A train --data $V/ravdess --protocol all --seeds 0,1,2 --model $m --epochs $e --lr 0.001 --out $R/ravdess-all-$m
  $A evaluate $R/ravdess-all-$m --data $V/emodb
  $A evaluate $R/ravdess-all-$m --data $V/nemo
  # 4. leave one corpus out over three corpora and languages
  $A train --data $V/ravdess --data $V/emodb --data $V/nemo --protocol leave-one-corpus-out --seeds 0,1,2 --model $m \
      --epochs $e --lr 0.001 --out $R/loco3-$m
  # 5. the shipped model's recipe: RAVDESS + EmoDB, every speaker but the validation ones; scored on nEMO
  $A train --data $V/ravdess --data $V/emodb --protocol all --seeds 0,1,2 --model $m --epochs $e --lr 0.001 --out $R/re-all-$m
  $A evaluate $R/re-all-$m --data $V/nemo
done
# 6. the log-mel CNN (fold 0, one seed: its cost on 2 cores)
$A train --data $V/ravdess --protocol speaker-folds --seeds 0 --folds 0 --model voice_cnn --epochs 25 --out $R/ravdess-cnn-f0
# 7. export the chosen model (the best mean leave-one-corpus-out UAR on held-out RAVDESS and nEMO;
#    docs/results.md and its card say how it was chosen)
$A export $R/re-all-compare_linear --split all --seed 0 --out $W/voice-v1 --name voice-v1
