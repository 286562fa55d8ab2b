"""A voice model on disk: `stem.safetensors` (state dict) + `stem.json` (what it is and how it was made).

The JSON records the model's registered name and options, its class names, the VoiceConfig (the
preprocessing contract: prediction applies exactly it) with its hash, and the SHA-256 of the
safetensors file, verified on every load: a damaged or replaced weights file is refused, never
answered from (a flipped byte inside a tensor still loads and answers confidently and wrongly).
Nothing is unpickled.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import avemotion
from avemotion.data.voice import VoiceConfig
from avemotion.errors import ConfigError
from avemotion.models.voice import create_voice_model
from avemotion.utils.io import atomic_path, file_sha256, read_json, write_json

KIND = "avemotion-voice"


def voice_paths(stem: str | Path) -> tuple[Path, Path]:
    stem = Path(stem)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_voice_model(model: torch.nn.Module, stem: str | Path, *, labels: tuple[str, ...], cfg: VoiceConfig,
                     extra: dict | None = None) -> Path:
    weights, meta_path = voice_paths(stem)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    meta = {
        "kind": KIND,
        "model": model.voice_name,
        "model_options": model.voice_options,
        "labels": list(labels),
        "voice": cfg.to_dict(),
        "voice_hash": cfg.hash(),
        "sha256": file_sha256(weights),
        "avemotion_version": avemotion.__version__,
        **(extra or {}),
    }
    write_json(meta_path, meta)  # last: its presence marks a complete file pair
    return weights


def read_voice_meta(stem: str | Path) -> dict:
    _, meta_path = voice_paths(stem)
    if not meta_path.is_file():
        raise ConfigError(f"{meta_path}: no voice model metadata (incomplete, or not a voice model)")
    meta = read_json(meta_path)
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise ConfigError(f"{meta_path}: not a voice model's metadata (kind {KIND!r} expected)")
    return meta


def load_voice_model(stem: str | Path) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, metadata); ConfigError naming the file when it is damaged, replaced or
    made for other preprocessing than this version of avemotion computes."""
    weights, _ = voice_paths(stem)
    meta = read_voice_meta(stem)
    if not weights.is_file():
        raise ConfigError(f"{weights}: missing (its metadata is there)")
    if file_sha256(weights) != meta.get("sha256"):
        raise ConfigError(f"{weights}: checksum mismatch: the file is damaged or was replaced (SHA-256 differs from its metadata)")
    try:
        cfg = VoiceConfig.from_dict(meta["voice"])
        if cfg.hash() != meta.get("voice_hash"):
            raise ConfigError(f"{weights}: made with another version of the voice preprocessing ({meta.get('voice_hash')})")
        model = create_voice_model(meta["model"], len(meta["labels"]), cfg, **meta.get("model_options", {}))
        model.load_state_dict(load_file(str(weights)))
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as err:
        raise ConfigError(f"{weights}: not a usable voice model ({str(err).splitlines()[0]})") from None
    model.eval()
    return model, meta
