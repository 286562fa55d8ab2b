"""Unimodal models: the video 3D ResNeXt-50 and the audio 1D CNN, each with its classifier.

They take (video, audio) like every model and ignore the other modality. Their attribute names
(`video_encoder`/`video_head`, `audio_encoder`/`audio_head`) are the ones fusion models use, so the
two-stage recipe copies weights by name.
"""

from __future__ import annotations

import torch
from torch import nn

from avemotion.models.base import AVModel
from avemotion.models.encoders import AudioEncoder, VideoEncoder
from avemotion.models.heads import AudioHead, VideoHead
from avemotion.models.registry import register_model
from avemotion.models.sizes import MFCC_SHAPE, get_scale


class VideoModel(AVModel):
    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool):
        super().__init__(num_classes)
        self.video_encoder = VideoEncoder(get_scale(scale), stem_relu=stem_relu)
        self.video_head = VideoHead(self.video_encoder.out_channels, num_classes)

    def forward(self, video, audio=None):
        return self.video_head(self.video_encoder(video))


class MfccNorm(nn.Module):
    """Per-coefficient standardisation with statistics fitted on training clips (buffers, so they
    travel with the checkpoint and prediction applies exactly what training used)."""

    def __init__(self, n_mfcc: int = MFCC_SHAPE[0]):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_mfcc, 1))
        self.register_buffer("std", torch.ones(n_mfcc, 1))

    @torch.no_grad()
    def fit(self, mfccs: torch.Tensor) -> None:
        """mfccs (N, n_mfcc, F) of the training clips only."""
        self.mean.copy_(mfccs.mean(dim=(0, 2))[:, None])
        self.std.copy_(mfccs.std(dim=(0, 2))[:, None].clamp_min(1e-6))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return (audio - self.mean) / self.std


class AudioModel(AVModel):
    def __init__(self, *, num_classes: int, scale: str, mfcc_norm: bool = False):
        super().__init__(num_classes)
        self.mfcc_norm = MfccNorm() if mfcc_norm else None
        self.audio_encoder = AudioEncoder(get_scale(scale))
        self.audio_head = AudioHead(self.audio_encoder.flat_dim, num_classes)

    def forward(self, video, audio):
        if self.mfcc_norm is not None:
            audio = self.mfcc_norm(audio)
        return self.audio_head(self.audio_encoder(audio))


@register_model("video", fusion="unimodal", modalities=("video",), paper_accuracy=62.99, paper_params=25.88)
def video(*, num_classes: int = 8, scale: str = "full", stem_relu: bool = True) -> VideoModel:
    """Video only: 3D ResNeXt-50 (32x4d-style, expansion 2), global pool, linear."""
    return VideoModel(num_classes=num_classes, scale=scale, stem_relu=stem_relu)


@register_model("audio", fusion="unimodal", modalities=("audio",), paper_accuracy=56.53, paper_params=0.03)
def audio(*, num_classes: int = 8, scale: str = "full", mfcc_norm: bool = False) -> AudioModel:
    """Audio only: 1D CNN on 13 MFCCs x 212 frames."""
    return AudioModel(num_classes=num_classes, scale=scale, mfcc_norm=mfcc_norm)
