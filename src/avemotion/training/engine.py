"""The engine: the Lightning Trainer of a stage, precision, devices, DDP, determinism, and
what Lightning prints (quiet). Nothing here knows folds, stages or selection rules (that is training.protocol).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import torch


def make_trainer(path: Path, epochs: int, callbacks: list, *, precision: str, deterministic: bool,
                 progress: bool, validate: bool = True, strategy: str = "auto"):
    """A Trainer writing its logs under `path`, with our atomic checkpoint writer."""
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from avemotion.training.callbacks import AtomicCheckpointIO

    apply_determinism(deterministic)
    loggers = [
        CSVLogger(path / "logs", name="csv"),  # a new version_N per (re)start; curves merge them
        TensorBoardLogger(path / "logs", name="tensorboard"),
    ]
    return L.Trainer(
        max_epochs=epochs,
        accelerator="auto",
        devices=devices(),
        strategy=strategy,
        num_nodes=num_nodes(),
        precision=resolve_precision(precision),
        benchmark=True,  # cuDNN autotuning for 3D convolutions; never disabled
        callbacks=callbacks,
        logger=loggers,
        plugins=[AtomicCheckpointIO()],
        num_sanity_val_steps=0,
        limit_val_batches=None if validate else 0,  # no validation clips ("last", refit): skip the loop
        log_every_n_steps=1,
        enable_progress_bar=progress,
        enable_model_summary=False,
    )


def devices() -> int | str:
    """Devices per node. Under torchrun (one process per device) Lightning must be told how many:
    on the CPU "auto" means one, and every process then trained the stage alone, racing the others
    for its files."""
    local = os.environ.get("LOCAL_WORLD_SIZE")
    return int(local) if local else "auto"


def ddp_strategy(model) -> str:
    """Plain DDP fails on parameters that never reach the loss; only such models pay for the search."""
    return "ddp_find_unused_parameters_true" if several_processes() and model.has_unused_parameters else "auto"


def num_nodes() -> int:
    return int(os.environ.get("SLURM_NNODES", os.environ.get("AVEMOTION_NUM_NODES", 1)))


def several_processes() -> bool:
    return torch.cuda.device_count() > 1 or num_nodes() > 1 or int(os.environ.get("WORLD_SIZE", 1)) > 1


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


def launch_settings(cfg) -> dict:
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


def engine_used(cfg, trainer) -> dict:
    """The engine switches this stage's last (re)start trained with, resolved on its device."""
    data = trainer.datamodule
    return {
        "device": str(trainer.strategy.root_device),
        "world_size": trainer.world_size,  # processes that trained the stage together
        "precision": str(trainer.precision),
        "channels_last": on_cuda_or(cfg.channels_last),
        "crop_on_device": on_cuda_or(cfg.crop_on_device),
        "preload": bool(getattr(data, "preloaded", False)),
        "compile": on_cuda_or(cfg.compile),
    }


@contextlib.contextmanager
def quiet(enabled: bool):
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


@contextlib.contextmanager
def interrupt_as_keyboard(trainer):
    """Lightning turns Ctrl+C into sys.exit(1) after a graceful shutdown; give callers a KeyboardInterrupt."""
    try:
        yield
    except SystemExit:
        if trainer.interrupted:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning ignored SIGINT
            raise KeyboardInterrupt from None
        raise
