"""MMTM: multimodal transfer modules (Joze et al., CVPR 2020) at the two MSAF positions.

A module squeezes each modality by global average pooling, concatenates, linear to
2*(Cv+Ca)/ratio with ReLU, then one linear per modality back to its channels; the gates are
2*sigmoid (the paper's formula, identity at zero) and multiply the feature maps channel-wise.
Both unimodal heads stay; the output is the sum of the two logit vectors, as in MSAF.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avemotion.errors import ConfigError
from avemotion.models.base import AVModel
from avemotion.models.registry import register_model


class TransferModule(nn.Module):
    def __init__(self, video_channels: int, audio_channels: int, ratio: int = 4):
        super().__init__()
        if ratio < 1:
            raise ConfigError(f"MMTM ratio must be >= 1, got {ratio!r}")
        joint = video_channels + audio_channels
        hidden = int(2 * joint / ratio)
        self.squeeze = nn.Linear(joint, hidden)
        self.video_excite = nn.Linear(hidden, video_channels)
        self.audio_excite = nn.Linear(hidden, audio_channels)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.cat([video.flatten(2).mean(dim=2), audio.flatten(2).mean(dim=2)], dim=1)
        z = F.relu(self.squeeze(s))
        gate_v = 2 * torch.sigmoid(self.video_excite(z))
        gate_a = 2 * torch.sigmoid(self.audio_excite(z))
        return video * gate_v.view(*gate_v.shape, 1, 1, 1), audio * gate_a.view(*gate_a.shape, 1)


class MMTMNet(AVModel):
    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool, ratio: int):
        super().__init__(num_classes)
        self.add_unimodal_networks(scale, stem_relu)
        v, a = self.video_encoder, self.audio_encoder
        self.mmtm1 = TransferModule(v.mid_channels, a.mid_channels, ratio)
        self.mmtm2 = TransferModule(v.out_channels, a.out_channels, ratio)

    def forward(self, video, audio):
        venc, aenc = self.video_encoder, self.audio_encoder
        v = venc.layer3(venc.layer2(venc.layer1(venc.stem(video))))
        v, a = self.mmtm1(v, aenc.front(audio))
        v, a = self.mmtm2(venc.layer4(v), aenc.back(a))
        return self.video_head(v) + self.audio_head(a)


@register_model("mmtm", fusion="intermediate", paper_accuracy=73.12, paper_params=31.97)
def mmtm(*, num_classes: int = 8, scale: str = "full", ratio: int = 4, stem_relu: bool = True) -> MMTMNet:
    """MMTM: squeeze-excite transfer modules at the MSAF positions, ratio 4; sum of both heads."""
    return MMTMNet(num_classes=num_classes, scale=scale, stem_relu=stem_relu, ratio=ratio)
