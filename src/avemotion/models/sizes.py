"""Sizes shared by the encoders, the models and the registry: model scales and the MFCC input.

It imports nothing from the other model modules, so every one of them can import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from avemotion.errors import ConfigError

# (coefficients, frames) of the audio input: the 1664-wide audio heads only fit 26 steps of it.
MFCC_SHAPE = (13, 212)


@dataclass(frozen=True)
class Scale:
    """Sizes of one model scale. `full` is the paper; `tiny` keeps the architecture, narrow and shallow."""

    stem: int  # video stem channels
    widths: tuple[int, int, int, int]  # bottleneck width per ResNeXt layer (block output = 2 * width)
    blocks: tuple[int, int, int, int]  # blocks per ResNeXt layer
    cardinality: int  # groups of the 3x3x3 convolution
    audio_channels: tuple[int, int, int]  # the three 1D convolutions
    heads: int  # self-attention heads
    ff: int  # transformer feed-forward width
    attn_layers: int  # transformer layers


SCALES = {
    "full": Scale(64, (128, 256, 512, 1024), (3, 4, 6, 3), 32, (32, 32, 64), 8, 256, 5),
    # ~0.7M parameters: the whole pipeline runs on 2 CPU cores at ~8 frames of 48-64 px.
    "tiny": Scale(16, (16, 32, 64, 128), (1, 1, 1, 1), 8, (16, 16, 32), 4, 64, 2),
}


def get_scale(name: str) -> Scale:
    if name not in SCALES:
        raise ConfigError(f"scale must be one of {tuple(SCALES)}, got {name!r}")
    return SCALES[name]
