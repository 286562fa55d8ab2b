"""`avemotion evaluate RUN`: re-score a finished run's selected checkpoints and rebuild its report."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import torch

from avemotion.data.labels import recorded_labels
from avemotion.errors import ConfigError
from avemotion.evaluation.metrics import score_predictions
from avemotion.evaluation.report import build_report, scored_stages
from avemotion.run_layout import RunLayout, RunRecord, read_run_folder, run_models

logger = logging.getLogger(__name__)


def evaluate_run(run_dir: str | Path, cache: str | Path | None = None, *, batch_size: int = 16, device: str | None = None) -> dict:
    """Load best.safetensors of every finished stage, predict its fold's test manifest, rewrite its results."""
    from avemotion.data.cache import open_cache

    run_dir = Path(run_dir)
    layout, run = read_run_folder(run_dir)
    given = cache or run.cache
    clip_cache = open_cache(given)
    if clip_cache.config.hash() != run.preprocess_hash:
        raise ConfigError(
            f"cache {given} has preprocessing hash {clip_cache.config.hash()}, "
            f"the run was trained on {run.preprocess_hash}"
        )
    check_bound_cache(run, clip_cache, given)
    from avemotion.models.registry import check_input_contract

    for name in run.models:
        check_input_contract(name, clip_cache.config)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    from avemotion.data.dataset import speaker_mfcc_stats

    speaker_norm = speaker_mfcc_stats(clip_cache) if run.mfcc_norm == "speaker" else None
    for name in run_models(run):
        for k, stage in scored_stages(layout, run, name).items():
            path = layout.stage_dir(k, stage)
            if not layout.inside(path):  # a shared unimodal folder: evaluate writes only into its run
                logger.info(f"fold {k} {name}: in {path}, outside the run folder: kept as scored there")
                continue
            rescore_stage(layout, clip_cache, k, stage, batch_size, device, speaker_norm, seed=run.seed)
            logger.info(f"fold {k} {name}: re-scored")
    return build_report(run_dir, primary=(run.models or (None,))[-1])


def check_bound_cache(run: RunRecord, cache, given) -> None:
    """A run is re-scored only on the cache it was trained on (its clips' ids and content, wherever
    the cache now lies): another corpus with the same clip names would be scored as the run's folds."""
    from avemotion.data.cache import cache_identity, clip_digests

    recorded = run.cache_identity
    if recorded is not None and cache_identity(clip_digests(cache.records())) != recorded:
        raise ConfigError(f"{given}: not the cache this run was trained on (other clips or other content); "
                          "`evaluate RUN --corpus CACHE` scores a run on another corpus")


def rescore_stage(layout: RunLayout, cache, fold: int, stage: str, batch_size: int, device, speaker_norm=None,
                  seed: int = 0) -> None:
    from avemotion.evaluation.scoring import cached_clip_loader, eval_clip_order, predict_cached
    from avemotion.models.checkpoint import load_checkpoint
    from avemotion.models.registry import uses_video

    test_ids = list(layout.read_manifest(fold).test_ids)
    stem = layout.best(fold, stage)
    model, meta = load_checkpoint(stem)
    if meta.get("preprocess_hash") != cache.config.hash():
        raise ConfigError(f"{stem}: trained on preprocessing {meta.get('preprocess_hash')}, cache has {cache.config.hash()}")
    result = layout.read_result(fold, stage)
    order = eval_clip_order(model, test_ids, seed)
    batches = result.eval_batches  # a batch-pooled model: the batches training scored, again
    if batches and sorted(batches["test"]) == sorted(order):
        order, batch_size = batches["test"], batches["batch_size"]
    loader = cached_clip_loader(cache, order, batch_size, video=uses_video(model), speaker_norm=speaker_norm)
    preds = predict_cached(model, loader, device)
    layout.write_result(replace(result, metrics=score_predictions(preds, names=recorded_labels(meta)),
                                predictions=tuple(preds), rescored=True))
