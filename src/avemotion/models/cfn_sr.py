"""CFN-SR (Fu et al., ICASSP 2022) and its ablations (paper Table 2).

Fusion happens once, on the video map after layer4 (B, 2048, 2, 7, 7) and the audio features after
the audio encoder's last BN (B, 64, 26):

1. audio self-attention (5-layer pre-norm Transformer); the last step is the selected audio vector;
2. a score per video position: linear(audio, no bias) + linear(video position) -> tanh -> linear 1,
   softmax over the spatial positions of each time step;
3. residual reinforcement: video * weights + video;
4. head: pooled reinforced video ++ flattened original audio after Dropout(0.4) -> linear (the
   published model applies the audio network's own head dropout there; `audio_dropout=0` disables).
"""

from __future__ import annotations

import torch
from torch import nn

from avemotion.errors import ConfigError
from avemotion.models.attention import SelfAttentionEncoder
from avemotion.models.base import AVModel, Scale, check_choice, get_scale, pool_video
from avemotion.models.encoders import AudioEncoder, VideoEncoder
from avemotion.models.registry import register_model

ATTENTION_MODES = ("per_sample", "batch_sum")
AUDIO_DROPOUT = 0.4  # the published head: flattened audio -> Dropout(0.4), as in the audio network


def audio_dropout_layer(p: float) -> nn.Dropout:
    """Dropout on the flattened audio features before the fusion head (0 disables it)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ConfigError(f"audio_dropout must be a number in [0, 1), got {p!r}")
    return nn.Dropout(float(p))


class GuidedAttention(nn.Module):
    """Weights over positions of one modality, guided by a vector from the other.

    score(p) = w . tanh(W_g guide + W_f feature_p + b) + c, softmax over the N positions of each
    group. `batch_sum` is the published behaviour: the maps are summed over the batch and the one
    summed map is applied to every sample (a prediction then depends on its batch).
    """

    def __init__(self, feature_dim: int, guide_dim: int, hidden: int, *, attention: str, scale: float):
        super().__init__()
        check_choice("attention", attention, ATTENTION_MODES)
        if not scale > 0:
            raise ConfigError(f"attention_scale must be > 0, got {scale!r}")
        self.guide_proj = nn.Linear(guide_dim, hidden, bias=False)
        self.feature_proj = nn.Linear(feature_dim, hidden)
        self.score = nn.Linear(hidden, 1)
        self.attention = attention
        self.scale = scale

    def forward(self, features: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """features (B, G, N, C), guide (B, D) -> weights (B, G, N), or (1, G, N) in batch_sum mode."""
        h = torch.tanh(self.feature_proj(features) + self.guide_proj(guide)[:, None, None, :])
        weights = torch.softmax(self.score(h).squeeze(-1), dim=-1)
        if self.attention == "batch_sum":
            weights = weights.sum(dim=0, keepdim=True)
        return weights * self.scale


def make_self_attention(scale: Scale, dim: int, causal: bool) -> SelfAttentionEncoder:
    return SelfAttentionEncoder(dim, scale.heads, scale.ff, scale.attn_layers, causal=causal)


class CFNSR(AVModel):
    def __init__(
        self,
        *,
        num_classes: int,
        scale: str,
        stem_relu: bool,
        attention: str = "per_sample",
        attention_scale: float = 1.0,
        causal: bool = True,
        block: bool = True,
        self_attention: bool = True,
        residual: bool = True,
        audio_dropout: float = AUDIO_DROPOUT,
    ):
        super().__init__(num_classes)
        s = get_scale(scale)
        self.video_encoder = VideoEncoder(s, stem_relu=stem_relu)
        self.audio_encoder = AudioEncoder(s)
        c, d = self.video_encoder.out_channels, self.audio_encoder.out_channels
        self.block = block
        self.residual = residual
        self.self_attention = make_self_attention(s, d, causal) if block and self_attention else None
        self.cross = GuidedAttention(c, d, d, attention=attention, scale=attention_scale) if block else None
        self.audio_dropout = audio_dropout_layer(audio_dropout)
        self.head = nn.Linear(c + self.audio_encoder.flat_dim, num_classes)

    def select_audio(self, audio_features: torch.Tensor) -> torch.Tensor:
        tokens = audio_features.transpose(1, 2)  # (B, L, d)
        if self.self_attention is None:
            return tokens.mean(dim=1)  # ablation: no self-attention, plain average of the steps
        return self.self_attention(tokens)[:, -1]

    def reinforce(self, video_features: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = video_features.shape
        positions = video_features.flatten(3).permute(0, 2, 3, 1)  # (B, T, H*W, C)
        weights = self.cross(positions, selected).view(-1, 1, t, h, w)
        out = video_features * weights
        return out + video_features if self.residual else out

    def forward(self, video, audio):
        v = self.video_encoder(video)
        a = self.audio_encoder(audio)
        if self.block:
            v = self.reinforce(v, self.select_audio(a))
        return self.head(torch.cat([pool_video(v), self.audio_dropout(a.flatten(1))], dim=1))


class CFNSRReversed(AVModel):
    """Direction reversed: video tokens go through self-attention and select; audio is reinforced.

    The 2048-d video positions are first projected to the audio width (64) so the same Transformer
    as CFN-SR applies; the last video token (time-major order) is the selected vector; the weights
    are a softmax over the 26 audio steps; audio * weights + audio feeds the head (after the same
    audio dropout as CFN-SR's).
    """

    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool, attention: str, attention_scale: float, causal: bool,
                 audio_dropout: float = AUDIO_DROPOUT):
        super().__init__(num_classes)
        s = get_scale(scale)
        self.video_encoder = VideoEncoder(s, stem_relu=stem_relu)
        self.audio_encoder = AudioEncoder(s)
        c, d = self.video_encoder.out_channels, self.audio_encoder.out_channels
        self.video_tokens = nn.Linear(c, d)
        self.self_attention = make_self_attention(s, d, causal)
        self.cross = GuidedAttention(d, d, d, attention=attention, scale=attention_scale)
        self.audio_dropout = audio_dropout_layer(audio_dropout)
        self.head = nn.Linear(c + self.audio_encoder.flat_dim, num_classes)

    def forward(self, video, audio):
        v = self.video_encoder(video)
        a = self.audio_encoder(audio)  # (B, d, L)
        tokens = self.video_tokens(v.flatten(2).transpose(1, 2))  # (B, T*H*W, d)
        selected = self.self_attention(tokens)[:, -1]
        weights = self.cross(a.transpose(1, 2)[:, None], selected)  # (B|1, 1, L)
        a_out = a * weights + a
        return self.head(torch.cat([pool_video(v), self.audio_dropout(a_out.flatten(1))], dim=1))


@register_model("cfn_sr", fusion="intermediate", paper_accuracy=75.76, paper_params=26.30)
def cfn_sr(
    *,
    num_classes: int = 8,
    scale: str = "full",
    attention: str = "per_sample",
    attention_scale: float = 1.0,
    causal: bool = True,
    stem_relu: bool = True,
    audio_dropout: float = AUDIO_DROPOUT,
) -> CFNSR:
    """CFN-SR: audio self-attention selects, video positions are reinforced with a residual."""
    return CFNSR(num_classes=num_classes, scale=scale, stem_relu=stem_relu, attention=attention,
                 attention_scale=attention_scale, causal=causal, audio_dropout=audio_dropout)


@register_model("cfn_sr_no_block", fusion="early", paper_accuracy=73.50, paper_params=25.92)
def cfn_sr_no_block(
    *, num_classes: int = 8, scale: str = "full", stem_relu: bool = True, audio_dropout: float = AUDIO_DROPOUT
) -> CFNSR:
    """CFN-SR without the cross-modal block: pooled video ++ flattened audio -> linear."""
    return CFNSR(num_classes=num_classes, scale=scale, stem_relu=stem_relu, block=False, audio_dropout=audio_dropout)


@register_model("cfn_sr_no_sa", fusion="intermediate", paper_accuracy=73.86, paper_params=26.05)
def cfn_sr_no_sa(
    *,
    num_classes: int = 8,
    scale: str = "full",
    attention: str = "per_sample",
    attention_scale: float = 1.0,
    stem_relu: bool = True,
    audio_dropout: float = AUDIO_DROPOUT,
) -> CFNSR:
    """CFN-SR without audio self-attention: the mean of the audio steps guides the block."""
    return CFNSR(num_classes=num_classes, scale=scale, stem_relu=stem_relu, attention=attention,
                 attention_scale=attention_scale, self_attention=False, audio_dropout=audio_dropout)


@register_model("cfn_sr_no_residual", fusion="intermediate", paper_accuracy=75.33, paper_params=26.30)
def cfn_sr_no_residual(
    *,
    num_classes: int = 8,
    scale: str = "full",
    attention: str = "per_sample",
    attention_scale: float = 1.0,
    causal: bool = True,
    stem_relu: bool = True,
    audio_dropout: float = AUDIO_DROPOUT,
) -> CFNSR:
    """CFN-SR without the residual: video * weights only."""
    return CFNSR(num_classes=num_classes, scale=scale, stem_relu=stem_relu, attention=attention,
                 attention_scale=attention_scale, causal=causal, residual=False, audio_dropout=audio_dropout)


@register_model("cfn_sr_v2a", fusion="intermediate", paper_accuracy=74.15, paper_params=25.67)
def cfn_sr_v2a(
    *,
    num_classes: int = 8,
    scale: str = "full",
    attention: str = "per_sample",
    attention_scale: float = 1.0,
    causal: bool = True,
    stem_relu: bool = True,
    audio_dropout: float = AUDIO_DROPOUT,
) -> CFNSRReversed:
    """CFN-SR reversed (V->A): video self-attention selects, audio steps are reinforced."""
    return CFNSRReversed(
        num_classes=num_classes,
        scale=scale,
        stem_relu=stem_relu,
        attention=attention,
        attention_scale=attention_scale,
        causal=causal,
        audio_dropout=audio_dropout,
    )
