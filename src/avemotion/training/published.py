"""`avemotion import-unimodal`: the published per-fold unimodal networks as a run's unimodal stages.

CFN-SR's fusion started from MSAF's unimodal checkpoints, one pair per fold:
`resnext50/fold_{k}_resnext50_best.pth` and `mfccNet/fold_{k}_mfccNet_best.pth`, k = 1..6, fold k
testing actors 4k-3..4k. They are plain state dicts, read with `torch.load(weights_only=True)`, mapped
onto our video/audio models (models.weights.load_published, all or nothing) and written as
RUN/fold_{k-1}/{video,audio} with the settings hash `train` expects, so that `train` with the same
options reuses them and trains only the fusion stage.

Those networks were trained on all 20 non-test actors and selected on the test fold (best test
accuracy), so they are imported only into a run with test-fold selection (optimistic, labelled so).
"""

from __future__ import annotations

import logging
from pathlib import Path

from avemotion.errors import ConfigError
from avemotion.registries import selection as selection_rules
from avemotion.training.presets import get_preset, run_label
from avemotion.utils.io import file_sha256

logger = logging.getLogger(__name__)

ACTORS_PER_FOLD = 4  # the published protocol: fold k tests actors 4k-3 .. 4k


def import_unimodal(source: str | Path, run_dir: str | Path, data: str | Path, *, preset: str = "paper",
                    folds: str = "all", unimodal_dir=None, progress: bool = False, **overrides) -> list[Path]:
    """Check every file first (fold actors, complete key map), then write every stage; returns their folders."""
    from avemotion.training.run import open_run, select_folds

    cfg = get_preset(preset, **overrides)
    if not cfg.optimistic:
        raise ConfigError(
            "the published unimodal networks were trained on all non-test actors and selected on the test "
            f"fold: import them only into a --selection {selection_rules.published_rule()} (or --legacy) run"
        )
    ctx = open_run(run_dir, data, cfg, models=[], unimodal_dir=unimodal_dir, folds=folds)
    chosen = select_folds(ctx, folds)
    loaded = [(fold, role, *load_fold(ctx, Path(source), fold, role)) for fold in chosen for role in ("video", "audio")]
    return [write_stage(ctx, fold, role, model, path) for fold, role, model, path in loaded]


def published_fold(fold) -> int:
    """Our fold index k-1 is published fold k, which must test actors 4k-3..4k."""
    k = fold.index + 1
    expected = tuple(range(ACTORS_PER_FOLD * k - 3, ACTORS_PER_FOLD * k + 1))
    if tuple(fold.test_actors) != expected:
        raise ConfigError(
            f"fold {fold.index} tests actors {list(fold.test_actors)}, but published fold {k} tests "
            f"{list(expected)}: use the published folds (--n-folds 6 on RAVDESS's 24 actors)"
        )
    return k


def load_fold(ctx, source: Path, fold, role: str):
    """Our `role` model at the run's scale with the published weights of this fold (or ConfigError)."""
    from avemotion.models import create_model
    from avemotion.models.weights import PUBLISHED_FILES, load_published

    k = published_fold(fold)
    folder, pattern = PUBLISHED_FILES[role]
    path = source / folder / pattern.format(k=k)
    if not path.is_file():
        raise ConfigError(f"{path}: no such checkpoint (published fold {k}, our fold {fold.index})")
    model = create_model(role, scale=ctx.cfg.scale)
    load_published(model, role, path)
    return model, path


def write_stage(ctx, fold, role: str, model, path: Path) -> Path:
    """best.safetensors/best.json (marked imported), stage.json, and the stage's results on the test fold."""
    import torch

    from avemotion.evaluation.metrics import score_predictions
    from avemotion.models.checkpoint import save_checkpoint
    from avemotion.run_layout import StageResult
    from avemotion.training.protocol import check_stage_start, plan_stage
    from avemotion.training.run import predict_clips

    stage = plan_stage(ctx, fold, role, role)
    out = ctx.layout.stage_dir(fold.index, role)
    if ctx.layout.has_result(fold.index, role):
        raise ConfigError(f"{out} already holds a finished stage; remove it to import the published one")
    check_stage_start(ctx.layout, stage, clips=False)
    imported = {"file": str(path.resolve()), "sha256": file_sha256(path), "published_fold": fold.index + 1}
    meta = {"fold": fold.index, "stage": role, "settings_hash": stage.hash, "init": None, "epoch": None,
            "selection": "imported", "imported": imported}
    save_checkpoint(model, ctx.layout.best(fold.index, role), preprocess=ctx.preprocess, extra=meta)
    preds = predict_clips(ctx, model, stage.test_ids, "cuda" if torch.cuda.is_available() else "cpu", role)
    ctx.layout.write_result(StageResult(
        **meta, scored="imported checkpoint", optimistic=True, legacy=ctx.cfg.legacy,
        label=run_label(ctx.cfg), selection_metrics=None, test_actors=stage.test_actors,
        # what the published networks were trained on: the fold's non-test actors
        train_actors=tuple(fold.train_actors), train_clips=len(fold.train_ids),
        labels=tuple(ctx.cache.labels), metrics=score_predictions(preds, names=ctx.cache.labels), predictions=tuple(preds),
    ))
    logger.info(f"fold {fold.index} {role}: imported {path}")
    return out
