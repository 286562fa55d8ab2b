"""The run folder's layout: the one place that knows where a run keeps what. Training writes it,
evaluation and inference read it, all through `RunLayout`.

    RUN/run.json                      settings, models, where the unimodal stages live
    RUN/folds/fold_K.json             actors and clip ids of each split (the fold manifests)
    RUN/fold_K/<stage>/               best.safetensors + best.json (the selected checkpoint),
                                      metrics.json (test scores), last.ckpt (resume), stage.json
                                      (settings a partial stage started with), logs/
    RUN/cross/<dataset>-<identity>/   `evaluate --corpus`: the run's checkpoints scored on another
                                      corpus's cache (report.json, report.md)
    RUN/train.lock                    while a training writes into the run (pid and host)

A stage is a registered model name, or "<name>-refit" (trained on train + val actors for the epoch
count <name> selected). Unimodal stages ("video", "audio" and their refits) are shared by every
fusion model of a fold; they may live in another folder (`--unimodal-dir`), recorded in run.json
relative to the run folder so that a moved or copied run still finds them.

Which unimodal folder a reader uses (one rule for reports, `evaluate` and `predict`): the run's
own folder when it holds any unimodal stage, else the recorded folder when it exists, else the run
folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

UNIMODAL = ("video", "audio")
REFIT = "-refit"  # suffix of a refit stage's folder: fold_K/<stage>-refit


def base_stage(stage: str) -> str:
    return stage.removesuffix(REFIT)


def is_refit(stage: str) -> bool:
    return stage.endswith(REFIT)


def is_unimodal(stage: str) -> bool:
    return base_stage(stage) in UNIMODAL


@dataclass(frozen=True)
class RunLayout:
    root: Path  # the run folder
    unimodal_root: Path  # where fold_K/video and fold_K/audio (and their refits) live

    @classmethod
    def for_training(cls, root: str | Path, unimodal_dir: str | Path | None = None) -> "RunLayout":
        root = Path(root)
        return cls(root, Path(unimodal_dir) if unimodal_dir else root)

    @classmethod
    def read(cls, root: str | Path, run: dict | None = None) -> "RunLayout":
        """The layout of an existing run folder; `run` is its run.json (read here when None)."""
        from avemotion.utils.io import read_json

        root = Path(root)
        if run is None:
            run = read_json(root / "run.json") if (root / "run.json").exists() else {}
        return cls(root, _unimodal_root(root, run.get("unimodal_dir")))

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def lock(self) -> Path:
        """Held while a training writes into the run (utils.locks)."""
        return self.root / "train.lock"

    @property
    def folds_dir(self) -> Path:
        return self.root / "folds"

    def manifest(self, fold: int) -> Path:
        return self.folds_dir / f"fold_{fold}.json"

    def stage_dir(self, fold: int, stage: str) -> Path:
        base = self.unimodal_root if is_unimodal(stage) else self.root
        return base / f"fold_{fold}" / stage

    def best(self, fold: int, stage: str) -> Path:
        """The selected checkpoint's stem (best.safetensors + best.json)."""
        return self.stage_dir(fold, stage) / "best"

    def metrics(self, fold: int, stage: str) -> Path:
        return self.stage_dir(fold, stage) / "metrics.json"

    def cross_dir(self, corpus: str) -> Path:
        """Where the scores of this run on another corpus's cache go (`evaluate --corpus`)."""
        return self.root / "cross" / corpus

    def inside(self, path: Path) -> bool:
        """Whether `path` lies in the run folder (the only place a reader may write to)."""
        return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(self.root))

    def recorded_unimodal_dir(self) -> str:
        """run.json's "unimodal_dir": relative to the run folder ("." for the run itself)."""
        return os.path.relpath(os.path.abspath(self.unimodal_root), os.path.abspath(self.root))


def run_models(run: dict) -> list[str]:
    """The models a run's readers score: run.json's models, then the unimodal stages of a
    two-stage run that are not among them."""
    models = list(run.get("models", []))
    return models + [u for u in UNIMODAL if u not in models]


def scored_stage(stage: str, refit: bool) -> str:
    """The stage whose metrics a run's report shows for `stage`: its refit in a refit run."""
    return stage + REFIT if refit else stage


def _unimodal_root(root: Path, recorded: str | None) -> Path:
    own = (next(root.glob(f"fold_*/{stage}{suffix}/best.json"), None) for stage in UNIMODAL for suffix in ("", REFIT))
    if any(own):
        return root
    if recorded:
        path = Path(recorded)
        path = path if path.is_absolute() else root / path  # runs before relative recording hold absolute paths
        if path.exists():
            return path
    return root
