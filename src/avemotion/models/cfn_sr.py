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

import inspect
from dataclasses import dataclass, field

import torch
from torch import nn

from avemotion.errors import ConfigError
from avemotion.models.attention import SelfAttentionEncoder
from avemotion.models.base import AVModel, check_choice
from avemotion.models.encoders import AudioEncoder, VideoEncoder
from avemotion.models.heads import pool_video
from avemotion.models.registry import register_model
from avemotion.models.sizes import Scale, get_scale

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
    summed map is applied to every sample (a prediction then depends on its batch). `multiplier`
    multiplies the finished map (after the softmax and any batch sum), not the scores.
    """

    def __init__(self, feature_dim: int, guide_dim: int, hidden: int, *, attention: str, multiplier: float):
        super().__init__()
        check_choice("attention", attention, ATTENTION_MODES)
        if not multiplier > 0:
            raise ConfigError(f"attention_multiplier must be > 0, got {multiplier!r}")
        self.guide_proj = nn.Linear(guide_dim, hidden, bias=False)
        self.feature_proj = nn.Linear(feature_dim, hidden)
        self.score = nn.Linear(hidden, 1)
        self.attention = attention
        self.multiplier = multiplier

    def forward(self, features: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """features (B, G, N, C), guide (B, D) -> weights (B, G, N), or (1, G, N) in batch_sum mode."""
        h = torch.tanh(self.feature_proj(features) + self.guide_proj(guide)[:, None, None, :])
        weights = torch.softmax(self.score(h).squeeze(-1), dim=-1)
        if self.attention == "batch_sum":
            weights = weights.sum(dim=0, keepdim=True)
        return weights * self.multiplier


def make_self_attention(scale: Scale, dim: int, causal: bool) -> SelfAttentionEncoder:
    return SelfAttentionEncoder(dim, scale.heads, scale.ff, scale.attn_layers, causal=causal)


class CFNSR(AVModel):
    """CFN-SR; `block`, `self_attention` and `residual` switch off the parts Table 2 ablates."""

    def __init__(
        self,
        *,
        num_classes: int,
        scale: str,
        stem_relu: bool,
        attention: str,
        attention_multiplier: float,
        causal: bool,
        audio_dropout: float,
        block: bool = True,
        self_attention: bool = True,
        residual: bool = True,
    ):
        super().__init__(num_classes)
        s = get_scale(scale)
        self.video_encoder = VideoEncoder(s, stem_relu=stem_relu)
        self.audio_encoder = AudioEncoder(s)
        c, d = self.video_encoder.out_channels, self.audio_encoder.out_channels
        self.block = block
        self.residual = residual
        self.self_attention = make_self_attention(s, d, causal) if block and self_attention else None
        self.cross = GuidedAttention(c, d, d, attention=attention, multiplier=attention_multiplier) if block else None
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

    def __init__(self, *, num_classes: int, scale: str, stem_relu: bool, attention: str, attention_multiplier: float,
                 causal: bool, audio_dropout: float):
        super().__init__(num_classes)
        s = get_scale(scale)
        self.video_encoder = VideoEncoder(s, stem_relu=stem_relu)
        self.audio_encoder = AudioEncoder(s)
        c, d = self.video_encoder.out_channels, self.audio_encoder.out_channels
        self.video_tokens = nn.Linear(c, d)
        self.self_attention = make_self_attention(s, d, causal)
        self.cross = GuidedAttention(d, d, d, attention=attention, multiplier=attention_multiplier)
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


# The factory keywords of the family, with their defaults, in signature order. Every variant takes
# num_classes, scale, its own options and the last two; a keyword it does not take still reaches the
# model with its default (e.g. `attention` of cfn_sr_no_block, whose model has no block to use it).
KEYWORDS = {
    "num_classes": (int, 8),
    "scale": (str, "full"),
    "attention": (str, "per_sample"),
    "attention_multiplier": (float, 1.0),
    "causal": (bool, True),
    "stem_relu": (bool, True),
    "audio_dropout": (float, AUDIO_DROPOUT),
}
BLOCK_OPTIONS = ("attention", "attention_multiplier", "causal")


@dataclass(frozen=True)
class Variant:
    """One model of paper Table 2: its registry entry, the options it takes and what it switches off."""

    name: str
    fusion: str
    paper_accuracy: float
    paper_params: float
    description: str
    options: tuple[str, ...] = BLOCK_OPTIONS
    switches: dict = field(default_factory=dict)  # CFNSR's block / self_attention / residual
    model: type = CFNSR


VARIANTS = (
    Variant("cfn_sr", "intermediate", 75.76, 26.30,
            "CFN-SR: audio self-attention selects, video positions are reinforced with a residual."),
    # What is left without the block is feature concatenation, hence "early".
    Variant("cfn_sr_no_block", "early", 73.50, 25.92,
            "CFN-SR without the cross-modal block: pooled video ++ flattened audio -> linear.",
            options=(), switches={"block": False}),
    # No transformer, so no causal mask to choose.
    Variant("cfn_sr_no_sa", "intermediate", 73.86, 26.05,
            "CFN-SR without audio self-attention: the mean of the audio steps guides the block.",
            options=("attention", "attention_multiplier"), switches={"self_attention": False}),
    Variant("cfn_sr_no_residual", "intermediate", 75.33, 26.30,
            "CFN-SR without the residual: video * weights only.", switches={"residual": False}),
    Variant("cfn_sr_v2a", "intermediate", 74.15, 25.67,
            "CFN-SR reversed (V->A): video self-attention selects, audio steps are reinforced.",
            model=CFNSRReversed),
)


def factory_signature(variant: Variant) -> inspect.Signature:
    names = ("num_classes", "scale", *variant.options, "stem_relu", "audio_dropout")
    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=KEYWORDS[n][1], annotation=KEYWORDS[n][0])
              for n in names]
    return inspect.Signature(params, return_annotation=variant.model)


def make_factory(variant: Variant):
    """A keyword-only factory with a real signature: training reads it to pass only the keywords a
    model takes, and a keyword outside it is a TypeError, as for a hand-written factory."""
    signature = factory_signature(variant)

    def factory(**config):
        given = signature.bind(**config).arguments
        arguments = {name: default for name, (_, default) in KEYWORDS.items()} | given
        return variant.model(**arguments, **variant.switches)

    factory.__name__ = factory.__qualname__ = variant.name
    factory.__doc__ = variant.description
    factory.__signature__ = signature
    return factory


FACTORIES = {
    v.name: register_model(v.name, fusion=v.fusion, paper_accuracy=v.paper_accuracy, paper_params=v.paper_params)(
        make_factory(v)
    )
    for v in VARIANTS
}
