"""The two encoders shared by every model: 3D ResNeXt-50 (video) and the MFCC 1D CNN (audio).

Module names follow the 3D-ResNets layout (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, ...)
so a Kinetics checkpoint loads by name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avemotion.models.sizes import MFCC_SHAPE, Scale


class Bottleneck(nn.Module):
    """1x1x1 -> grouped 3x3x3 (carries the stride) -> 1x1x1 to 2*width; shortcut B (conv+BN) on change."""

    def __init__(self, in_ch: int, width: int, stride: int, cardinality: int):
        super().__init__()
        out_ch = 2 * width
        self.conv1 = nn.Conv3d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = nn.Conv3d(width, width, 3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = nn.Conv3d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_ch)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv3d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm3d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class VideoEncoder(nn.Module):
    """3D ResNeXt: (B, 3, T, H, W) -> (B, 2*widths[3], T/16, H/32, W/32) before pooling.

    `stem_relu=False` reproduces the published fusion models, which drop the ReLU after bn1.
    """

    def __init__(self, scale: Scale, *, stem_relu: bool = True):
        super().__init__()
        self.stem_relu = stem_relu
        self.conv1 = nn.Conv3d(3, scale.stem, 7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(scale.stem)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        in_ch = scale.stem
        for index, (width, blocks) in enumerate(zip(scale.widths, scale.blocks)):
            stride = 1 if index == 0 else 2
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(in_ch, width, stride if b == 0 else 1, scale.cardinality))
                in_ch = 2 * width
            setattr(self, f"layer{index + 1}", nn.Sequential(*layer))
        self.mid_channels = 2 * scale.widths[2]  # after layer3 (MSAF/MMTM first fusion point)
        self.out_channels = 2 * scale.widths[3]
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.conv1(x))
        if self.stem_relu:
            x = F.relu(x)
        return self.maxpool(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
        return x


class AudioEncoder(nn.Module):
    """MFCC 1D CNN: (B, 13, 212) -> (B, 64, 26) after its last BN (the classifier is not part of it).

    Split in `front` (up to the second conv's ReLU, where MSAF/MMTM fuse first) and `back`.
    """

    def __init__(self, scale: Scale, *, n_mfcc: int = MFCC_SHAPE[0], mfcc_frames: int = MFCC_SHAPE[1]):
        super().__init__()
        c1, c2, c3 = scale.audio_channels
        self.conv1 = nn.Conv1d(n_mfcc, c1, 7, padding=2)
        self.bn1 = nn.BatchNorm1d(c1)
        self.conv2 = nn.Conv1d(c1, c2, 7, padding=2)
        self.pool = nn.MaxPool1d(8)
        self.bn2 = nn.BatchNorm1d(c2)
        self.dropout = nn.Dropout(0.2)
        self.conv3 = nn.Conv1d(c2, c3, 5, padding=2)
        self.bn3 = nn.BatchNorm1d(c3)
        self.n_mfcc = n_mfcc
        self.mfcc_frames = mfcc_frames
        self.mid_channels = c2
        self.out_channels = c3
        self.steps = (mfcc_frames - 4) // 8  # each k7/pad2 conv loses 2 frames, then max-pool 8
        self.flat_dim = c3 * self.steps

    def check(self, audio: torch.Tensor) -> None:
        if audio.dim() != 3 or audio.shape[1:] != (self.n_mfcc, self.mfcc_frames):
            raise ValueError(f"audio must be (B, {self.n_mfcc}, {self.mfcc_frames}) MFCCs, got {tuple(audio.shape)}")

    def front(self, audio: torch.Tensor) -> torch.Tensor:
        self.check(audio)
        x = self.bn1(F.relu(self.conv1(audio)))
        return F.relu(self.conv2(x))

    def back(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.bn2(self.pool(x)))
        return self.bn3(F.relu(self.conv3(x)))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.back(self.front(audio))
