"""Reading a run folder for prediction: which folds, which checkpoints, which preprocessing.

A run is `RUN/run.json` plus `RUN/fold_K/<stage>/best.{safetensors,json}` where stage is the run's
model name, or "video"/"audio" for the per-fold unimodal checkpoints (the fallback models).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from avemotion.config import PreprocessConfig
from avemotion.errors import ConfigError
from avemotion.models.checkpoint import checkpoint_exists, read_checkpoint_meta
from avemotion.utils.io import read_json

UNIMODAL_STAGES = ("video", "audio")
# the preprocessing setting that may differ at prediction time (see docs/inference.md)
PREDICT_OVERRIDABLE = ("short_clip",)


@dataclass(frozen=True)
class RunInfo:
    path: Path
    model: str  # name of the run's main stage (a registered model)
    folds: tuple[int, ...]  # folds that have a checkpoint of the main stage
    meta: dict  # run.json, {} when absent


def read_run(path: str | Path) -> RunInfo:
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: not a run folder")
    meta = read_json(path / "run.json") if (path / "run.json").exists() else {}
    model = meta.get("model") or _guess_model(path)
    folds = tuple(sorted(k for k in _fold_indices(path) if checkpoint_exists(stage_stem(path, k, model))))
    if not folds:
        raise ConfigError(f"{path}: no fold has a finished {model!r} checkpoint (fold_K/{model}/best.json)")
    return RunInfo(path=path, model=model, folds=folds, meta=meta)


def _fold_indices(path: Path) -> list[int]:
    found = (re.fullmatch(r"fold_(\d+)", p.name) for p in path.iterdir() if p.is_dir())
    return [int(m.group(1)) for m in found if m]


def _guess_model(path: Path) -> str:
    # without run.json: the one stage that is not a unimodal pre-training stage, else a unimodal one
    stages = {p.parent.name for p in path.glob("fold_*/*/best.json")}
    fusion = sorted(stages - set(UNIMODAL_STAGES))
    if len(fusion) == 1:
        return fusion[0]
    if not fusion and len(stages) == 1:
        return stages.pop()
    raise ConfigError(f"{path}: no run.json and cannot tell the model from stages {sorted(stages)}")


def stage_stem(run: str | Path, fold: int, stage: str) -> Path:
    return Path(run) / f"fold_{fold}" / stage / "best"


def validation_score(meta: dict) -> float | None:
    """The inner-validation score the checkpoint was selected on, if its metadata records one."""
    selection = meta.get("selection")
    candidates = [meta.get("val_score"), meta.get("score")]
    if isinstance(selection, dict):
        candidates += [selection.get("value"), selection.get("score"), selection.get("val_score")]
    return next((float(v) for v in candidates if isinstance(v, (int, float))), None)


def choose_folds(run: RunInfo, fold: int | None, ensemble: bool) -> list[int]:
    """--ensemble: every fold. --fold K: that fold. Default: the fold whose checkpoint scored best on
    its own inner validation split (never the test actors), the lowest index on ties or when no
    score is recorded."""
    if ensemble and fold is not None:
        raise ConfigError("--fold and --ensemble cannot be used together")
    if ensemble:
        return list(run.folds)
    if fold is not None:
        if fold not in run.folds:
            raise ConfigError(f"{run.path}: fold {fold} has no {run.model!r} checkpoint; available: {list(run.folds)}")
        return [fold]
    scores = {k: validation_score(read_checkpoint_meta(stage_stem(run.path, k, run.model))) for k in run.folds}
    scored = {k: s for k, s in scores.items() if s is not None}
    if not scored:
        return [run.folds[0]]
    best = max(scored.values())
    return [min(k for k, s in scored.items() if s == best)]


def _comparable(preprocess: dict) -> dict:
    return {k: v for k, v in preprocess.items() if k not in PREDICT_OVERRIDABLE}


def resolve_preprocess(metas: dict[str, dict], requested: Mapping | PreprocessConfig | None = None,
                       short_clip: str | None = None) -> PreprocessConfig:
    """The run's preprocessing, after checking that every checkpoint agrees, that this environment
    reproduces the recorded hash, and that settings the user asked for (`requested`, whole or
    partial) match; only the short-clip policy may change, through `short_clip`."""
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
            "the run was trained with other preprocessing, and only the short-clip policy may change "
            "at prediction time (--pad-short): " + _diff(run_settings, wanted)
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
