"""Reading a run folder for prediction: which folds, which checkpoints, which preprocessing.

A run is `RUN/run.json` plus `RUN/fold_K/<stage>/best.{safetensors,json}` where stage is the run's
model name, or "video"/"audio" for the per-fold unimodal checkpoints (the fallback models); where
each lives is `avemotion.run_layout.RunLayout`'s to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from avemotion.config import PreprocessConfig
from avemotion.errors import ConfigError
from avemotion.models.checkpoint import read_checkpoint_meta
from avemotion.registries import selection as selection_rules
from avemotion.run_layout import UNIMODAL, RunLayout, RunRecord

UNIMODAL_STAGES = UNIMODAL
# the preprocessing settings that may differ at prediction time (see docs/inference.md): the
# short-clip policy, and the detector, which only matters for videos without landmarks
PREDICT_OVERRIDABLE = ("short_clip", "detector")


@dataclass(frozen=True)
class RunInfo:
    path: Path
    model: str  # the stage predictions come from (a registered model name)
    folds: tuple[int, ...]  # folds that have a finished checkpoint of that stage
    layout: RunLayout
    record: RunRecord  # run.json (every field at its default when a folder of checkpoints has none)

    def stem(self, fold: int, stage: str) -> Path:
        return self.layout.best(fold, stage)

    def checkpoint_metas(self) -> dict[str, dict]:
        """Metadata of every checkpoint of the run (all folds and stages, fallbacks included)."""
        return {str(self.stem(k, s)): self.layout.checkpoint_meta(k, s) for k, s in self.layout.checkpoints()}


def read_run(path: str | Path, model: str | None = None) -> RunInfo:
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: not a run folder")
    plain = RunLayout(path, path)
    record = plain.read_run() if plain.has_run() else RunRecord.from_dict({})
    layout = RunLayout.read(path, record)
    found = layout.checkpoints()  # one scan of the folders for both questions below
    model = model or _default_model(path, record, found)
    folds = tuple(sorted(k for k, s in found if s == model))
    if not folds:
        raise ConfigError(f"{path}: no fold has a finished {model!r} checkpoint (fold_K/{model}/best.json)")
    return RunInfo(path=path, model=model, folds=folds, layout=layout, record=record)


def _default_model(path: Path, record: RunRecord, checkpoints: list[tuple[int, str]]) -> str:
    """The run's one fusion model (or its one unimodal model); several need --model."""
    trained = list(record.models) or sorted({s for _, s in checkpoints})
    fusion = [m for m in trained if m not in UNIMODAL_STAGES]
    candidates = fusion or list(trained)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ConfigError(f"{path}: no trained model found (no run.json and no fold_K/<model>/best.json)")
    raise ConfigError(f"{path}: the run holds several models ({', '.join(candidates)}); choose one with --model")


def validation_score(meta: dict) -> tuple[float, float] | None:
    """(accuracy, -loss) on the inner validation split the checkpoint was selected on; None when
    it was selected otherwise (legacy test-fold selection, last epoch) or recorded nothing."""
    metrics = meta.get("selection_metrics") or {}
    if not selection_rules.selected_on_validation(meta.get("selection")) or "val_acc" not in metrics:
        return None
    return float(metrics["val_acc"]), -float(metrics.get("val_loss", 0.0))


def choose_folds(run: RunInfo, fold: int | None, ensemble: bool) -> list[int]:
    """--ensemble: every fold. --fold K: that fold. Default: the fold whose checkpoint scored best on
    its own inner validation actors (never the test actors; ties to the lower loss, then the lower
    index); the lowest fold index when no checkpoint was selected on inner validation."""
    if ensemble and fold is not None:
        raise ConfigError("--fold and --ensemble cannot be used together")
    if ensemble:
        return list(run.folds)
    if fold is not None:
        if fold not in run.folds:
            raise ConfigError(f"{run.path}: fold {fold} has no {run.model!r} checkpoint; available: {list(run.folds)}")
        return [fold]
    scores = {k: validation_score(read_checkpoint_meta(run.stem(k, run.model))) for k in run.folds}
    scored = {k: s for k, s in scores.items() if s is not None}
    if not scored:
        return [run.folds[0]]
    return [max(scored, key=lambda k: (scored[k], -k))]


def _comparable(preprocess: dict) -> dict:
    return {k: v for k, v in preprocess.items() if k not in PREDICT_OVERRIDABLE}


def resolve_preprocess(metas: dict[str, dict], requested: Mapping | PreprocessConfig | None = None,
                       short_clip: str | None = None, detector: str | None = None) -> PreprocessConfig:
    """The run's preprocessing, after checking that every checkpoint agrees, that this environment
    reproduces the recorded hash, and that settings the user asked for (`requested`, whole or
    partial) match; only the short-clip policy and the detector may change (`short_clip`, `detector`)."""
    (first_name, first), *others = metas.items()
    for name, meta in others:
        if _comparable(meta["preprocess"]) != _comparable(first["preprocess"]):
            diff = _diff(first["preprocess"], meta["preprocess"])
            raise ConfigError(f"checkpoints disagree on preprocessing ({first_name} vs {name}): {diff}")
    for name, meta in metas.items():
        _check_hash(name, meta)
    cfg = PreprocessConfig.from_dict(first["preprocess"])
    _check_requested(cfg.to_dict(), requested)
    if short_clip is not None:
        cfg = PreprocessConfig.from_dict(dict(cfg.to_dict(), short_clip=short_clip))
    if detector is not None:
        try:
            cfg = PreprocessConfig.from_dict(dict(cfg.to_dict(), detector=detector))
        except ValueError as err:
            raise ConfigError(f"--detector: {err}") from None
    return cfg


def _check_requested(run_settings: dict, requested) -> None:
    if requested is None:
        return
    if isinstance(requested, PreprocessConfig):
        requested = requested.to_dict()
    unknown = sorted(set(requested) - set(run_settings))
    if unknown:
        raise ConfigError(f"unknown preprocessing setting(s): {', '.join(unknown)}")
    wanted = _comparable(dict(run_settings, **requested))
    if wanted != _comparable(run_settings):
        raise ConfigError(
            "the run was trained with other preprocessing, and only the short-clip policy and the "
            "detector may change at prediction time (--pad-short / pad_short=, --detector / detector=): " + _diff(run_settings, wanted)
        )


def _check_hash(name: str, meta: dict) -> None:
    recorded = meta.get("preprocess_hash")
    stored = meta["preprocess"]
    cfg = PreprocessConfig.from_dict(stored)
    unknown = sorted(set(stored) - set(cfg.to_dict()))
    if unknown:
        raise ConfigError(f"{name}: preprocessing setting(s) unknown to this version: {', '.join(unknown)}")
    if recorded != cfg.hash():
        # same settings, different hash: the library behaviour that shapes features changed
        raise ConfigError(
            f"{name}: preprocessing hash {recorded} was recorded but this environment gives {cfg.hash()} "
            "for the same settings (a different librosa version or STFT pad mode); features would differ"
        )


def _diff(a: dict, b: dict) -> str:
    keys = sorted(k for k in set(a) & set(b) if a[k] != b[k]) + sorted(set(a) ^ set(b))
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys) or "no difference"
