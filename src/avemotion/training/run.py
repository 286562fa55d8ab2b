"""Opening a run and training its stages: the protocol (training.protocol) decides what a stage
is, the engine (training.engine) trains it, evaluation.scoring scores the selected checkpoint on
the test fold once. Files go where avemotion.run_layout says.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import torch

from avemotion.data.cache import clip_digests, content_key
from avemotion.data.folds import Fold
from avemotion.errors import ConfigError
from avemotion.models.registry import check_input_contract, uses_video
from avemotion.registries import selection as selection_rules
from avemotion.run_layout import REFIT, UNIMODAL, RunLayout, StageResult
from avemotion.training import engine
from avemotion.training.protocol import (
    RunContext,
    Stage,
    build_folds,
    check_complete,
    check_stage_start,
    plan,
    select_folds,
    stage_done,
    stages_for,
    write_manifests,
    write_run_json,
)
from avemotion.training.presets import (
    TrainConfig,
    batch_size_for,
    check_input,
    check_legacy_cache,
    model_config_for,
    run_label,
    typed_model_config,
)

__all__ = ["open_run", "select_folds", "train_model", "stages_for"]

logger = logging.getLogger(__name__)


def open_run(
    run_dir: str | Path,
    cache_path: str | Path,
    cfg: TrainConfig,
    *,
    models: list[str],
    unimodal_dir: str | Path | None = None,
    progress: bool = False,
    folds: str | list[int] = "all",
) -> RunContext:
    """Open the cache, check it and every requested model's options, build and check the folds,
    write (or check) run.json and the manifests. Nothing trains before all of that passed."""
    from avemotion.data.cache import open_cache

    cache = open_cache(cache_path)
    pre = cache.config
    for name in models:  # e.g. an audio-only cache trains audio models only
        check_input_contract(name, pre)
    check_input(cfg, pre)
    check_legacy_cache(cfg, pre)
    cfg = cfg.replace(model_config=typed_model_config(cfg.model_config, models))  # --set text -> declared types
    cfg = cap_workers(cfg)
    check_model_options(cfg, models, len(cache.labels))
    records = cache.records()  # one read of every per-clip JSON, for the folds and their manifests
    extent = cache.extent()  # corpus.json, read once for the check and the folds
    partial = check_complete(cache, extent, records, cfg.allow_partial)
    if partial:
        logger.warning(f"PARTIAL corpus (--allow-partial): {partial['clips']} of {partial['expected_clips']} clips"
                       + (f", no clip of actors {partial['missing_actors']}" if partial["missing_actors"] else "")
                       + "; the folds are those of the complete corpus, restricted to the actors present")
    ctx = RunContext(
        layout=RunLayout.for_training(run_dir, unimodal_dir),
        cfg=cfg,
        cache=cache,
        cache_path=Path(cache_path),
        preprocess=pre,
        folds=build_folds(records, cfg, extent, folds),
        progress=progress,
        partial=partial,
        face_sources=cache.face_sources(records),
        dataset=cache.dataset(records),
        speakers=cache.speakers,
        clips=clip_digests(records),
        content_keys=frozenset(k for k in map(content_key, records) if k is not None),
    )
    select_folds(ctx, folds)  # the requested folds exist and can train, before anything is written
    write_run_json(ctx, models)
    write_manifests(ctx, records)
    return ctx


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's or taskset's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity call on this platform
        return max(1, os.cpu_count() or 1)


def cap_workers(cfg: TrainConfig) -> TrainConfig:
    """Loader workers above the cores available only contend (PyTorch warns every epoch): capped,
    with a note. A launch setting: the stage hashes do not change."""
    cores = available_cores()
    if cfg.num_workers is None or cfg.num_workers <= cores:
        return cfg
    logger.info(f"loader workers: {cfg.num_workers} asked, {cores} cores available; using {cores}")
    return cfg.replace(num_workers=cores)


def check_model_options(cfg: TrainConfig, models: list[str], num_classes: int = 8) -> None:
    """Build every requested model on the meta device (no memory, no time) with the run's options,
    so a bad `--set key=value` is refused in one line before any stage trains."""
    for name in models:
        config = model_config_for(cfg, name)
        try:
            with torch.device("meta"):
                build_model(name, cfg, config, num_classes)
        except TypeError as err:
            given = ", ".join(f"{k}={v!r}" for k, v in config.items()) or "no options"
            raise ConfigError(f"model {name!r} does not accept {given}: {err}") from None


def build_model(name: str, cfg: TrainConfig, config: dict, num_classes: int = 8):
    """`num_classes`: the cache's class count (len(cache.labels))."""
    from avemotion.models import create_model

    return create_model(name, num_classes=num_classes, scale=cfg.scale, **config)


def train_model(ctx: RunContext, model_name: str, folds: list[Fold]) -> dict[int, Path]:
    """Every stage of `model_name` on every fold (skipping finished ones); returns its stage dirs."""
    out = {}
    for fold in folds:
        for stage in plan(ctx, fold, model_name):
            path = run_stage(ctx, stage)
        out[fold.index] = path
    return out


def run_stage(ctx: RunContext, stage: Stage) -> Path:
    """Execute one planned stage: reuse it when done, else train (or resume) and score it."""
    path = ctx.layout.stage_dir(stage.fold, stage.name)
    label = f"fold {stage.fold} {stage.name}"
    if stage_done(ctx.layout, stage):
        logger.info(f"{label}: done, reusing {path}")
        return path
    check_stage_start(ctx.layout, stage)
    resume = ctx.layout.last_checkpoint(stage.fold, stage.name).exists()
    logger.info(f"{label}: {'resuming' if resume else 'training'} "
                f"({len(stage.train_ids)} train clips of {len(stage.train_actors)} actors, {stage.epochs} epochs)")
    import lightning as L  # after the line above: its import takes seconds, which the line accounts for

    # Seed before building: the weight init must not depend on what ran earlier in this process.
    L.seed_everything(ctx.cfg.seed, workers=True, verbose=False)
    model, init_report = build_stage_model(ctx, stage)
    meta = {"fold": stage.fold, "stage": stage.name, "settings_hash": stage.hash, "clips": stage.clips,
            "init": init_report, "labels": list(ctx.cache.labels)}  # the class names, in the checkpoint's meta (predict)
    trainer = fit_stage(ctx, stage, model, meta, resume)
    result = score_stage(ctx, stage, meta, trainer)
    m = result.metrics
    rule = f"{selection_rules.REFIT}: last epoch" if stage.is_refit else stage.rule
    actors = [ctx.speakers.get(a, a) for a in stage.test_actors]  # the corpus's names, else the ids
    scored = f"test actors {actors}: accuracy {m['accuracy']:.3f}, UAR {m['uar']:.3f}"
    logger.info(f"{label}: epoch {result.epoch} selected ({rule}); {scored}")
    return path


def build_stage_model(ctx: RunContext, stage: Stage):
    """The stage's model and its initialisation record (None: random init), refusing a partial one."""
    name = stage.base
    config = {} if name in UNIMODAL else model_config_for(ctx.cfg, name)
    if name == "audio" and ctx.cfg.mfcc_norm == "train":
        config["mfcc_norm"] = True
    model = build_model(name, ctx.cfg, config, len(ctx.cache.labels))
    if getattr(model, "mfcc_norm", None) is not None:
        fit_mfcc_norm(ctx, model, stage.train_ids)
    if stage.init == "own":
        return model, init_kinetics(ctx, model, name)
    return model, init_unimodal(ctx, stage.fold, model, REFIT if stage.is_refit else "")


def fit_mfcc_norm(ctx: RunContext, model, train_ids) -> None:
    """Per-coefficient statistics of the training clips (never validation or test) into the model,
    which applies them to every input, so prediction normalises exactly as training did."""
    import numpy as np

    mfccs = np.stack([ctx.cache.load(c, video=False)[1] for c in train_ids])  # (N, 13, F)
    model.mfcc_norm.fit(torch.from_numpy(mfccs))


def init_unimodal(ctx: RunContext, fold: int, model, suffix: str) -> dict:
    """Two-stage recipe: the fold's video and audio stages (their refits for a refit) -> `model`."""
    from avemotion.models.checkpoint import load_checkpoint
    from avemotion.models.weights import coverage, unimodal_prefixes

    stems = {role: ctx.layout.best(fold, role + suffix) for role in UNIMODAL}
    (video, video_meta), (audio, audio_meta) = (load_checkpoint(stems[role]) for role in UNIMODAL)
    report = model.load_unimodal(video, audio, strict=not ctx.cfg.allow_partial_init)
    return {"source": "unimodal", "from": {r: str(p.parent) for r, p in stems.items()}, **report.to_dict(),
            "coverage": coverage(model, report, unimodal_prefixes(model)),
            "imported": any(meta.get("imported") for meta in (video_meta, audio_meta))}


def init_kinetics(ctx: RunContext, model, stage: str) -> dict | None:
    """Optional Kinetics initialisation of the video encoder (stages that build one from scratch)."""
    if not ctx.cfg.kinetics or stage == "audio" or getattr(model, "video_encoder", None) is None:
        return None
    from avemotion.models.weights import coverage, load_kinetics

    report = load_kinetics(model, ctx.cfg.kinetics, strict=not ctx.cfg.allow_partial_init)
    return {"source": "kinetics", "from": ctx.cfg.kinetics, **report.to_dict(),
            "coverage": coverage(model.video_encoder, report, ("",))}


def fit_stage(ctx: RunContext, stage: Stage, model, meta: dict, resume: bool):
    from avemotion.evaluation.scoring import pools_over_batch
    from avemotion.training.datamodule import FoldDataModule
    from avemotion.training.module import AVLightningModule

    cfg = ctx.cfg
    path = ctx.layout.stage_dir(stage.fold, stage.name)
    lit = AVLightningModule(model, lr=cfg.lr, weight_decay=cfg.weight_decay, label_smoothing=cfg.label_smoothing,
                            lr_schedule=cfg.lr_schedule, channels_last=engine.on_cuda_or(cfg.channels_last),
                            compile=engine.on_cuda_or(cfg.compile), num_classes=model.num_classes)
    data = FoldDataModule(
        ctx.cache, stage.train_ids, stage.val_ids, batch_size=stage.batch_size,
        num_workers=cfg.num_workers, augment=cfg.augment, seed=cfg.seed,
        crop_on_device=engine.on_cuda_or(cfg.crop_on_device), preload=cfg.preload, video=uses_video(model),
        audio_augment=cfg.audio_augment, speaker_norm=ctx.speaker_norm, pooled_eval=pools_over_batch(model),
    )
    with engine.quiet(not ctx.progress):
        trainer = engine.make_trainer(path, stage.epochs, stage_callbacks(ctx, stage, meta),
                                      precision=cfg.precision, deterministic=cfg.deterministic,
                                      progress=ctx.progress, validate=bool(stage.val_ids),
                                      strategy=engine.ddp_strategy(model))
    ckpt = str(ctx.layout.last_checkpoint(stage.fold, stage.name)) if resume else None
    with engine.interrupt_as_keyboard(trainer), engine.quiet(not ctx.progress):
        trainer.fit(lit, datamodule=data, ckpt_path=ckpt)
    return trainer


def stage_callbacks(ctx: RunContext, stage: Stage, meta: dict) -> list:
    from lightning.pytorch.callbacks import ModelCheckpoint

    from avemotion.training.callbacks import EpochLine, EpochSeed, SelectBest

    # filename "last" + top-1 without monitor: Lightning overwrites last.ckpt after every epoch
    # (after SelectBest ran, so its state is inside).
    last = ctx.layout.last_checkpoint(stage.fold, stage.name)
    keep_last = ModelCheckpoint(dirpath=last.parent, filename=last.stem, save_top_k=1, enable_version_counter=False)
    # a line per epoch unless Lightning's bars (--progress) already show it
    lines = [] if ctx.progress else [EpochLine(f"fold {stage.fold} {stage.name}")]
    return [
        EpochSeed(ctx.cfg.seed),
        SelectBest(ctx.layout.best(stage.fold, stage.name), stage.rule, ctx.preprocess, meta),
        keep_last,
        *lines,
        *ctx.extra_callbacks,
    ]


def score_stage(ctx: RunContext, stage: Stage, meta: dict, trainer) -> StageResult:
    """Score the selected checkpoint once on the test fold; write its results; drop last.ckpt.

    Under refit the selection stage is scored as in a `val` run (both are decided on training
    actors only, before the test fold is looked at); the report of a refit run shows the refit."""
    from avemotion.evaluation.metrics import score_predictions
    from avemotion.models.checkpoint import load_checkpoint

    trainer.strategy.barrier()  # rank 0 may still be writing the last best.safetensors
    model, best_meta = load_checkpoint(ctx.layout.best(stage.fold, stage.name))
    device = trainer.strategy.root_device
    with engine.quiet(not ctx.progress):
        preds = predict_clips(ctx, model, stage.test_ids, device, stage.base)
        # The final epoch's weights too: the rule "last" is fixed before training, so it is an
        # honest figure of every stage; on 20 actors (test-legacy) it is exactly what a `last` run
        # would score, since EpochSeed makes training independent of the validation loop.
        last_preds = predict_clips(ctx, trainer.lightning_module.model, stage.test_ids, device, stage.base)
    names = meta["labels"]
    result = StageResult(
        fold=stage.fold,
        stage=stage.name,
        settings_hash=stage.hash,
        clips=stage.clips,  # the clips it trained, selected and was scored on
        selection=selection_rules.REFIT if stage.is_refit else ctx.cfg.selection,
        scored=selection_rules.REFIT if stage.is_refit else "selected checkpoint",
        optimistic=ctx.cfg.optimistic,
        legacy=ctx.cfg.legacy,
        label=run_label(ctx.cfg),
        epoch=best_meta.get("epoch"),
        epochs_trained=trainer.current_epoch,
        selection_metrics=best_meta.get("selection_metrics"),
        init=meta.get("init"),
        engine=engine.engine_used(ctx.cfg, trainer),
        test_actors=stage.test_actors,
        train_actors=stage.train_actors,
        train_clips=len(stage.train_ids),
        labels=tuple(names),
        metrics=score_predictions(preds, names=names),
        predictions=tuple(preds),
        last_epoch={"epoch": trainer.current_epoch - 1, "metrics": score_predictions(last_preds, names=names),
                    "predictions": last_preds},
        # recorded only where the batches change the predictions
        eval_batches=eval_batches(ctx, model, stage, preds, best_meta.get("epoch")),
    )
    if trainer.is_global_zero:
        ctx.layout.write_result(result)
        with contextlib.suppress(FileNotFoundError):
            ctx.layout.last_checkpoint(stage.fold, stage.name).unlink()
    trainer.strategy.barrier()
    return result


def predict_clips(ctx: RunContext, model, clip_ids, device, model_name: str = "") -> list[dict]:
    """Predictions in the order they were scored (scoring.eval_clip_order: shuffled with the run's
    seed for a batch-pooled model, the given order otherwise)."""
    from avemotion.evaluation.scoring import cached_clip_loader, eval_clip_order, predict_cached

    # the training batch size: a legacy batch-summed attention map depends on it
    order = eval_clip_order(model, clip_ids, ctx.cfg.seed)
    loader = cached_clip_loader(ctx.cache, order, batch_size_for(ctx.cfg, model_name), ctx.cfg.num_workers,
                                video=uses_video(model), speaker_norm=ctx.speaker_norm)
    return predict_cached(model, loader, device)


def eval_batches(ctx: RunContext, model, stage: Stage, preds: list[dict], epoch) -> dict | None:
    """How a batch-pooled model's evaluation batches were drawn (None for any other model): the
    test clips in scoring order, and the validation order of the selected epoch."""
    from avemotion.evaluation.scoring import pools_over_batch, shuffled_order

    if not pools_over_batch(model):
        return None
    val_ids = stage.val_ids
    val = [val_ids[i] for i in shuffled_order(len(val_ids), ctx.cfg.seed, epoch)] if val_ids and epoch is not None else []
    return {"shuffled": True, "seed": ctx.cfg.seed, "batch_size": batch_size_for(ctx.cfg, stage.base),
            "test": [p["clip_id"] for p in preds], "selected_epoch_validation": val}
