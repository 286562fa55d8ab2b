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
    RUN/report.{md,json}, confusion.*, curves.png   the report (evaluation.report)

Every file above is read and written here, as a typed record (RunRecord for run.json, StageResult for
metrics.json, StageStart for stage.json; best.* through models.checkpoint, the manifests through
data.folds' schema): nowhere else spells their names or reads their keys.

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
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from avemotion.errors import ConfigError
from avemotion.utils.io import read_json, write_json

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
    def read(cls, root: str | Path, run: "RunRecord | None" = None) -> "RunLayout":
        """The layout of an existing run folder; `run` is its record (read here when None)."""
        root = Path(root)
        if run is None:
            plain = cls(root, root)
            run = plain.read_run() if plain.has_run() else None
        return cls(root, _unimodal_root(root, run.unimodal_dir if run else None))

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

    def read_manifest(self, fold: int):
        """The fold's manifest (actors and clip ids per split) as a data.folds.Fold."""
        from avemotion.data.folds import fold_from_manifest

        return fold_from_manifest(read_json(self.manifest(fold)))

    def read_manifests(self) -> list:
        """Every fold's manifest, checked again on the way in (the test groups partition the actors)."""
        from avemotion.data.folds import check_folds

        indices = sorted(int(p.stem.split("_")[1]) for p in self.folds_dir.glob("fold_*.json"))
        if not indices:
            raise ConfigError(f"{self.folds_dir}: no fold_K.json manifests")
        folds = [self.read_manifest(k) for k in indices]
        check_folds(folds, {a for f in folds for a in f.test_actors})
        return folds

    def write_manifests(self, folds, records) -> None:
        from avemotion.data.folds import manifest_doc

        for fold in folds:
            write_json(self.manifest(fold.index), manifest_doc(fold, records))

    # run.json
    def has_run(self) -> bool:
        return self.run_json.exists()

    def read_run(self) -> "RunRecord":
        if not self.has_run():
            raise ConfigError(f"{self.root}: not a run folder (no run.json)")
        return RunRecord.from_dict(read_json(self.run_json))

    def write_run(self, record: "RunRecord") -> None:
        write_json(self.run_json, record.to_dict())

    # a stage's files
    def stage_dir(self, fold: int, stage: str) -> Path:
        base = self.unimodal_root if is_unimodal(stage) else self.root
        return base / f"fold_{fold}" / stage

    def best(self, fold: int, stage: str) -> Path:
        """The selected checkpoint's stem (best.safetensors + best.json)."""
        return self.stage_dir(fold, stage) / "best"

    def metrics(self, fold: int, stage: str) -> Path:
        return self.stage_dir(fold, stage) / "metrics.json"

    def last_checkpoint(self, fold: int, stage: str) -> Path:
        """Lightning's resume state of a stage in training (dropped once the stage is scored)."""
        return self.stage_dir(fold, stage) / "last.ckpt"

    def has_result(self, fold: int, stage: str) -> bool:
        return self.metrics(fold, stage).exists()

    def read_result(self, fold: int, stage: str) -> "StageResult":
        return StageResult.from_dict(read_json(self.metrics(fold, stage)))

    def write_result(self, result: "StageResult") -> None:
        write_json(self.metrics(result.fold, result.stage), result.to_dict())

    def is_done(self, fold: int, stage: str) -> bool:
        """A stage is done when it holds its scores and its selected checkpoint."""
        from avemotion.models.checkpoint import checkpoint_exists

        return self.has_result(fold, stage) and checkpoint_exists(self.best(fold, stage))

    def start(self, fold: int, stage: str) -> Path:
        """The settings a stage started with (StageStart), while it is partial and after."""
        return self.stage_dir(fold, stage) / "stage.json"

    def read_start(self, fold: int, stage: str) -> "StageStart | None":
        path = self.start(fold, stage)
        return StageStart.from_dict(read_json(path)) if path.exists() else None

    def write_start(self, fold: int, stage: str, start: "StageStart") -> None:
        write_json(self.start(fold, stage), start.to_dict())

    def has_start(self, fold: int, stage: str) -> bool:
        return self.start(fold, stage).exists()

    def checkpoint_meta(self, fold: int, stage: str) -> dict:
        """The selected checkpoint's metadata (best.json, models.checkpoint's record)."""
        from avemotion.models.checkpoint import read_checkpoint_meta

        return read_checkpoint_meta(self.best(fold, stage))

    def curves_dir(self, fold: int, stage: str) -> Path:
        """Lightning's CSV logs of a stage (one version per start or resume)."""
        return self.stage_dir(fold, stage) / "logs" / "csv"

    # what the folders hold
    def fold_indices(self) -> list[int]:
        """Every fold that has a folder, in the run or in its unimodal folder."""
        found = {int(m.group(1)) for d in {self.root, self.unimodal_root} if d.is_dir() for p in d.iterdir()
                 if p.is_dir() and (m := re.fullmatch(r"fold_(\d+)", p.name))}
        return sorted(found)

    def checkpoints(self) -> list[tuple[int, str]]:
        """(fold, stage) of every selected checkpoint: the run's stages and its unimodal folder's."""
        from avemotion.models.checkpoint import checkpoint_exists

        stages = {(k, p.name) for k in self.fold_indices() for d in {self.root, self.unimodal_root}
                  if (d / f"fold_{k}").is_dir() for p in (d / f"fold_{k}").iterdir() if p.is_dir()}
        return sorted((k, s) for k, s in stages if checkpoint_exists(self.best(k, s)))

    def cross_dir(self, corpus: str) -> Path:
        """Where the scores of this run on another corpus's cache go (`evaluate --corpus`)."""
        return self.root / "cross" / corpus

    def inside(self, path: Path) -> bool:
        """Whether `path` lies in the run folder (the only place a reader may write to)."""
        return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(self.root))

    def recorded_unimodal_dir(self) -> str:
        """run.json's "unimodal_dir": relative to the run folder ("." for the run itself)."""
        return os.path.relpath(os.path.abspath(self.unimodal_root), os.path.abspath(self.root))


def read_run_folder(root: str | Path) -> tuple[RunLayout, "RunRecord"]:
    """An existing run's layout and record (ConfigError when `root` holds no run.json)."""
    root = Path(root)
    run = RunLayout(root, root).read_run()
    return RunLayout.read(root, run), run


def run_models(run: "RunRecord") -> list[str]:
    """The models a run's readers score: run.json's models, then the unimodal stages of a
    two-stage run that are not among them."""
    models = list(run.models)
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


# ------------------------------------------------------------------------------------------ records
# Each file of a run is a typed record with one writer and one reader, both here: code elsewhere
# never spells a run file's name or reads its keys from a dict. Runs written before a field existed
# read it as its default (the `from_dict` of each record says what an old file means).


def _tuple(value) -> tuple:
    return tuple(value) if value is not None else ()


@dataclass(frozen=True)
class RunRecord:
    """run.json: what a run is. Written by training.protocol (`write_run`), read through `read_run`."""

    training: dict  # the learning settings (presets.learning_settings)
    preprocess_hash: str | None
    folds: tuple[dict, ...]  # each fold's actors (Fold.actors_dict)
    settings_hash: str | None = None
    models: tuple[str, ...] = ()
    preset: str | None = None
    selection: str | None = None
    optimistic: bool = False
    legacy: bool = False
    refit: bool = False
    label: str = ""  # "LEGACY, OPTIMISTIC", "OPTIMISTIC" or ""
    seed: int = 0
    launch: dict = field(default_factory=dict)
    scopes: dict = field(default_factory=dict)  # scope -> setting names (presets.SCOPES); {} before they were recorded
    preprocess: dict | None = None
    cache: str | None = None  # where the cache lay (absolute)
    cache_identity: str | None = None  # data.cache.cache_identity of its clips
    content_keys: tuple[str, ...] = ()  # data.cache.content_key of every clip
    unimodal_dir: str | None = None  # relative to the run ("." for the run itself); absolute in old runs
    partial: dict | None = None  # None: the complete corpus (or one whose extent is not declared)
    labels: tuple[str, ...] | None = None  # class names in label order; None: not recorded (RAVDESS's 8)
    speakers: dict = field(default_factory=dict)  # actor id (str) -> the corpus's speaker name
    dataset: str | None = None  # the adapter that read the corpus; None: runs before it was recorded (RAVDESS layout)
    face_sources: dict | None = None

    SETTINGS = ("training", "preprocess_hash", "folds")  # what two commands sharing a run must agree on

    @classmethod
    def from_dict(cls, doc: dict) -> "RunRecord":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in known}
        for key in ("folds", "models", "content_keys"):
            values[key] = _tuple(values.get(key))
        if values.get("labels") is not None:
            values["labels"] = tuple(values["labels"])
        values.setdefault("training", {})
        values.setdefault("preprocess_hash", None)
        return cls(**values)

    def to_dict(self) -> dict:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("folds", "models", "content_keys", "labels"):
            doc[key] = list(doc[key]) if doc[key] is not None else None
        return doc

    def settings(self) -> dict:
        doc = self.to_dict()
        return {k: doc[k] for k in self.SETTINGS}

    @property
    def mfcc_norm(self) -> str | None:
        return self.training.get("mfcc_norm")

    @property
    def class_names(self) -> tuple[str, ...]:
        """The run's class names in label order (RAVDESS's 8 for runs that did not record them)."""
        from avemotion.data.labels import recorded_labels

        return recorded_labels({"labels": self.labels})

    def speaker_names(self) -> dict[int, str]:
        """Actor id -> the corpus's speaker name (manifest and IEMOCAP corpora; {} for RAVDESS)."""
        return {int(a): str(n) for a, n in self.speakers.items()}


@dataclass(frozen=True)
class StageStart:
    """stage.json: the settings a stage started with, so that a partial stage resumes only with them."""

    settings_hash: str
    settings: dict
    clips: str | None = None  # training.protocol.stage_clips; None in stages from before it was recorded

    @classmethod
    def from_dict(cls, doc: dict) -> "StageStart":
        return cls(doc.get("settings_hash"), doc.get("settings") or {}, doc.get("clips"))

    def to_dict(self) -> dict:
        return {"settings_hash": self.settings_hash, "settings": self.settings,
                **({"clips": self.clips} if self.clips else {})}


@dataclass(frozen=True)
class StageResult:
    """metrics.json: a finished stage's test-fold scores, written once by training (or an import),
    rewritten by `evaluate` (rescored). A stage is done when it holds one and its checkpoint."""

    fold: int
    stage: str
    settings_hash: str | None
    metrics: dict  # evaluation.metrics.score_predictions
    predictions: tuple[dict, ...]
    labels: tuple[str, ...] | None = None  # None: not recorded (RAVDESS's 8)
    clips: str | None = None  # training.protocol.stage_clips
    selection: str | None = None  # the rule that chose the checkpoint ("refit", "imported" too)
    scored: str | None = None  # what scored the test fold, in words
    optimistic: bool = False
    legacy: bool = False
    label: str = ""
    epoch: int | None = None  # the selected epoch (from 0)
    epochs_trained: int | None = None
    selection_metrics: dict | None = None
    init: dict | None = None
    engine: dict | None = None
    test_actors: tuple[int, ...] = ()
    train_actors: tuple[int, ...] | None = None  # None: not recorded
    train_clips: int | None = None
    last_epoch: dict | None = None  # the final epoch's weights: {"epoch", "metrics", "predictions"}
    eval_batches: dict | None = None  # a batch-pooled model's evaluation batches (scoring)
    imported: dict | None = None  # a published checkpoint (training.published)
    rescored: bool = False  # `evaluate` scored it again

    OPTIONAL = ("eval_batches", "imported", "rescored")  # written only when set

    @classmethod
    def from_dict(cls, doc: dict) -> "StageResult":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in known}
        values["predictions"] = _tuple(values.get("predictions"))
        values["test_actors"] = _tuple(values.get("test_actors"))
        for key in ("labels", "train_actors"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        values.setdefault("settings_hash", None)
        return cls(**values)

    def to_dict(self) -> dict:
        doc = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self.OPTIONAL and not value:
                continue
            doc[f.name] = list(value) if isinstance(value, tuple) else value
        return doc

    @property
    def class_names(self) -> tuple[str, ...]:
        from avemotion.data.labels import recorded_labels

        return recorded_labels({"labels": self.labels})

    def part(self, scored: str) -> dict:
        """"selected": the scored checkpoint's metrics, predictions and epoch; "last_epoch": the final
        epoch's (ConfigError when the stage is older than that record)."""
        if scored == "selected":
            return {"metrics": self.metrics, "predictions": list(self.predictions), "epoch": self.epoch}
        if self.last_epoch is None:
            raise ConfigError(f"fold {self.fold} {self.stage}: no {scored} scores in its results (trained before they were recorded)")
        return dict(self.last_epoch, epoch=self.last_epoch.get("epoch", self.epoch))
