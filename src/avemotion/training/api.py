"""What the CLI, the demo and the tests call: train one model, or every model, on a cache."""

from __future__ import annotations

import logging
from pathlib import Path

from avemotion.training.presets import TrainConfig, get_preset
from avemotion.training.run import open_run, select_folds, train_model

logger = logging.getLogger(__name__)


def train(
    model: str,
    data: str | Path,
    out: str | Path,
    *,
    preset: str | TrainConfig = "small",
    folds: str | list[int] = "all",
    unimodal_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: list | None = None,
    **overrides,
) -> dict:
    """Train `model` on the chosen outer folds (resuming/reusing finished stages) and build the report.

    Unimodal networks train for `unimodal_epochs`; for `model="video"`/`"audio"` an explicit
    `epochs` without `unimodal_epochs` is taken as their epoch count.
    """
    if model in ("video", "audio") and overrides.get("epochs") and not overrides.get("unimodal_epochs"):
        overrides["unimodal_epochs"] = overrides["epochs"]
    return train_many([model], data, out, preset=preset, folds=folds, unimodal_dir=unimodal_dir,
                      progress=progress, callbacks=callbacks, primary=model, **overrides)


def train_many(
    models: list[str],
    data: str | Path,
    out: str | Path,
    *,
    preset: str | TrainConfig = "small",
    folds: str | list[int] = "all",
    unimodal_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: list | None = None,
    primary: str | None = None,
    **overrides,
) -> dict:
    from avemotion.evaluation.report import build_report
    from avemotion.models import model_info

    for name in models:
        model_info(name)  # the registry refuses an unknown name with a one-line ConfigError
    if not isinstance(preset, TrainConfig):
        overrides = {**overrides, **corpus_folds(data, overrides)}  # only keys given as None
    cfg = preset.replace(**{k: v for k, v in overrides.items() if v is not None}) if isinstance(preset, TrainConfig) else get_preset(preset, **overrides)
    with run_lock(out):
        ctx = open_run(out, data, cfg, models=models, unimodal_dir=unimodal_dir, progress=progress, folds=folds)
        ctx.extra_callbacks = list(callbacks or [])
        chosen = select_folds(ctx, folds)
        # Fold-major order: a fold's unimodal networks are trained once and reused by every model.
        for fold in chosen:
            for name in models:
                train_model(ctx, name, [fold])
        return build_report(out, primary=primary)


def run_lock(out: str | Path):
    """One training at a time into a run folder (two would train every stage twice and log every
    curve row twice); the other processes of one distributed training share the first one's."""
    import contextlib
    import os

    from avemotion.run_layout import RunLayout
    from avemotion.utils.locks import holding
    from avemotion.utils.logs import is_global_zero

    if not is_global_zero() or os.environ.get("LOCAL_RANK", "0") != "0":
        return contextlib.nullcontext()
    return holding(RunLayout.for_training(out).lock, f"another training into {out}")


def corpus_folds(data: str | Path, overrides: dict) -> dict:
    """The fold counts of the corpus's standard protocol (the cache's protocol.json: IEMOCAP leaves
    one session out), for those of n_folds / n_val not given explicitly; they replace the preset's,
    which are RAVDESS's (6 folds of 4 actors) or the small synthetic corpus's."""
    from avemotion.data.cache import open_cache

    protocol = open_cache(data).protocol() or {}
    taken = {k: protocol[k] for k in ("n_folds", "n_val") if k in protocol and overrides.get(k) is None}
    if taken:
        logger.info(f"folds: the corpus's protocol, {protocol.get('name', 'declared by the corpus')} "
                    f"({', '.join(f'{k}={v}' for k, v in taken.items())}; --n-folds / --n-val override it)")
    return taken
