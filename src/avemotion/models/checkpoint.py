"""Checkpoints: a safetensors state dict plus a JSON of the resolved config; never a pickled module.

`save_checkpoint(model, "run/fold_0/cfn_sr/model", preprocess=cfg)` writes `model.safetensors` and
`model.json`; `load_checkpoint` rebuilds the model through the registry and loads the weights.
The JSON records the SHA-256 of the safetensors file and every load verifies it: flipped bytes
inside a tensor still load and answer confidently and wrongly, so a damaged or replaced file is
refused in one line naming it. A checkpoint without a digest (written before avemotion recorded
one) is refused too: re-train, or re-save it with `save_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import avemotion
from avemotion.config import PreprocessConfig
from avemotion.errors import ConfigError
from avemotion.utils.io import atomic_path, file_sha256, read_json, write_json


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
        "sha256": file_sha256(weights),
    }
    write_json(meta_path, meta)  # written last: its presence marks a complete checkpoint
    return weights


def read_checkpoint_meta(stem: str | Path) -> dict:
    _, meta_path = checkpoint_paths(stem)
    if not meta_path.exists():
        raise ConfigError(f"{meta_path}: no checkpoint metadata (incomplete or not a checkpoint)")
    meta = read_json(meta_path)
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), str) or not isinstance(meta.get("model_config"), dict):
        raise ConfigError(f"{meta_path}: not a checkpoint's metadata (no model name and config)")
    return meta


def verify_weights(weights: Path, meta: dict) -> None:
    """Refuse a weights file whose bytes are not the ones its metadata recorded."""
    if not weights.is_file():
        raise ConfigError(f"{weights}: missing (its metadata is there)")
    recorded = meta.get("sha256")
    if not recorded:
        raise ConfigError(f"{weights}: its metadata records no SHA-256 (written by an older avemotion); re-train this stage")
    if file_sha256(weights) != recorded:
        raise ConfigError(f"{weights}: checksum mismatch: the file is damaged or was replaced (SHA-256 differs from its metadata)")


def load_checkpoint(stem: str | Path, map_location: str = "cpu") -> tuple[torch.nn.Module, dict]:
    from avemotion.models.registry import create_model

    weights, _ = checkpoint_paths(stem)
    meta = read_checkpoint_meta(stem)
    verify_weights(weights, meta)
    config = dict(meta["model_config"])
    num_classes = config.pop("num_classes", 8)
    model = create_model(meta["model"], num_classes=num_classes, **config)
    try:
        model.load_state_dict(load_file(str(weights), device=map_location))
    except (RuntimeError, SafetensorError) as err:
        raise ConfigError(f"{weights}: does not fit model {meta['model']!r} ({str(err).splitlines()[0]})") from None
    return model, meta


def checkpoint_exists(stem: str | Path) -> bool:
    weights, meta_path = checkpoint_paths(stem)
    return weights.exists() and meta_path.exists()
