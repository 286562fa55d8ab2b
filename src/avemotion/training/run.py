"""The run folder and the protocol: folds, the two-stage recipe, selection, resume, test scoring.

    RUN/run.json, RUN/folds/fold_K.json, RUN/fold_K/<stage>/{best.safetensors,best.json,
    last.ckpt,metrics.json,stage.json,logs/}

A stage is done when its metrics.json exists with the expected settings hash; a stage with a
last.ckpt resumes from it. Unimodal stages ("video", "audio") are shared by every fusion model of a
fold, in the run folder or in a separate `unimodal_dir`. With `refit`, every stage X is followed by
"X-refit": trained on all training actors (train + val) for the epoch count X selected; both are
scored on the test fold, the report of a refit run shows the refit.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import torch

from avemotion.config import PreprocessConfig
from avemotion.errors import ConfigError
from avemotion.models.registry import check_modalities, uses_video
from avemotion.training.presets import (
    TrainConfig,
    batch_size_for,
    check_legacy_cache,
    learning_settings,
    model_config_for,
    recipe_extras,
    resolve_input,
    run_label,
    settings_hash,
)
from avemotion.utils.io import read_json, write_json

UNIMODAL = ("video", "audio")
REFIT = "-refit"  # suffix of a refit stage's folder: fold_K/<stage>-refit


@dataclass(frozen=True)
class FoldSplit:
    """One outer fold: actors and clip ids of its three disjoint splits."""

    index: int
    test_actors: tuple[int, ...]
    val_actors: tuple[int, ...]
    train_actors: tuple[int, ...]
    test_ids: tuple[str, ...]
    val_ids: tuple[str, ...]
    train_ids: tuple[str, ...]

    def actors_dict(self) -> dict:
        return {"test": list(self.test_actors), "val": list(self.val_actors), "train": list(self.train_actors)}


@dataclass
class RunContext:
    run_dir: Path
    cfg: TrainConfig
    cache: object
    cache_path: Path
    preprocess: PreprocessConfig
    folds: list[FoldSplit]
    unimodal_dir: Path
    progress: bool = False
    log: callable = print
    extra_callbacks: list = field(default_factory=list)  # tests inject interruptions here

    @property
    def preprocess_hash(self) -> str:
        return self.preprocess.hash()


# ---------------------------------------------------------------------------------------------- setup


def open_run(
    run_dir: str | Path,
    cache_path: str | Path,
    cfg: TrainConfig,
    *,
    models: list[str],
    unimodal_dir: str | Path | None = None,
    progress: bool = False,
    log=print,
) -> RunContext:
    """Open the cache, build and check the folds, write (or check) run.json and the manifests."""
    from avemotion.data.cache import open_cache

    run_dir = Path(run_dir)
    if not _is_global_zero():
        log = _silent  # one process speaks under DDP
    cache = open_cache(cache_path)
    pre = cache.config
    check_modalities(models, pre.modalities)  # an audio-only cache trains audio models only
    cfg = resolve_input(cfg, pre)
    check_legacy_cache(cfg, pre)
    records = cache.records()  # one read of every per-clip JSON, for the folds and their manifests
    folds = build_folds(records, cfg)
    ctx = RunContext(
        run_dir=run_dir,
        cfg=cfg,
        cache=cache,
        cache_path=Path(cache_path),
        preprocess=pre,
        folds=folds,
        unimodal_dir=Path(unimodal_dir) if unimodal_dir else run_dir,
        progress=progress,
        log=log,
    )
    write_run_json(ctx, models)
    write_manifests(ctx, records)
    return ctx


def _silent(*args, **kwargs) -> None:
    pass


def build_folds(records: list[dict], cfg: TrainConfig) -> list[FoldSplit]:
    from avemotion.data.folds import make_folds

    actors = sorted({int(r["actor"]) for r in records})
    genders = {int(r["actor"]): r["gender"] for r in records if r.get("gender")}
    # Selection on the test fold or on the last epoch uses no validation actors: they train, as in
    # the published code (20 training actors per RAVDESS fold, not 16).
    n_val = cfg.n_val if cfg.uses_validation else 0
    # make_folds checks them (test groups partition the actors, no leak) before returning
    folds = make_folds(actors, n_folds=cfg.n_folds, n_val=n_val, seed=cfg.fold_seed, genders=genders)
    return [_split(f, records) for f in folds]


def _split(fold, records: list[dict]) -> FoldSplit:
    ids = fold.split(records)
    return FoldSplit(
        index=int(fold.index),
        test_actors=tuple(sorted(fold.test_actors)),
        val_actors=tuple(sorted(fold.val_actors)),
        train_actors=tuple(sorted(fold.train_actors)),
        test_ids=tuple(sorted(ids["test"])),
        val_ids=tuple(sorted(ids["val"])),
        train_ids=tuple(sorted(ids["train"])),
    )

def run_settings(ctx: RunContext) -> dict:
    """What must be identical for two commands to share a run folder."""
    return {
        "training": learning_settings(ctx.cfg),
        "preprocess_hash": ctx.preprocess_hash,
        "folds": [f.actors_dict() for f in ctx.folds],
    }


def write_run_json(ctx: RunContext, models: list[str]) -> None:
    path = ctx.run_dir / "run.json"
    settings = run_settings(ctx)
    previous_models: list[str] = []
    if path.exists():
        old = read_json(path)
        old_settings = {k: old.get(k) for k in settings}
        if old_settings != settings:
            diff = _diff_keys(old_settings, settings)
            raise ConfigError(
                f"{ctx.run_dir} holds a run with other settings ({', '.join(diff)}); "
                f"use a new --out folder (or the same settings to resume)"
            )
        previous_models = old.get("models", [])
    doc = {
        **settings,
        "settings_hash": settings_hash(settings),
        "models": previous_models + [m for m in models if m not in previous_models],
        "preset": ctx.cfg.preset,
        "selection": ctx.cfg.selection,
        "optimistic": ctx.cfg.optimistic,
        "legacy": ctx.cfg.legacy,
        "refit": ctx.cfg.refit,
        "label": run_label(ctx.cfg),  # "LEGACY, OPTIMISTIC", "OPTIMISTIC" or ""
        "seed": ctx.cfg.seed,
        "launch": launch_settings(ctx.cfg),
        "preprocess": ctx.preprocess.to_dict(),
        "cache": str(ctx.cache_path.resolve()),
        "unimodal_dir": str(ctx.unimodal_dir.resolve()),
    }
    if _is_global_zero():
        write_json(path, doc)


def launch_settings(cfg: TrainConfig) -> dict:
    """Engine switches as given, and as this process resolves them before training. preload's "auto"
    also depends on free device memory: each stage's metrics.json records what it used ("engine")."""
    return {
        "num_workers": cfg.num_workers,
        "precision": cfg.precision,
        "deterministic": cfg.deterministic,
        "channels_last": cfg.channels_last,
        "crop_on_device": cfg.crop_on_device,
        "preload": cfg.preload,
        "compile": cfg.compile,
        "resolved": {
            "precision": resolve_precision(cfg.precision),
            "channels_last": on_cuda_or(cfg.channels_last),
            "crop_on_device": on_cuda_or(cfg.crop_on_device),
            "compile": on_cuda_or(cfg.compile),
        },
    }


def _diff_keys(old: dict, new: dict) -> list[str]:
    diff = []
    for key in new:
        if isinstance(new[key], dict) and isinstance(old.get(key), dict):
            diff += [f"{key}.{k}" for k in new[key] if old[key].get(k) != new[key][k]]
        elif old.get(key) != new[key]:
            diff.append(key)
    return diff or ["settings"]


def write_manifests(ctx: RunContext, records: list[dict]) -> None:
    """RUN/folds/fold_K.json through the data layer's writer (actors and clip ids per split)."""
    from avemotion.data.folds import Fold, write_fold_manifests

    if not _is_global_zero():
        return
    folds = [Fold(f.index, f.test_actors, f.val_actors, f.train_actors) for f in ctx.folds]
    write_fold_manifests(folds, records, ctx.run_dir / "folds")


def _is_global_zero() -> bool:
    # Before the Trainer exists: torchrun / SLURM set RANK; a single process has none.
    for var in ("RANK", "SLURM_PROCID"):
        if var in os.environ:
            return int(os.environ[var]) == 0
    return True


def select_folds(ctx: RunContext, which: str | list[int]) -> list[FoldSplit]:
    if which == "all":
        return ctx.folds
    wanted = [int(x) for x in (which.split(",") if isinstance(which, str) else which)]
    known = {f.index: f for f in ctx.folds}
    bad = [k for k in wanted if k not in known]
    if bad:
        raise ConfigError(f"no fold {bad[0]}: this run has folds {', '.join(map(str, known))}")
    return [known[k] for k in wanted]


# ----------------------------------------------------------------------------------------- stages


def stages_for(model_name: str, cfg: TrainConfig) -> list[str]:
    """Stages a model needs on one fold, in order (refits after every selection stage)."""
    if model_name in UNIMODAL or cfg.recipe == "end-to-end":
        stages = [model_name]
    else:
        stages = ["video", "audio", model_name]
    return stages + [s + REFIT for s in stages] if cfg.refit else stages


def base_stage(stage: str) -> str:
    return stage.removesuffix(REFIT)


def is_refit(stage: str) -> bool:
    return stage.endswith(REFIT)


def stage_dir(ctx: RunContext, fold: FoldSplit, stage: str) -> Path:
    base = ctx.unimodal_dir if base_stage(stage) in UNIMODAL else ctx.run_dir
    return base / f"fold_{fold.index}" / stage


def stage_ids(ctx: RunContext, fold: FoldSplit, stage: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training clip ids, validation clip ids) of a stage."""
    if is_refit(stage):
        return fold.train_ids + fold.val_ids, ()  # the epoch count is fixed: nothing to validate on
    if ctx.cfg.selection == "test-legacy":
        return fold.train_ids, fold.test_ids  # what the published code did; fixed never sees it
    return fold.train_ids, fold.val_ids  # "last": no validation actors, so no validation clips


def train_actors(fold: FoldSplit, stage: str) -> list[int]:
    return sorted(fold.train_actors + fold.val_actors) if is_refit(stage) else list(fold.train_actors)


def stage_settings(ctx: RunContext, fold: FoldSplit, stage: str, model_name: str) -> dict:
    if is_refit(stage):
        return refit_settings(ctx, fold, stage, model_name)
    # A refit run's selection stage is the plain `val` stage (same settings, same folder name), so
    # an earlier `val` run's stages are reused through --unimodal-dir or the same --out.
    return selection_settings(ctx, fold, stage, model_name)


def refit_settings(ctx: RunContext, fold: FoldSplit, stage: str, model_name: str) -> dict:
    """The selection stage's settings on train + val actors, for the epoch count it selected."""
    base = base_stage(stage)
    selected = stage_settings(ctx, fold, base, model_name)
    best = stage_dir(ctx, fold, base) / "best.json"
    if not best.exists():
        raise ConfigError(f"{stage}: the selection stage {best.parent} has not finished")
    epochs = int(read_json(best)["epoch"]) + 1  # epochs are counted from 0
    fold_actors = {"test": list(fold.test_actors), "val": [], "train": train_actors(fold, stage)}
    return dict(selected, stage=stage, fold=fold_actors, epochs=epochs, selection="refit",
                refit_of=settings_hash(selected))


def selection_settings(ctx: RunContext, fold: FoldSplit, stage: str, model_name: str) -> dict:
    cfg = ctx.cfg
    common = {
        "stage": stage,
        "preprocess_hash": ctx.preprocess_hash,
        "fold": fold.actors_dict(),
        "scale": cfg.scale,
        "batch_size": batch_size_for(cfg, stage),
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "augment": cfg.augment,
        "selection": cfg.selection,
        "seed": cfg.seed,
        "kinetics": cfg.kinetics,
        **recipe_extras(cfg),
    }
    if stage in UNIMODAL:
        # Only what the unimodal network sees: every fusion model of the fold (and the unimodal
        # model itself, same folder) reuses it, so it always trains for unimodal_epochs.
        return dict(common, epochs=cfg.stage_epochs)
    return dict(common, model=model_name, model_config=model_config_for(cfg, model_name), recipe=cfg.recipe,
                epochs=cfg.epochs, unimodal_epochs=cfg.stage_epochs)


def stage_done(path: Path, expected_hash: str) -> bool:
    metrics, best = path / "metrics.json", path / "best.json"
    if not (metrics.exists() and best.exists()):
        return False
    found = read_json(metrics).get("settings_hash")
    if found != expected_hash:
        raise ConfigError(
            f"{path} was trained with other settings (hash {found} != {expected_hash}); "
            f"use another output or unimodal folder"
        )
    return True


def check_stage_start(path: Path, settings: dict, digest: str) -> None:
    """A half-trained stage may only be resumed with the settings it started with."""
    marker = path / "stage.json"
    if marker.exists():
        found = read_json(marker).get("settings_hash")
        if found != digest:
            raise ConfigError(f"{path} holds a partial stage with other settings; remove it or use another folder")
    elif _is_global_zero():
        write_json(marker, {"settings_hash": digest, "settings": settings})


def train_model(ctx: RunContext, model_name: str, folds: list[FoldSplit]) -> dict[int, Path]:
    """Every stage of `model_name` on every fold (skipping finished ones); returns its stage dirs."""
    out = {}
    for fold in folds:
        for stage in stages_for(model_name, ctx.cfg):
            path = run_stage(ctx, fold, stage, model_name)
        out[fold.index] = path
    return out


def run_stage(ctx: RunContext, fold: FoldSplit, stage: str, model_name: str) -> Path:
    import lightning as L

    path = stage_dir(ctx, fold, stage)
    settings = stage_settings(ctx, fold, stage, model_name)
    digest = settings_hash(settings)
    if stage_done(path, digest):
        ctx.log(f"fold {fold.index} {stage}: done, reusing {path}")
        return path
    check_stage_start(path, settings, digest)
    resume = (path / "last.ckpt").exists()
    n_train = len(stage_ids(ctx, fold, stage)[0])
    ctx.log(f"fold {fold.index} {stage}: {'resuming' if resume else 'training'} "
            f"({n_train} train clips of {len(train_actors(fold, stage))} actors, {settings['epochs']} epochs)")
    # Seed before building: the weight init must not depend on what ran earlier in this process.
    L.seed_everything(ctx.cfg.seed, workers=True, verbose=False)
    model, init_report = build_stage_model(ctx, fold, stage)
    meta = {"fold": fold.index, "stage": stage, "settings_hash": digest, "init": init_report}
    trainer = fit_stage(ctx, fold, stage, path, model, meta, settings, resume)
    doc = score_stage(ctx, fold, stage, path, meta, trainer)
    m = doc["metrics"]
    rule = "refit: last epoch" if is_refit(stage) else ctx.cfg.selection
    scored = f"test actors {list(fold.test_actors)}: accuracy {m['accuracy']:.3f}, UAR {m['uar']:.3f}"
    ctx.log(f"fold {fold.index} {stage}: epoch {doc['epoch']} selected ({rule}); {scored}")
    return path


def build_stage_model(ctx: RunContext, fold: FoldSplit, stage: str):
    """The stage's model and its initialisation record (None: random init), refusing a partial one."""
    from avemotion.models import create_model

    name = base_stage(stage)
    config = {} if name in UNIMODAL else model_config_for(ctx.cfg, name)
    if name == "audio" and ctx.cfg.mfcc_norm != "none":
        config["mfcc_norm"] = True
    model = create_model(name, scale=ctx.cfg.scale, **config)
    if getattr(model, "mfcc_norm", None) is not None:
        fit_mfcc_norm(ctx, model, stage_ids(ctx, fold, stage)[0])
    if name in UNIMODAL or ctx.cfg.recipe == "end-to-end":
        return model, init_kinetics(ctx, model, name)
    return model, init_unimodal(ctx, fold, model, REFIT if is_refit(stage) else "")


def fit_mfcc_norm(ctx: RunContext, model, train_ids) -> None:
    """Per-coefficient statistics of the training clips (never validation or test) into the model,
    which applies them to every input, so prediction normalises exactly as training did."""
    import numpy as np

    mfccs = np.stack([ctx.cache.load(c, video=False)[1] for c in train_ids])  # (N, 13, F)
    model.mfcc_norm.fit(torch.from_numpy(mfccs))


def init_unimodal(ctx: RunContext, fold: FoldSplit, model, suffix: str) -> dict:
    """Two-stage recipe: the fold's video and audio stages (their refits for a refit) -> `model`."""
    from avemotion.models.checkpoint import load_checkpoint
    from avemotion.models.weights import coverage, unimodal_prefixes

    paths = {role: stage_dir(ctx, fold, role + suffix) for role in UNIMODAL}
    video, _ = load_checkpoint(paths["video"] / "best")
    audio, _ = load_checkpoint(paths["audio"] / "best")
    report = model.load_unimodal(video, audio, strict=not ctx.cfg.allow_partial_init)
    return {"source": "unimodal", "from": {r: str(p) for r, p in paths.items()}, **report.to_dict(),
            "coverage": coverage(model, report, unimodal_prefixes(model)),
            "imported": any(read_json(p / "best.json").get("imported") for p in paths.values())}


def init_kinetics(ctx: RunContext, model, stage: str) -> dict | None:
    """Optional Kinetics initialisation of the video encoder (stages that build one from scratch)."""
    if not ctx.cfg.kinetics or stage == "audio" or getattr(model, "video_encoder", None) is None:
        return None
    from avemotion.models.weights import coverage, load_kinetics

    report = load_kinetics(model, ctx.cfg.kinetics, strict=not ctx.cfg.allow_partial_init)
    return {"source": "kinetics", "from": ctx.cfg.kinetics, **report.to_dict(),
            "coverage": coverage(model.video_encoder, report, ("",))}


def fit_stage(ctx, fold, stage, path, model, meta, settings, resume):
    from avemotion.training.datamodule import FoldDataModule
    from avemotion.training.module import AVLightningModule

    cfg = ctx.cfg
    lit = AVLightningModule(model, lr=cfg.lr, weight_decay=cfg.weight_decay, label_smoothing=cfg.label_smoothing,
                            lr_schedule=cfg.lr_schedule,
                            channels_last=on_cuda_or(cfg.channels_last), compile=on_cuda_or(cfg.compile))
    train_ids, val_ids = stage_ids(ctx, fold, stage)
    data = FoldDataModule(
        ctx.cache, train_ids, val_ids, batch_size=settings["batch_size"],
        num_workers=cfg.num_workers, augment=cfg.augment, seed=cfg.seed,
        crop_on_device=on_cuda_or(cfg.crop_on_device), preload=cfg.preload, video=uses_video(model),
        audio_augment=cfg.audio_augment,
    )
    rule = "last" if is_refit(stage) else cfg.selection
    with _quiet(not ctx.progress):
        trainer = make_trainer(ctx, path, settings["epochs"], meta, rule=rule, validate=bool(val_ids),
                               strategy=ddp_strategy(model))
    ckpt = str(path / "last.ckpt") if resume else None
    with _interrupt_as_keyboard(trainer), _quiet(not ctx.progress):
        trainer.fit(lit, datamodule=data, ckpt_path=ckpt)
    return trainer


@contextlib.contextmanager
def _quiet(enabled: bool):
    """Hide Lightning's per-fit banners and known-harmless warnings; our log says what runs."""
    import logging
    import warnings

    if not enabled:
        yield
        return
    log = logging.getLogger("lightning.pytorch")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            # ours on purpose: crop boxes stay on the host (AVLightningModule.transfer_batch_to_device)
            warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device`.*")
            warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
            yield
    finally:
        log.setLevel(level)


def make_trainer(ctx: RunContext, path: Path, epochs: int, meta: dict, *, rule: str, validate: bool = True,
                 strategy: str = "auto"):
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from avemotion.training.callbacks import AtomicCheckpointIO, EpochSeed, SelectBest

    cfg = ctx.cfg
    apply_determinism(cfg.deterministic)
    # filename "last" + top-1 without monitor: Lightning overwrites last.ckpt after every epoch
    # (after SelectBest ran, so its state is inside).
    last = ModelCheckpoint(dirpath=path, filename="last", save_top_k=1, enable_version_counter=False)
    callbacks = [
        EpochSeed(cfg.seed),
        SelectBest(path / "best", rule, ctx.preprocess, meta),
        last,
        *ctx.extra_callbacks,
    ]
    loggers = [
        CSVLogger(path / "logs", name="csv"),  # a new version_N per (re)start; curves merge them
        TensorBoardLogger(path / "logs", name="tensorboard"),
    ]
    return L.Trainer(
        max_epochs=epochs,
        accelerator="auto",
        devices="auto",
        strategy=strategy,
        num_nodes=_num_nodes(),
        precision=resolve_precision(cfg.precision),
        benchmark=True,  # cuDNN autotuning for 3D convolutions; never disabled
        callbacks=callbacks,
        logger=loggers,
        plugins=[AtomicCheckpointIO()],
        num_sanity_val_steps=0,
        limit_val_batches=None if validate else 0,  # no validation clips ("last", refit): skip the loop
        log_every_n_steps=1,
        enable_progress_bar=ctx.progress,
        enable_model_summary=False,
    )


def ddp_strategy(model) -> str:
    """Plain DDP fails on parameters that never reach the loss; only such models pay for the search."""
    return "ddp_find_unused_parameters_true" if _several_processes() and model.has_unused_parameters else "auto"


def _num_nodes() -> int:
    return int(os.environ.get("SLURM_NNODES", os.environ.get("AVEMOTION_NUM_NODES", 1)))


def _several_processes() -> bool:
    return torch.cuda.device_count() > 1 or _num_nodes() > 1 or int(os.environ.get("WORLD_SIZE", 1)) > 1


def on_cuda_or(setting: str) -> bool:
    """A switch that helps only on a GPU (memory format, crop on the device): "auto" = on with CUDA."""
    return setting == "on" or (setting == "auto" and torch.cuda.is_available())


def resolve_precision(precision: str) -> str:
    if precision != "auto":
        return precision
    return "bf16-mixed" if torch.cuda.is_available() else "32-true"


def apply_determinism(enabled: bool) -> None:
    if enabled:
        # 3D pooling backward has no deterministic CUDA kernel: warn, never fail.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


@contextlib.contextmanager
def _interrupt_as_keyboard(trainer):
    """Lightning turns Ctrl+C into sys.exit(1) after a graceful shutdown; give callers a KeyboardInterrupt."""
    try:
        yield
    except SystemExit:
        if trainer.interrupted:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning ignored SIGINT
            raise KeyboardInterrupt from None
        raise


def score_stage(ctx, fold, stage, path, meta, trainer) -> dict:
    """Score the selected checkpoint once on the test fold; write metrics.json; drop last.ckpt.

    Under refit the selection stage is scored as in a `val` run (both are decided on training
    actors only, before the test fold is looked at); the report of a refit run shows the refit."""
    from avemotion.evaluation.metrics import score_predictions
    from avemotion.models.checkpoint import load_checkpoint

    trainer.strategy.barrier()  # rank 0 may still be writing the last best.safetensors
    model, best_meta = load_checkpoint(path / "best")
    preds = predict_clips(ctx, model, fold.test_ids, trainer.strategy.root_device, base_stage(stage))
    # The final epoch's weights too: the rule "last" is fixed before training, so it is an honest
    # figure of every stage; on 20 actors (test-legacy) it is exactly what a `last` run would
    # score, since EpochSeed makes training independent of the validation loop.
    final = trainer.lightning_module.model
    last_preds = predict_clips(ctx, final, fold.test_ids, trainer.strategy.root_device, base_stage(stage))
    doc = {
        "fold": fold.index,
        "stage": stage,
        "settings_hash": meta["settings_hash"],
        "selection": "refit" if is_refit(stage) else ctx.cfg.selection,
        "scored": "refit" if is_refit(stage) else "selected checkpoint",
        "optimistic": ctx.cfg.optimistic,
        "legacy": ctx.cfg.legacy,
        "label": run_label(ctx.cfg),
        "epoch": best_meta.get("epoch"),
        "epochs_trained": trainer.current_epoch,
        "selection_metrics": best_meta.get("selection_metrics"),
        "init": meta.get("init"),
        "engine": engine_used(ctx.cfg, trainer),
        "test_actors": list(fold.test_actors),
        "train_actors": train_actors(fold, stage),
        "train_clips": len(stage_ids(ctx, fold, stage)[0]),
        "metrics": score_predictions(preds),
        "predictions": preds,
        "last_epoch": {"epoch": trainer.current_epoch - 1, "metrics": score_predictions(last_preds),
                       "predictions": last_preds},
    }
    if trainer.is_global_zero:
        write_json(path / "metrics.json", doc)
        with contextlib.suppress(FileNotFoundError):
            (path / "last.ckpt").unlink()
    trainer.strategy.barrier()
    return doc


def engine_used(cfg: TrainConfig, trainer) -> dict:
    """The engine switches this stage's last (re)start trained with, resolved on its device."""
    data = trainer.datamodule
    return {
        "device": str(trainer.strategy.root_device),
        "precision": str(trainer.precision),
        "channels_last": on_cuda_or(cfg.channels_last),
        "crop_on_device": on_cuda_or(cfg.crop_on_device),
        "preload": bool(getattr(data, "preloaded", False)),
        "compile": on_cuda_or(cfg.compile),
    }


def predict_clips(ctx: RunContext, model, clip_ids, device, model_name: str = "") -> list[dict]:
    from avemotion.training.datamodule import eval_loader
    from avemotion.training.module import predict

    # the training batch size: a legacy batch-summed attention map depends on it
    loader = eval_loader(ctx.cache, list(clip_ids), batch_size_for(ctx.cfg, model_name), ctx.cfg.num_workers,
                         video=uses_video(model))
    return predict(model, loader, device)
