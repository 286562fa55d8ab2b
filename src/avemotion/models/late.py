"""Late fusion of the two full unimodal networks: averaging, multiplication, multiplicative.

All three keep both networks unchanged (25,916,080 parameters) and differ in how the two softmax
outputs are combined and trained. The logits they return are log-probabilities, so argmax,
softmax and cross-entropy all mean what a reader expects.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from avemotion.errors import ConfigError
from avemotion.models.base import AVModel, check_choice
from avemotion.models.registry import register_model

COMBINE = ("average", "product")


class LateFusion(AVModel):
    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool, combine: str):
        super().__init__(num_classes)
        check_choice("combine", combine, COMBINE)
        self.combine = combine
        self.add_unimodal_networks(scale, stem_relu)

    def modality_log_probs(self, video, audio) -> tuple[torch.Tensor, torch.Tensor]:
        v = F.log_softmax(self.video_head(self.video_encoder(video)), dim=1)
        a = F.log_softmax(self.audio_head(self.audio_encoder(audio)), dim=1)
        return v, a

    def combine_log_probs(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        if self.combine == "average":
            return torch.logsumexp(torch.stack([v, a]), dim=0) - math.log(2)  # log((p_v + p_a) / 2)
        return F.log_softmax(v + a, dim=1)  # normalised product p_v * p_a

    def forward(self, video, audio):
        return self.combine_log_probs(*self.modality_log_probs(video, audio))


class MultiplicativeFusion(LateFusion):
    """Liu et al. 2018: each modality's cross-entropy is down-weighted by the other's confidence.

    loss = -(1 - p_a)^beta log p_v - (1 - p_v)^beta log p_a, with p_m the true-class probability of
    modality m. The weights are detached: they say how much a sample still needs this modality,
    and are not themselves a target. Prediction: log of the average of the two distributions.
    """

    def __init__(self, *, beta: float, **kwargs):
        super().__init__(combine="average", **kwargs)
        if not 0 <= beta <= 1:
            raise ConfigError(f"beta must be in [0, 1], got {beta!r}")
        self.beta = beta

    def loss(self, video, audio, target, *, label_smoothing: float = 0.0):
        v, a = self.modality_log_probs(video, audio)
        nll_v = -v.gather(1, target[:, None]).squeeze(1)
        nll_a = -a.gather(1, target[:, None]).squeeze(1)
        # With M = 2 modalities the exponent beta / (M - 1) is beta. The weights keep the true
        # class's unsmoothed probability: smoothing changes the targets, not the confidences.
        weight_v = (1 - torch.exp(-nll_a)).clamp_min(0).pow(self.beta).detach()
        weight_a = (1 - torch.exp(-nll_v)).clamp_min(0).pow(self.beta).detach()
        loss_v, loss_a = smoothed(nll_v, v, label_smoothing), smoothed(nll_a, a, label_smoothing)
        loss = (weight_v * loss_v + weight_a * loss_a).mean()
        return loss, self.combine_log_probs(v, a)


def smoothed(nll: torch.Tensor, log_probs: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Per-sample cross-entropy against targets smoothed as F.cross_entropy smooths them:
    (1 - e) * nll + e * mean over classes of -log p. e = 0 returns `nll` itself (bit-identical)."""
    if not label_smoothing:
        return nll
    return (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(1)


@register_model("averaging", fusion="late", paper_accuracy=68.82, paper_params=25.92)
def averaging(*, num_classes: int = 8, scale: str = "full", stem_relu: bool = True) -> LateFusion:
    """Average of the video and audio softmax outputs."""
    return LateFusion(num_classes=num_classes, scale=scale, stem_relu=stem_relu, combine="average")


@register_model("multiplication", fusion="late", paper_accuracy=70.56, paper_params=25.92)
def multiplication(*, num_classes: int = 8, scale: str = "full", stem_relu: bool = True) -> LateFusion:
    """Product of the video and audio softmax outputs (renormalised)."""
    return LateFusion(num_classes=num_classes, scale=scale, stem_relu=stem_relu, combine="product")


@register_model("multiplicative", fusion="late", paper_accuracy=70.35, paper_params=25.92)
def multiplicative(*, num_classes: int = 8, scale: str = "full", stem_relu: bool = True, beta: float = 0.3) -> MultiplicativeFusion:
    """Multiplicative combination loss (Liu et al. 2018), beta 0.3; predicts the average."""
    return MultiplicativeFusion(num_classes=num_classes, scale=scale, stem_relu=stem_relu, beta=beta)
