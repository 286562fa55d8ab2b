#!/bin/bash
# Whether a change keeps what a run computes: train the same tiny run with two versions of the code
# on one fixed cache, then compare with compare_runs.py (docs/reliability.md, "Refactors").
#
#   git worktree add /tmp/before <old commit>
#   bench/equivalence/train_and_predict.sh /tmp/before/src /tmp/eq/before
#   bench/equivalence/train_and_predict.sh $PWD/src /tmp/eq/after
#   .venv/bin/python bench/equivalence/compare_runs.py /tmp/eq/before /tmp/eq/after
#
# The cache ($WORK/cache, default /tmp/eq) is made once, by whichever version runs first, and both
# runs train on it: CFN-SR, MSAF and Concat+FC with their unimodal stages and refits (small preset,
# fold 0 of 8 synthetic actors), then `predict` on the three real CREMA-D clips.
set -e
SRC=$(cd "$1" && pwd); OUT=$2
HERE=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/eq}
VENV=${VENV:-$HERE/.venv}
SHARED=$(cd "${SHARED:-$HERE/../shared}" && pwd)
export PYTHONPATH=$SRC OMP_NUM_THREADS=1
cd /tmp  # not the checkout: PYTHONPATH alone decides which code runs
# `avemotion ARGS` with the code in $SRC (the venv's own avemotion is an editable install of another tree)
av() { "$VENV/bin/python" -c 'import sys; from avemotion.cli.main import run; sys.argv = ["avemotion", *sys.argv[1:]]; run()' "$@"; }
if [ ! -d "$WORK/cache" ]; then
  av synth "$WORK/synth" --actors 8 --seed 0 --size 160x120 --statements 1 --repetitions 1
  av prepare "$WORK/synth" --out "$WORK/cache" --frames 8 --size 48
fi
for m in cfn_sr msaf concat_fc; do
  av train --model $m --data "$WORK/cache" --preset small --folds 0 --unimodal-epochs 3 --epochs 2 --refit --out "$OUT/run"
done
av predict "$SHARED"/data/crema-d/*.flv --format json --run "$OUT/run" --model cfn_sr --no-progress -o "$OUT/predict.json"
