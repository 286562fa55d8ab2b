"""The one interface training and inference code sees: `AVModel`.

    logits = model(video, audio)              # video (B, 3, T, H, W) normalised, audio (B, 13, 212)
    loss, logits = model.loss(video, audio, target, label_smoothing=0.1)
    report = model.load_unimodal(video_model, audio_model)   # two-stage recipe
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avemotion.errors import ConfigError
from avemotion.models import weights
from avemotion.models.encoders import AudioEncoder, VideoEncoder
from avemotion.models.heads import AudioHead, VideoHead
from avemotion.models.sizes import get_scale


def class_probabilities(logits: torch.Tensor, source) -> torch.Tensor:
    """Softmax over the last axis of a model's logits, refused (one line naming `source`, the
    weights file or run) when any logit is NaN or infinite: a diverged or damaged model must not
    answer with a made-up class."""
    if not torch.isfinite(logits).all():
        raise ConfigError(f"{source}: the model's outputs are NaN or infinite (diverged training or damaged weights)")
    return torch.softmax(logits.float(), dim=-1)


def check_choice(what: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{what} must be one of {tuple(choices)}, got {value!r}")


class AVModel(nn.Module):
    """Base of every model: takes (video, audio), returns logits (B, num_classes)."""

    # Submodules whose parameters never reach the loss (kept only for the parameter count or the
    # two-stage copy), by attribute path. tests/models/test_model_forward.py holds every model to it:
    # a declared parameter gets no gradient, every other one does.
    unused_modules: tuple[str, ...] = ()

    def __init__(self, num_classes: int):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ConfigError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        # Subclasses replace these with modules; a unimodal model leaves the other one None.
        self.video_encoder: nn.Module | None = None
        self.audio_encoder: nn.Module | None = None

    def unused_parameter_names(self) -> list[str]:
        """Names (as in `named_parameters()`) of the parameters of `unused_modules`."""
        return [f"{path}.{name}" for path in self.unused_modules for name, _ in self.get_submodule(path).named_parameters()]

    @property
    def has_unused_parameters(self) -> bool:
        """Data-parallel training must then look for unused parameters."""
        return bool(self.unused_parameter_names())

    def add_unimodal_networks(self, scale: str, stem_relu: bool) -> None:
        """Both encoders and both unimodal classifiers, under the unimodal models' attribute names,
        so the two-stage recipe copies them by state-dict key."""
        s = get_scale(scale)
        self.video_encoder = VideoEncoder(s, stem_relu=stem_relu)
        self.audio_encoder = AudioEncoder(s)
        self.video_head = VideoHead(self.video_encoder.out_channels, self.num_classes)
        self.audio_head = AudioHead(self.audio_encoder.flat_dim, self.num_classes)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def loss(self, video: torch.Tensor, audio: torch.Tensor, target: torch.Tensor, *,
             label_smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, logits); `label_smoothing` is a training setting, passed by the trainer on every call."""
        logits = self(video, audio)
        return F.cross_entropy(logits, target, label_smoothing=label_smoothing), logits

    def load_unimodal(self, video_model: nn.Module | None = None, audio_model: nn.Module | None = None, *, strict: bool = False):
        """Copy trained unimodal networks in; `strict`: ConfigError unless every tensor of them loads."""
        return weights.load_unimodal(self, video_model, audio_model, strict=strict)

