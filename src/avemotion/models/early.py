"""Early (feature-level) fusion: Concat + FC and MCBP, on pooled video and flattened audio features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avemotion.errors import ConfigError
from avemotion.models.base import AVModel
from avemotion.models.encoders import AudioEncoder, VideoEncoder
from avemotion.models.heads import pool_video
from avemotion.models.registry import register_model
from avemotion.models.sizes import get_scale


class ConcatFC(AVModel):
    """Pooled video (2048) ++ flattened audio (1664) -> linear 256 -> ReLU -> linear.

    The two unimodal heads stay in the model (the published count includes them) and are loaded by
    the two-stage recipe, but the prediction comes from the fused branch only.
    """

    unused_modules = ("video_head", "audio_head")  # the unimodal heads are kept but do not feed the output

    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool, hidden: int = 256):
        super().__init__(num_classes)
        self.add_unimodal_networks(scale, stem_relu)
        fused = self.video_encoder.out_channels + self.audio_encoder.flat_dim
        self.fc1 = nn.Linear(fused, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, video, audio):
        v = pool_video(self.video_encoder(video))
        a = self.audio_encoder(audio).flatten(1)
        return self.fc2(F.relu(self.fc1(torch.cat([v, a], dim=1))))


class CompactBilinearPooling(nn.Module):
    """Count-sketch both vectors to `dim`, multiply in the frequency domain (Gao et al. 2016).

    The hash and sign tables are fixed random buffers drawn from `seed`; they are saved with the
    weights so a checkpoint never depends on the random generator.
    """

    def __init__(self, in1: int, in2: int, dim: int, seed: int = 0):
        super().__init__()
        g = torch.Generator(device="cpu").manual_seed(seed)
        for name, size in (("1", in1), ("2", in2)):
            index = torch.randint(dim, (size,), generator=g, device="cpu")
            sign = torch.randint(2, (size,), generator=g, device="cpu").float() * 2 - 1
            self.register_buffer(f"index{name}", index)
            self.register_buffer(f"sign{name}", sign)
        self.dim = dim

    def sketch(self, x: torch.Tensor, index: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
        out = x.new_zeros(x.shape[0], self.dim)
        return out.index_add(1, index, x * sign)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        # FFT in float32: half-precision FFTs need power-of-two sizes and lose the product's range.
        f1 = torch.fft.rfft(self.sketch(x1.float(), self.index1, self.sign1), dim=1)
        f2 = torch.fft.rfft(self.sketch(x2.float(), self.index2, self.sign2), dim=1)
        return torch.fft.irfft(f1 * f2, n=self.dim, dim=1)


class MCBP(AVModel):
    """MCBP of pooled video and flattened audio, signed sqrt, L2 norm, dropout, linear."""

    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool, dim: int, seed: int):
        super().__init__(num_classes)
        if dim < 2:
            raise ConfigError(f"mcbp dim must be >= 2, got {dim!r}")
        s = get_scale(scale)
        self.video_encoder = VideoEncoder(s, stem_relu=stem_relu)
        self.audio_encoder = AudioEncoder(s)
        self.pooling = CompactBilinearPooling(self.video_encoder.out_channels, self.audio_encoder.flat_dim, dim, seed)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, video, audio):
        v = pool_video(self.video_encoder(video))
        a = self.audio_encoder(audio).flatten(1)
        z = self.pooling(v, a)
        # Signed square root then L2 normalisation, as in Fukui et al. 2016; the epsilon keeps the
        # sqrt's gradient finite at zero.
        z = torch.sign(z) * torch.sqrt(z.abs() + 1e-8)
        z = F.normalize(z, dim=1)
        return self.fc(self.dropout(z))


@register_model("concat_fc", fusion="early", paper_accuracy=71.04, paper_params=26.87)
def concat_fc(*, num_classes: int = 8, scale: str = "full", stem_relu: bool = True) -> ConcatFC:
    """Concat + FC: pooled video ++ flattened audio -> 256 -> classes (unimodal heads kept)."""
    return ConcatFC(num_classes=num_classes, scale=scale, stem_relu=stem_relu)


@register_model("mcbp", fusion="early", paper_accuracy=71.32, paper_params=51.03)
def mcbp(*, num_classes: int = 8, scale: str = "full", stem_relu: bool = True, dim: int = 16000, seed: int = 0) -> MCBP:
    """Multimodal compact bilinear pooling (count sketch + FFT, d=16000) of pooled features."""
    return MCBP(num_classes=num_classes, scale=scale, stem_relu=stem_relu, dim=dim, seed=seed)
