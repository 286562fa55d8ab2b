"""Audio feature selection: a pre-norm Transformer encoder over the audio steps (CFN-SR, TACFN).

Per layer: LayerNorm -> multi-head self-attention (in_proj with bias, out_proj) -> dropout -> add;
LayerNorm -> linear d->ff -> ReLU -> dropout -> linear ff->d -> dropout -> add. A final LayerNorm.
With d=64, 8 heads, ff 256, 5 layers this is 249,920 + 128 = 250,048 parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_positions(length: int, dim: int, device=None, dtype=None) -> torch.Tensor:
    """(length, dim): sines in the first half, cosines in the second, positions counted from 1."""
    half = dim // 2
    freq = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * -(math.log(10000.0) / max(half - 1, 1)))
    angle = torch.arange(1, length + 1, device=device, dtype=torch.float32)[:, None] * freq[None, :]
    table = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)
    if dim % 2:
        table = F.pad(table, (0, 1))
    return table.to(dtype or torch.float32)


class PreNormLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ff: int, attn_dropout: float, relu_dropout: float, res_dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=attn_dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, ff)
        self.fc2 = nn.Linear(ff, dim)
        self.relu_dropout = nn.Dropout(relu_dropout)
        self.res_dropout = nn.Dropout(res_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        h = self.norm1(x)
        h, _ = self.attn(h, h, h, attn_mask=mask, need_weights=False)
        x = x + self.res_dropout(h)
        h = self.fc2(self.relu_dropout(F.relu(self.fc1(self.norm2(x)))))
        return x + self.res_dropout(h)


class SelfAttentionEncoder(nn.Module):
    """(B, L, d) tokens -> (B, L, d). Inputs are scaled by sqrt(d) (8 for d=64) before the positions.

    `causal=True` is what the published CFN-SR code does (each step attends to itself and earlier
    steps); the last step, the one CFN-SR keeps, still sees every step.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        ff: int,
        layers: int,
        *,
        causal: bool = True,
        emb_dropout: float = 0.3,
        attn_dropout: float = 0.1,
        relu_dropout: float = 0.1,
        res_dropout: float = 0.1,
    ):
        super().__init__()
        self.dim = dim
        self.causal = causal
        self.emb_dropout = nn.Dropout(emb_dropout)
        self.layers = nn.ModuleList(PreNormLayer(dim, heads, ff, attn_dropout, relu_dropout, res_dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        x = tokens * math.sqrt(self.dim) + sinusoidal_positions(length, self.dim, tokens.device, tokens.dtype)
        x = self.emb_dropout(x)
        mask = None
        if self.causal:
            mask = torch.ones(length, length, dtype=torch.bool, device=tokens.device).triu(1)  # True = blocked
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)
