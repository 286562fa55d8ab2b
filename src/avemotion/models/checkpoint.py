"""Checkpoints: a safetensors state dict plus a JSON of the resolved config; never a pickled module.

`save_checkpoint(model, "run/fold_0/cfn_sr/model", preprocess=cfg)` writes `model.safetensors` and
`model.json`; `load_checkpoint` rebuilds the model through the registry and loads the weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import avemotion
from avemotion.config import PreprocessConfig
from avemotion.errors import ConfigError
from avemotion.utils.io import atomic_path, read_json, write_json


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    stem = Path(stem)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_checkpoint(model: torch.nn.Module, stem: str | Path, *, preprocess: PreprocessConfig, extra: dict | None = None) -> Path:
    weights, meta_path = checkpoint_paths(stem)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    meta = {
        "model": model.avemotion_name,
        "model_config": model.avemotion_config,
        "preprocess": preprocess.to_dict(),
        "preprocess_hash": preprocess.hash(),
        "avemotion_version": avemotion.__version__,
        **(extra or {}),
    }
    write_json(meta_path, meta)  # written last: its presence marks a complete checkpoint
    return weights


def read_checkpoint_meta(stem: str | Path) -> dict:
    _, meta_path = checkpoint_paths(stem)
    if not meta_path.exists():
        raise ConfigError(f"{meta_path}: no checkpoint metadata (incomplete or not a checkpoint)")
    return read_json(meta_path)


def load_checkpoint(stem: str | Path, map_location: str = "cpu") -> tuple[torch.nn.Module, dict]:
    from avemotion.models.registry import create_model

    weights, _ = checkpoint_paths(stem)
    meta = read_checkpoint_meta(stem)
    config = dict(meta["model_config"])
    num_classes = config.pop("num_classes", 8)
    model = create_model(meta["model"], num_classes=num_classes, **config)
    model.load_state_dict(load_file(str(weights), device=map_location))
    return model, meta


def checkpoint_exists(stem: str | Path) -> bool:
    weights, meta_path = checkpoint_paths(stem)
    return weights.exists() and meta_path.exists()
