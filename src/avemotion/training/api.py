"""What the CLI, the demo and the tests call: train one model, or every model, on a cache."""

from __future__ import annotations

from pathlib import Path

from avemotion.training.presets import TrainConfig, get_preset
from avemotion.training.run import open_run, select_folds, train_model


def train(
    model: str,
    data: str | Path,
    out: str | Path,
    *,
    preset: str | TrainConfig = "small",
    folds: str | list[int] = "all",
    unimodal_dir: str | Path | None = None,
    progress: bool = False,
    log=print,
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
                      progress=progress, log=log, callbacks=callbacks, primary=model, **overrides)


def train_many(
    models: list[str],
    data: str | Path,
    out: str | Path,
    *,
    preset: str | TrainConfig = "small",
    folds: str | list[int] = "all",
    unimodal_dir: str | Path | None = None,
    progress: bool = False,
    log=print,
    callbacks: list | None = None,
    primary: str | None = None,
    **overrides,
) -> dict:
    from avemotion.evaluation.report import build_report
    from avemotion.models import model_info

    for name in models:
        model_info(name)  # the registry refuses an unknown name with a one-line ConfigError
    cfg = preset.replace(**{k: v for k, v in overrides.items() if v is not None}) if isinstance(preset, TrainConfig) else get_preset(preset, **overrides)
    ctx = open_run(out, data, cfg, models=models, unimodal_dir=unimodal_dir, progress=progress, log=log)
    ctx.extra_callbacks = list(callbacks or [])
    chosen = select_folds(ctx, folds)
    # Fold-major order: a fold's unimodal networks are trained once and reused by every model.
    for fold in chosen:
        for name in models:
            train_model(ctx, name, [fold])
    return build_report(out, primary=primary)
