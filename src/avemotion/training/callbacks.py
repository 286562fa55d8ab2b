"""Callbacks: checkpoint selection, per-epoch seeding, atomic Lightning checkpoints."""

from __future__ import annotations

import logging
import math
import time
import pickle
import random
import re
import zipfile
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from avemotion.errors import InputError
from avemotion.models.checkpoint import save_checkpoint
from avemotion.registries import selection as selection_rules
from avemotion.utils.io import atomic_path

logger = logging.getLogger(__name__)


class EpochSeed(L.Callback):
    """Make every random draw of training a function of (seed, epoch, batch, rank).

    The dataset's augmentation is keyed by (seed, epoch, index) through `set_epoch`; dropout and any
    other use of the global RNGs is re-seeded before every batch. Re-seeding per batch (not per
    epoch) matters: on resume, Lightning creates its loader iterators at other points, which
    consumes the global RNG differently. A run resumed from last.ckpt thus draws exactly what the
    uninterrupted run drew.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        dataset = getattr(trainer.datamodule, "train_set", None) if trainer.datamodule else None
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(trainer.current_epoch)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        seed = (self.seed * 1_000_003 + trainer.current_epoch * 100_003 + batch_idx * 101 + trainer.global_rank) % 2**31
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)


class EpochLine(L.Callback):
    """One line per training epoch: `fold F STAGE: epoch E/N: loss L, val accuracy A, val UAR U (S s)`,
    and within an epoch that takes long, `fold F STAGE: epoch E/N: training batch B/T (S s)` (or
    `validating batch ...`) once `WAIT` seconds have passed without a line, or a tenth of the last
    epoch's time when that is longer (at most about ten such lines per epoch).

    The run's only sign of life between a stage's start and its score when Lightning's progress
    bars are off (the default, and useless in a log file); shown by the first process only
    (utils.logs.RankZeroFilter)."""

    WAIT = 5.0  # seconds: no stretch without a line longer than this (issue 27)

    def __init__(self, label: str):
        self.label = label
        self.started = self.last_line = 0.0
        self.last_epoch = 0.0  # seconds the previous epoch took

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.started = self.last_line = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._within(trainer, "training", batch_idx, trainer.num_training_batches)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking:
            self._within(trainer, "validating", batch_idx, sum(trainer.num_val_batches))

    def _within(self, trainer, what: str, batch_idx: int, total) -> None:
        now = time.perf_counter()
        if now - self.last_line < max(self.WAIT, self.last_epoch / 10):
            return
        self.last_line = now
        logger.info(f"{self._epoch(trainer)}: {what} batch {batch_idx + 1}/{total} ({now - self.started:.1f} s)")

    def _epoch(self, trainer) -> str:
        return f"{self.label}: epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # after this epoch's validation loop: callback_metrics hold its val_* and the epoch's train_loss
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        parts = [f"loss {metrics['train_loss']:.3f}" if "train_loss" in metrics else "loss n/a"]
        if "val_acc" in metrics and not math.isnan(metrics["val_acc"]):
            parts.append(f"val accuracy {metrics['val_acc']:.3f}")
        if "val_uar" in metrics and not math.isnan(metrics["val_uar"]):
            parts.append(f"val UAR {metrics['val_uar']:.3f}")
        self.last_epoch = time.perf_counter() - self.started
        logger.info(f"{self._epoch(trainer)}: {', '.join(parts)} ({self.last_epoch:.1f} s)")


class SelectBest(L.Callback):
    """Keep the selected checkpoint as best.safetensors + best.json (save_checkpoint) during fit.

    `rule` names a registries.selection rule: with a key, the epoch whose validation metrics have
    the highest key wins (the first of equals; the validation loader holds what the rule validates
    on: inner validation actors, or the test fold for the published, optimistic rule). Without a key,
    the final epoch, saved at the end of every training epoch, so it needs no validation loader at
    all (such rules and refit stages train without one).
    """

    def __init__(self, stem: Path, rule: str, preprocess, meta: dict):
        self.stem = Path(stem)
        self.rule = rule
        self.preprocess = preprocess
        self.meta = meta
        self.best_key: tuple | None = None
        self.best_epoch: int | None = None
        self.best_metrics: dict = {}

    @property
    def keeps_last(self) -> bool:
        """The rule has no key: it keeps the final epoch and needs no validation loop."""
        return selection_rules.get(self.rule).key is None

    def _key(self, metrics: dict) -> tuple:
        key = selection_rules.get(self.rule).key
        return (0.0,) if key is None else key(metrics)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or self.keeps_last:
            return
        # only this epoch's validation scores (train_* in callback_metrics are the previous epoch's)
        metrics = self._val_metrics(trainer)
        if any(math.isnan(v) for v in metrics.values()):
            return
        key = self._key(metrics)
        if self.best_key is None or key > self.best_key:
            self._keep(trainer, pl_module, key, metrics)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # Runs after this epoch's validation (if any) and before Lightning writes last.ckpt.
        if self.keeps_last:
            self._keep(trainer, pl_module, self._key({}), self._val_metrics(trainer))

    @staticmethod
    def _val_metrics(trainer) -> dict:
        return {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}

    def _keep(self, trainer, pl_module, key: tuple, metrics: dict) -> None:
        self.best_key, self.best_epoch, self.best_metrics = key, trainer.current_epoch, metrics
        if trainer.is_global_zero:
            extra = dict(self.meta, epoch=trainer.current_epoch, selection=self.rule, selection_metrics=metrics)
            save_checkpoint(pl_module.model, self.stem, preprocess=self.preprocess, extra=extra)

    def state_dict(self) -> dict:
        return {"best_key": self.best_key, "best_epoch": self.best_epoch, "best_metrics": self.best_metrics}

    def load_state_dict(self, state: dict) -> None:
        key = state.get("best_key")
        self.best_key = tuple(key) if key is not None else None
        self.best_epoch = state.get("best_epoch")
        self.best_metrics = state.get("best_metrics", {})


class AtomicCheckpointIO(TorchCheckpointIO):
    """last.ckpt is replaced in one rename: a kill during the save leaves the previous one intact.

    It is also the only reader of last.ckpt when a stage resumes (`trainer.fit(ckpt_path=...)`):
    always weights-only, whatever Lightning asks for and whatever TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD
    says (an explicit True overrides it), so a planted file can never run code."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        return load_resume_state(Path(path), map_location or _as_saved)


# Errors torch.load raises for a file that is not a checkpoint it may load (a refused global, a
# truncated or foreign file); anything else is a bug and keeps its traceback.
BAD_CHECKPOINT = (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, zipfile.BadZipFile)


def _as_saved(storage, location):
    """Tensors where they were saved, as Lightning's own reader does."""
    return storage


def load_resume_state(path: Path, map_location=_as_saved) -> dict:
    """A Lightning checkpoint (last.ckpt) loaded weights-only, or one line naming the file.

    Lightning's loop, optimizer, scheduler and callback states are tensors, numbers, strings and
    containers: nothing needs allow-listing (checked on torch 2.13 and Lightning 2.6)."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except BAD_CHECKPOINT as err:
        raise InputError(path, "corrupt", f"refused to resume from it ({_reason(err)}); delete it to "
                                          "train the stage from its start") from None
    if not isinstance(state, dict):
        raise InputError(path, "corrupt", "not a Lightning checkpoint; delete it to train the stage from its start")
    return state


def _reason(err: Exception) -> str:
    """One short reason: torch's own message spans lines and advises an unsafe retry."""
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
    if found:
        return f"it holds {found.group(1)}, which a weights-only load refuses"
    return "not a readable checkpoint"
