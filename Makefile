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

# (a variable: a comma inside $(call ...)'s arguments would split them)
CHECK_IMPORTS = $(BIN)/python -c "import torch, av, librosa, cv2, dlib, lightning, opensmile, fastapi, uvicorn, avemotion"

# $(call heartbeat,WHAT,COMMAND): COMMAND, and a line "setup: WHAT: N s so far" every 5 s while it
# runs, so a log shows that a quiet step (pip unpacking wheels) is alive and how long it has taken.
define heartbeat
( $(2) ) & p=$$!; s=0; while kill -0 $$p 2>/dev/null; do sleep 1; s=$$((s+1)); \
  if [ $$((s % 5)) -eq 0 ] && kill -0 $$p 2>/dev/null; then echo "setup: $(1): $$s s so far"; fi; done; wait $$p
endef

$(VENV)/.installed: pyproject.toml
	@echo "setup: 1/5 creating the virtual environment $(VENV) (a few seconds)"
	$(PYTHON) -m venv $(VENV)
	@echo "setup: 2/5 upgrading pip (a few seconds)"
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING' || true
	@echo "setup: 3/5 installing $(TORCH), the CPU wheel (about 30 s on 2 busy cores)"
	@$(call heartbeat,3/5 torch,$(BIN)/python -m pip install -q "$(TORCH)" 2>&1 | grep -v '^WARNING' || true)
	@echo "setup: 4/5 installing avemotion and its dependencies (about 2 min on 2 busy cores: a line per package collected, then unpacking)"
	@$(call heartbeat,4/5 unpacking and installing,$(BIN)/python -m pip install --progress-bar off -e ".[dev]" 2>&1 | grep --line-buffered -E '^(Collecting|ERROR)' || true)
	@echo "setup: 5/5 checking the imports (about 20 s: the first imports compile caches)"
	@$(call heartbeat,5/5 imports,$(CHECK_IMPORTS))
	@# Debian's chromium drives the web page's browser test (tests/inference/test_page_browser.py); best effort:
	@# without root or apt-get that test skips with a message saying so
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "note: chromium is not installed (needs root and apt-get): the browser test of the web page will skip"
	touch $@

# The main job on the embedded default data: a synthetic RAVDESS-layout corpus (8 actors, 120 clips:
# one statement and one repetition per emotion and intensity), the real CREMA-D clips and the real
# RAVDESS speech audio in ../shared/data, prepared; CFN-SR trained with the small preset (15 epochs per
# unimodal stage, 5 of fusion) on 2 outer folds of the synthetic corpus, the audio CNN on 2 outer folds
# of the real voices (actors never seen in training), their reports printed; then `predict` on real
# files. Trainings run one thread each (DEMO_THREADS): on 2 cores shared with other jobs, torch's
# threads waiting for each other made the same epochs up to 20 times slower.
DEMO_THREADS ?= 1
demo: setup
	$(BIN)/avemotion synth $(WORK)/synth --actors 8 --seed 0 --size 160x120 --statements 1 --repetitions 1 --workers 2
	$(BIN)/avemotion prepare $(WORK)/synth --out $(WORK)/cache --frames 8 --size 48
	$(BIN)/avemotion prepare ../shared/data/crema-d --out $(WORK)/cache-crema-d --pad-short
	$(BIN)/avemotion prepare ../shared/data/ravdess-speech --out $(WORK)/cache-speech --pad-short
	@echo "== 1. synthetic corpus (drawn faces, voice-like tones): CFN-SR, small preset, 2 folds of 2 unseen synthetic actors (30 test clips each, chance 12.5 %)"
	OMP_NUM_THREADS=$(DEMO_THREADS) $(BIN)/avemotion train --model cfn_sr --data $(WORK)/cache --preset small --folds 0,1 --unimodal-epochs 15 --epochs 5 --out $(WORK)/runs/demo
	@echo "== 2. REAL voices (RAVDESS speech, 24 actors): audio CNN, small preset, 2 folds of 6 unseen real actors (chance 12.5 %)"
	OMP_NUM_THREADS=$(DEMO_THREADS) $(BIN)/avemotion train --model audio --data $(WORK)/cache-speech --preset small --folds 0,1 --epochs 15 --out $(WORK)/runs/speech
	@echo "== 3. predict on the real CREMA-D clips with run 1 (it only saw drawn faces: this shows the path, not real-world accuracy)"
	$(BIN)/avemotion predict ../shared/data/crema-d/*.flv --run $(WORK)/runs/demo --pad-short --no-progress
	@echo "== 4. predict a real RAVDESS voice with run 2 (an actor of fold 0's test group, never trained on)"
	$(BIN)/avemotion predict ../shared/data/ravdess-speech/Actor_01/03-01-05-02-01-01-01.flac --run $(WORK)/runs/speech --fold 0 --no-progress
	@echo "== 5. no run at all: the shipped voice model (voice-v1, non-commercial) on voices it never heard: a Polish nEMO speaker (angry) and the CREMA-D clips' audio"
	$(BIN)/avemotion predict ../shared/data/nemo/audio/EB0_anger_1.opus ../shared/data/crema-d/*.flv --no-progress

test: setup
	$(BIN)/python -m pytest -q --durations=25

bench: setup
	$(BIN)/python bench/bench_models.py
	$(BIN)/python bench/bench_cache.py
	$(BIN)/python bench/bench_predict.py

clean:
	rm -rf $(WORK)
