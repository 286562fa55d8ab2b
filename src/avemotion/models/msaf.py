"""MSAF: multimodal split attention fusion (Su et al., 2020), two modules in the encoders.

Module 1 after video layer3 (1024 ch) and audio's second conv (32 ch, before the max-pool), block
16; module 2 after video layer4 (2048 ch) and audio's last BN (64 ch), block 32; reduction 4,
block dropout 0.2. Both unimodal heads stay; the output is the sum of the two logit vectors.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from avemotion.errors import ConfigError
from avemotion.models.base import AVModel
from avemotion.models.registry import register_model


class SplitAttention(nn.Module):
    """One MSAF module over any number of modalities with channels-first feature maps.

    Each modality's channels are cut into blocks of `block` channels (the last one zero-padded on
    the channel axis when the count does not divide). In training, whole blocks are dropped per
    sample; the blocks of a modality are summed and averaged over all other axes; the modalities
    are added; linear block -> block/reduction, BN, ReLU; one linear back to `block` per block;
    softmax across all blocks per channel; every block is multiplied by its attention.

    `legacy=True` reproduces the published code: the scaled mask m = keep/drop / (1-p) multiplies
    the blocks (the summary is computed from x * m) and multiplies the attention again, so the
    output is x * m * m * attention (kept blocks 1/(1-p)^2) while the summary stays at 1/(1-p).
    Its channel padding pads the wrong axis with the wrong amount, so legacy mode refuses channel
    counts that do not divide (none of the paper's do).
    """

    def __init__(self, channels: tuple[int, ...], block: int, *, reduction: int = 4, dropout: float = 0.2, legacy: bool = False):
        super().__init__()
        if block % reduction:
            raise ConfigError(f"MSAF block size {block} is not divisible by the reduction {reduction}")
        if not 0 <= dropout < 1:
            raise ConfigError(f"MSAF block dropout must be in [0, 1), got {dropout!r}")
        if legacy and any(c % block for c in channels):
            raise ConfigError(f"legacy MSAF needs channel counts divisible by the block size {block}, got {channels}")
        self.channels = tuple(channels)
        self.block = block
        self.num_blocks = tuple(math.ceil(c / block) for c in channels)
        self.dropout = dropout
        self.legacy = legacy
        reduced = block // reduction
        self.joint = nn.Sequential(nn.Linear(block, reduced), nn.BatchNorm1d(reduced), nn.ReLU(inplace=True))
        self.dense = nn.ModuleList(nn.Linear(reduced, block) for _ in range(sum(self.num_blocks)))

    def split(self, x: torch.Tensor, blocks: int) -> torch.Tensor:
        """(B, C, *rest) -> (B, blocks, block, *rest), zero-padding the channel axis."""
        pad = blocks * self.block - x.shape[1]
        if pad:
            x = torch.cat([x, x.new_zeros(x.shape[0], pad, *x.shape[2:])], dim=1)
        return x.view(x.shape[0], blocks, self.block, *x.shape[2:])

    def draw_mask(self, x: torch.Tensor) -> torch.Tensor:
        """One keep (1) / drop (0) per sample and block of x (B, blocks, block, *rest), broadcastable."""
        keep = 1 - self.dropout
        return torch.bernoulli(x.new_full((x.shape[0], x.shape[1]) + (1,) * (x.dim() - 2), keep))

    def block_masks(self, split: list[torch.Tensor]) -> list[torch.Tensor | None]:
        """The scaled mask keep/drop / (1 - p) of each modality; None for each outside training."""
        if not self.training or self.dropout == 0:
            return [None] * len(split)
        return [self.draw_mask(x) / (1 - self.dropout) for x in split]

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        for x, c in zip(features, self.channels):
            if x.shape[1] != c:
                raise ValueError(f"MSAF expected {c} channels, got {x.shape[1]}")
        split = [self.split(x, n) for x, n in zip(features, self.num_blocks)]
        masks = self.block_masks(split)
        split = [x if m is None else x * m for x, m in zip(split, masks)]
        summary = sum(x.sum(dim=1).flatten(2).mean(dim=2) for x in split)  # (B, block)
        joint = self.joint(summary)
        attention = torch.softmax(torch.stack([d(joint) for d in self.dense], dim=1), dim=1)  # (B, all blocks, block)
        outputs, start = [], 0
        for x, m, n, c in zip(split, masks, self.num_blocks, self.channels):
            a = attention[:, start : start + n].reshape(*attention.shape[:1], n, self.block, *([1] * (x.dim() - 3)))
            start += n
            if self.legacy and m is not None:
                a = a * m  # the published code multiplies the attention by the scaled mask again
            out = (x * a).flatten(1, 2)
            outputs.append(out[:, :c])
        return outputs


class MSAFNet(AVModel):
    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool, legacy_dropout: bool, block_dropout: float = 0.2):
        super().__init__(num_classes)
        self.add_unimodal_networks(scale, stem_relu)
        v, a = self.video_encoder, self.audio_encoder
        opts = dict(reduction=4, dropout=block_dropout, legacy=legacy_dropout)
        self.msaf1 = SplitAttention((v.mid_channels, a.mid_channels), 16, **opts)
        self.msaf2 = SplitAttention((v.out_channels, a.out_channels), 32, **opts)

    def forward(self, video, audio):
        venc, aenc = self.video_encoder, self.audio_encoder
        v = venc.layer3(venc.layer2(venc.layer1(venc.stem(video))))
        a = aenc.front(audio)
        v, a = self.msaf1([v, a])
        v, a = self.msaf2([venc.layer4(v), aenc.back(a)])
        return self.video_head(v) + self.audio_head(a)


@register_model("msaf", fusion="intermediate", paper_accuracy=74.86, paper_params=25.94)
def msaf(
    *,
    num_classes: int = 8,
    scale: str = "full",
    legacy_dropout: bool = False,
    block_dropout: float = 0.2,
    stem_relu: bool = True,
) -> MSAFNet:
    """MSAF: split attention after video layer3/layer4 and audio conv2/last BN; sum of both heads."""
    return MSAFNet(num_classes=num_classes, scale=scale, stem_relu=stem_relu, legacy_dropout=legacy_dropout, block_dropout=block_dropout)
