"""TACFN (Liu et al., 2023), implemented from its description (no runnable code was published).

Same encoders and audio self-attention as CFN-SR. The fusion weight of a video position comes from
the *concatenation* of the projected position and the selected audio vector:

    h_p = tanh(W_v v_p + b_v)                     projected video position (d = 64)
    score_p = w . tanh(W_f [h_p ; a] + b_f) + c   concatenation, then a hidden layer
    weights = softmax over the spatial positions of each time step
    video_out = video * weights + video           residual reinforcement

Why the tanh before and the hidden layer after the concatenation: a linear map of [W_v v_p ; a]
equals W_1 W_v v_p + W_2 a, i.e. CFN-SR's additive form again, and a single linear score of it
would make the audio term constant over positions (it cancels in the softmax). The head is CFN-SR's,
with its Dropout(0.4) on the flattened audio (`audio_dropout`).
"""

from __future__ import annotations

import torch
from torch import nn

from avemotion.errors import ConfigError
from avemotion.models.attention import SelfAttentionEncoder
from avemotion.models.base import AVModel
from avemotion.models.cfn_sr import AUDIO_DROPOUT, audio_dropout_layer
from avemotion.models.encoders import AudioEncoder, VideoEncoder
from avemotion.models.heads import pool_video
from avemotion.models.registry import register_model
from avemotion.models.sizes import get_scale


class ConcatGuidedAttention(nn.Module):
    def __init__(self, video_dim: int, audio_dim: int, hidden: int):
        super().__init__()
        self.video_proj = nn.Linear(video_dim, hidden)
        self.fuse = nn.Linear(hidden + audio_dim, hidden)
        self.score = nn.Linear(hidden, 1)

    def forward(self, positions: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
        """positions (B, T, N, C), selected (B, d) -> weights (B, T, N)."""
        h = torch.tanh(self.video_proj(positions))
        a = selected[:, None, None, :].expand(*h.shape[:3], selected.shape[1])
        z = torch.tanh(self.fuse(torch.cat([h, a], dim=-1)))
        return torch.softmax(self.score(z).squeeze(-1), dim=-1)


class TACFN(AVModel):
    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool, causal: bool, attn_layers: int | None,
                 audio_dropout: float = AUDIO_DROPOUT):
        super().__init__(num_classes)
        s = get_scale(scale)
        layers = s.attn_layers if attn_layers is None else attn_layers
        if not isinstance(layers, int) or layers < 1:
            raise ConfigError(f"attn_layers must be a positive integer, got {attn_layers!r}")
        self.video_encoder = VideoEncoder(s, stem_relu=stem_relu)
        self.audio_encoder = AudioEncoder(s)
        c, d = self.video_encoder.out_channels, self.audio_encoder.out_channels
        self.self_attention = SelfAttentionEncoder(d, s.heads, s.ff, layers, causal=causal)
        self.cross = ConcatGuidedAttention(c, d, d)
        self.audio_dropout = audio_dropout_layer(audio_dropout)
        self.head = nn.Linear(c + self.audio_encoder.flat_dim, num_classes)

    def forward(self, video, audio):
        v = self.video_encoder(video)
        a = self.audio_encoder(audio)
        selected = self.self_attention(a.transpose(1, 2))[:, -1]
        b, c, t, h, w = v.shape
        weights = self.cross(v.flatten(3).permute(0, 2, 3, 1), selected).view(b, 1, t, h, w)
        v = v * weights + v
        return self.head(torch.cat([pool_video(v), self.audio_dropout(a.flatten(1))], dim=1))


@register_model("tacfn", fusion="intermediate", paper_accuracy=76.76)
def tacfn(
    *,
    num_classes: int = 8,
    scale: str = "full",
    causal: bool = True,
    attn_layers: int | None = None,
    stem_relu: bool = True,
    audio_dropout: float = AUDIO_DROPOUT,
) -> TACFN:
    """TACFN: CFN-SR's selection, concatenation-based fusion weights, residual reinforcement."""
    return TACFN(num_classes=num_classes, scale=scale, stem_relu=stem_relu, causal=causal, attn_layers=attn_layers,
                 audio_dropout=audio_dropout)
