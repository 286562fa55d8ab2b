# The two commands of the README's quick start: `make demo` and `make test`.
# Both set up a virtual environment first (idempotent), so they work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
WORK   ?= work
# CPU wheel of torch (it lies on this machine's disk). On a GPU machine install the CUDA torch of
# your choice into the venv first; the package itself only asks for torch>=2.4.
TORCH  ?= torch==2.13.0

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING' || true
	$(BIN)/python -m pip install -q "$(TORCH)" 2>&1 | grep -v '^WARNING' || true
	$(BIN)/python -m pip install -q -e ".[dev]" 2>&1 | grep -v '^WARNING' || true
	$(BIN)/python -c "import torch, av, librosa, cv2, lightning, avemotion"
	touch $@

# The main job on the embedded default data: a synthetic RAVDESS-layout corpus (8 actors, 480 clips)
# plus the real CREMA-D clips in ../shared/data, prepared; CFN-SR trained with the small preset on
# 2 outer folds (actors never seen in training), its report printed; then `predict` on the real clips.
demo: setup
	$(BIN)/avemotion synth $(WORK)/synth --actors 8 --seed 0 --size 160x120 --workers 2
	$(BIN)/avemotion prepare $(WORK)/synth --out $(WORK)/cache --frames 8 --size 48
	$(BIN)/avemotion prepare ../shared/data/crema-d --out $(WORK)/cache-crema-d --pad-short
	$(BIN)/avemotion train --model cfn_sr --data $(WORK)/cache --preset small --folds 0,1 --out $(WORK)/runs/demo
	@echo "predict on the real CREMA-D clips (the demo model only saw drawn faces: this shows the path, not real-world accuracy)"
	$(BIN)/avemotion predict ../shared/data/crema-d/*.flv --run $(WORK)/runs/demo --pad-short --no-progress

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/bench_models.py
	$(BIN)/python bench/bench_cache.py
	$(BIN)/python bench/bench_predict.py

clean:
	rm -rf $(WORK)
