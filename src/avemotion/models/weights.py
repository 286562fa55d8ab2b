"""Weight loaders: unimodal networks -> fusion model (two-stage recipe), Kinetics 3D-ResNets -> video,
and the published per-fold unimodal checkpoints (MSAF's resnext50 / mfccNet state dicts) -> ours.

Every loader copies only tensors whose name and shape match and returns a `LoadReport` saying what
was left out; with `strict=True` (what training uses unless --allow-partial-init) an encoder tensor
that did not load is a one-line ConfigError instead. The published checkpoints must match completely.
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

    def to_dict(self) -> dict:
        return {"loaded": self.loaded, "missing": list(self.missing), "unexpected": list(self.unexpected),
                "mismatched": list(self.mismatched), "summary": self.summary()}


def _names(keys, limit: int = 4) -> str:
    keys = list(keys)
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def refuse_gaps(what: str, gaps: dict[str, list[str]], hint: str = "") -> None:
    """One ConfigError line naming the tensors that did not load, by kind; nothing when none."""
    parts = [f"{kind} {_names(keys)}" for kind, keys in gaps.items() if keys]
    if parts:
        raise ConfigError(f"{what}: incomplete initialisation ({'; '.join(parts)}){hint}")


def coverage(target: nn.Module, report: LoadReport, prefixes: tuple[str, ...]) -> dict:
    """How many of the target's tensors under `prefixes` (counters aside) received a value."""
    required = [k for k in target.state_dict() if k.startswith(prefixes) and not _is_counter(k)]
    failed = set(report.missing) | set(report.mismatched)
    loaded = [k for k in required if k not in failed]
    return {"prefixes": list(prefixes), "required": len(required), "loaded": len(loaded), "complete": len(loaded) == len(required)}


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


def unimodal_prefixes(model: nn.Module, roles=("video", "audio")) -> tuple[str, ...]:
    """State-dict prefixes of the unimodal networks a model holds (encoders, and heads it keeps)."""
    return tuple(f"{role}_{part}." for role in roles for part in ("encoder", "head") if getattr(model, f"{role}_{part}", None) is not None)


def load_unimodal(model: nn.Module, video_model: nn.Module | None = None, audio_model: nn.Module | None = None,
                  *, strict: bool = False) -> LoadReport:
    """Copy trained unimodal networks into a fusion model (encoders, and heads where it keeps them).

    Unimodal and fusion models share the attribute names `video_encoder`, `video_head`,
    `audio_encoder`, `audio_head`, so their state-dict keys line up one to one. `strict`: refuse
    (ConfigError) when a tensor of those networks in `model` stays at its initial value.
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
    report = load_matching(model, source)
    if strict:
        roles = [r for r, m in (("video", video_model), ("audio", audio_model)) if m is not None]
        prefixes = unimodal_prefixes(model, roles)
        refuse_gaps(f"unimodal weights -> {type(model).__name__}", {
            "missing": [k for k in report.missing if k.startswith(prefixes)],
            "shape mismatch": [k for k in report.mismatched if k.startswith(prefixes)],
        }, hint="; pass --allow-partial-init to train anyway")
    return report


def read_kinetics_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A 3D-ResNets checkpoint: {'state_dict': {'module.conv1.weight': ...}} or a bare state dict.

    Read with weights_only=True: tensors and plain containers only, never an arbitrary unpickle."""
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


def load_kinetics(model: nn.Module, path: str | Path, *, strict: bool = False) -> LoadReport:
    """Load a Kinetics 3D ResNeXt-50 (3D-ResNets names: conv1, bn1, layer1.0.conv1, ..., fc).

    `model` is any AVModel with a video encoder (or a bare VideoEncoder). Encoder tensors go to
    `video_encoder.*`; `fc.*` goes to `video_head.*` only where the model has one of that shape
    (a 400-class Kinetics fc is reported as mismatched, never loaded). `strict`: refuse unless the
    encoder matches completely; an encoder tensor the checkpoint has and ours lacks (a deeper
    network, whose first blocks would otherwise load) counts as a mismatch too.
    """
    report = _load_kinetics(model, path)
    if strict:
        refuse_gaps(f"{path} -> video encoder", {
            "missing": _body(report.missing), "shape mismatch": _body(report.mismatched),
            "unexpected": _body(report.unexpected),
        }, hint="; pass --allow-partial-init to train anyway")
    return report


def _body(keys) -> list[str]:
    return [k for k in keys if not k.startswith("fc.")]  # the Kinetics classifier is optional


def _load_kinetics(model: nn.Module, path: str | Path) -> LoadReport:
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


# ------------------------------------------------------------------- published unimodal checkpoints

# MSAF's per-fold unimodal networks, which CFN-SR's fusion started from: DIR/<folder>/<file pattern>.
PUBLISHED_FILES = {
    "video": ("resnext50", "fold_{k}_resnext50_best.pth"),
    "audio": ("mfccNet", "fold_{k}_mfccNet_best.pth"),
}
# published key prefix -> ours; the encoders already use the 3D-ResNets / mfccNet layer names
PUBLISHED_PREFIXES = {
    "video": (("fc.", "video_head."), ("", "video_encoder.")),
    "audio": (("fc1.", "audio_head.fc."), ("", "audio_encoder.")),
}


def published_key(role: str, key: str) -> str:
    for theirs, ours in PUBLISHED_PREFIXES[role]:
        if key.startswith(theirs):
            return ours + key[len(theirs):]
    raise AssertionError("the empty prefix matches every key")  # pragma: no cover


def ours_to_published(role: str, key: str) -> str:
    for theirs, ours in PUBLISHED_PREFIXES[role]:
        if key.startswith(ours):
            return theirs + key[len(ours):]
    return key  # not one of the unimodal networks' tensors: named as it is


def load_published(model: nn.Module, role: str, path: str | Path) -> int:
    """Load a published `role` state dict into our unimodal `model`; all or nothing.

    Every tensor of ours (BatchNorm counters aside) must receive one of the same shape, and every
    published tensor must have a place: otherwise one ConfigError line names the file and the keys
    (in the file's names). Returns the number of tensors loaded.
    """
    published = read_kinetics_state(path)
    source = {published_key(role, k): v for k, v in published.items()}
    state = model.state_dict()
    missing = [ours_to_published(role, k) for k in state if k not in source and not _is_counter(k)]
    refuse_gaps(str(path), {
        "missing": missing,
        "unexpected": [k for k in published if published_key(role, k) not in state],
        "shape mismatch": [k for k, v in published.items() if published_key(role, k) in state
                           and state[published_key(role, k)].shape != v.shape],
    })
    with torch.no_grad():
        for name, value in source.items():
            state[name].copy_(value.to(state[name].dtype))
    return len(source)
