"""The unimodal classifiers: the video network's pooled linear and the audio network's head.

Unimodal models and the fusion models that keep them use the same attribute names
(`video_head`, `audio_head`), so the two-stage recipe copies them by state-dict key.
"""

from __future__ import annotations

import torch
from torch import nn


def pool_video(features: torch.Tensor) -> torch.Tensor:
    """Global average over time and space: (B, C, T, H, W) -> (B, C)."""
    return features.mean(dim=(2, 3, 4))


class AudioHead(nn.Module):
    """Flatten, dropout 0.4, linear: the audio network's classifier."""

    def __init__(self, flat_dim: int, num_classes: int):
        super().__init__()
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(flat_dim, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(features.flatten(1)))


class VideoHead(nn.Linear):
    """Global average pool then linear (3D-ResNets' `fc`)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return super().forward(pool_video(features))
