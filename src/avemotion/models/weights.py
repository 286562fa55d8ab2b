"""Weight loaders: unimodal networks -> fusion model (two-stage recipe), Kinetics 3D-ResNets -> video.

Every loader copies only tensors whose name and shape match and returns a `LoadReport` saying what
was left out, so a caller can log it and decide; nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from avemotion.errors import ConfigError


@dataclass(frozen=True)
class LoadReport:
    missing: tuple[str, ...] = ()  # target tensors that received nothing (they keep their init)
    unexpected: tuple[str, ...] = ()  # source tensors with no target of that name
    mismatched: tuple[str, ...] = ()  # same name, different shape: not loaded
    loaded: int = 0  # number of tensors copied

    def summary(self) -> str:
        return (
            f"loaded {self.loaded} tensors; missing {len(self.missing)}, unexpected {len(self.unexpected)}, "
            f"shape mismatch {len(self.mismatched)}"
        )


def _is_counter(name: str) -> bool:
    # BatchNorm's num_batches_tracked is a counter, not a weight; old checkpoints lack it.
    return name.endswith("num_batches_tracked")


def load_matching(target: nn.Module, source: dict[str, torch.Tensor]) -> LoadReport:
    """Copy every source tensor whose name and shape match a tensor of `target` (in place)."""
    state = target.state_dict()
    loaded, mismatched = [], []
    with torch.no_grad():
        for name, value in source.items():
            if name not in state:
                continue
            if state[name].shape != value.shape:
                mismatched.append(name)
                continue
            state[name].copy_(value.to(state[name].dtype))
            loaded.append(name)
    done = set(loaded) | set(mismatched)
    missing = [k for k in state if k not in done and not _is_counter(k)]
    unexpected = [k for k in source if k not in state and not _is_counter(k)]
    return LoadReport(tuple(missing), tuple(unexpected), tuple(mismatched), len(loaded))


def load_unimodal(model: nn.Module, video_model: nn.Module | None = None, audio_model: nn.Module | None = None) -> LoadReport:
    """Copy trained unimodal networks into a fusion model (encoders, and heads where it keeps them).

    Unimodal and fusion models share the attribute names `video_encoder`, `video_head`,
    `audio_encoder`, `audio_head`, so their state-dict keys line up one to one.
    """
    source: dict[str, torch.Tensor] = {}
    for role, other in (("video", video_model), ("audio", audio_model)):
        if other is None:
            continue
        if getattr(other, f"{role}_encoder", None) is None:
            raise ConfigError(f"load_unimodal: the {role} model has no {role} encoder (got {type(other).__name__})")
        # Only that modality's networks: a unimodal model holds nothing else, but be explicit.
        source.update({k: v for k, v in other.state_dict().items() if k.startswith(f"{role}_")})
    if not source:
        raise ConfigError("load_unimodal: give a video model, an audio model or both")
    return load_matching(model, source)


def read_kinetics_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A 3D-ResNets checkpoint: {'state_dict': {'module.conv1.weight': ...}} or a bare state dict."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such checkpoint")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, truncated files, non-tensor payloads
        raise ConfigError(f"{path}: not a readable torch checkpoint ({err.__class__.__name__}: {err})") from None
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path}: expected a dict with a 'state_dict' of tensors (3D-ResNets layout)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_kinetics(model: nn.Module, path: str | Path) -> LoadReport:
    """Load a Kinetics 3D ResNeXt-50 (3D-ResNets names: conv1, bn1, layer1.0.conv1, ..., fc).

    `model` is any AVModel with a video encoder (or a bare VideoEncoder). Encoder tensors go to
    `video_encoder.*`; `fc.*` goes to `video_head.*` only where the model has one of that shape
    (a 400-class Kinetics fc is reported as mismatched, never loaded).
    """
    encoder = getattr(model, "video_encoder", model)
    if encoder is None or not hasattr(encoder, "layer4"):
        raise ConfigError(f"load_kinetics: {type(model).__name__} has no video encoder")
    kinetics = read_kinetics_state(path)
    body = {k: v for k, v in kinetics.items() if not k.startswith("fc.")}
    report = load_matching(encoder, body)
    head = getattr(model, "video_head", None)
    fc = {k[3:]: v for k, v in kinetics.items() if k.startswith("fc.")}
    if head is not None and fc:
        head_report = load_matching(head, fc)
        return LoadReport(
            missing=report.missing + tuple(f"fc.{k}" for k in head_report.missing),
            unexpected=report.unexpected,
            mismatched=report.mismatched + tuple(f"fc.{k}" for k in head_report.mismatched),
            loaded=report.loaded + head_report.loaded,
        )
    # No head to receive it: the Kinetics classifier is reported, not loaded.
    return LoadReport(report.missing, report.unexpected + tuple(f"fc.{k}" for k in fc), report.mismatched, report.loaded)
