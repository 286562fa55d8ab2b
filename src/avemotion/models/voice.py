"""Voice models: emotion from a 16 kHz waveform of any length (issue 23).

A voice model takes `(waves, lengths)`: float32 (B, window_samples) windows of level-normalised
speech (data/voice.py) and the number of real samples in each (a short utterance is zero-padded).
It computes its own log-mel features (so training, export and prediction cannot disagree), normalises
each band per utterance over the real frames only (a microphone's or room's colouring is a constant
offset per band in the log domain), and pools over time with attention, masking the padding.

Voice models have their own registry (a registry per pluggable kind): the audio-video models of
models/registry.py take (video, mfcc) and stay the paper's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from avemotion.data.voice import VoiceConfig, windows
from avemotion.errors import ConfigError

NORMS = ("none", "mean", "meanvar")  # per-utterance normalisation of each log-mel band


@functools.lru_cache(maxsize=4)
def _mel_matrix(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax))


class LogMel(nn.Module):
    """(B, n) waves + lengths -> (log-mel (B, n_mels, T), frame mask (B, T) bool)."""

    def __init__(self, cfg: VoiceConfig, norm: str = "mean"):
        super().__init__()
        if norm not in NORMS:
            raise ConfigError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        self.n_fft, self.hop, self.norm = cfg.n_fft, cfg.hop_length, norm
        mel = _mel_matrix(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
        # buffers, not parameters: they are part of the contract, saved with the weights and checked
        self.register_buffer("mel", mel.clone(), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)

    def frames(self, lengths: torch.Tensor) -> torch.Tensor:
        return lengths // self.hop + 1  # centred STFT: frame i covers sample i * hop

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # zero ("constant") centre padding: a short utterance padded inside a batch then gets exactly
        # the frames it gets alone (reflect padding would mirror its end only when alone)
        spec = torch.stft(waves, self.n_fft, self.hop, window=self.window, center=True, pad_mode="constant",
                          return_complex=True).abs() ** 2
        logmel = torch.log(self.mel @ spec + 1e-6)
        steps = torch.arange(logmel.shape[-1], device=waves.device)
        mask = steps[None, :] < self.frames(lengths)[:, None]
        return self._normalise(logmel, mask), mask

    def _normalise(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.norm == "none":
            return x * mask[:, None]
        m = mask[:, None].to(x.dtype)
        count = m.sum(-1, keepdim=True).clamp_min(1)
        mean = (x * m).sum(-1, keepdim=True) / count
        x = x - mean
        if self.norm == "meanvar":
            std = ((x ** 2 * m).sum(-1, keepdim=True) / count).clamp_min(1e-4).sqrt()
            x = x / std
        return x * m


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride, padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.bn = nn.BatchNorm1d(c_out)
        self.residual = c_in == c_out

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stride > 1:
            mask = mask[:, ::self.stride]
        y = F.relu(self.bn(self.conv(x))) * mask[:, None]
        return (x + y if self.residual else y), mask


class AttentiveStats(nn.Module):
    """Attention weights over the real frames; weighted mean and standard deviation per channel."""

    def __init__(self, channels: int, hidden: int = 64):
        super().__init__()
        self.score = nn.Sequential(nn.Conv1d(channels, hidden, 1), nn.Tanh(), nn.Conv1d(hidden, 1, 1))

    def weights(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T) softmax over each row's real frames (zero on the padding)."""
        scores = self.score(x).squeeze(1).masked_fill(~mask, float("-inf"))
        return torch.softmax(scores, dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = self.weights(x, mask)[:, None]
        mean = (x * w).sum(-1)
        std = ((x ** 2 * w).sum(-1) - mean ** 2).clamp_min(1e-6).sqrt()
        return torch.cat([mean, std], dim=1)


class VoiceCNN(nn.Module):
    """Log-mel -> dilated 1-D convolutions over time (mel bands as channels) -> attentive statistics
    pooling -> a small head. About 0.3 M parameters; real time many times over on one CPU core."""

    def __init__(self, num_classes: int, cfg: VoiceConfig | None = None, *, width: int = 128, embed: int = 256,
                 norm: str = "mean", dropout: float = 0.3):
        super().__init__()
        cfg = cfg or VoiceConfig()
        self.features = LogMel(cfg, norm)
        self.blocks = nn.ModuleList([
            ConvBlock(cfg.n_mels, width, 5, stride=2),  # 20 ms steps: half the cost, enough for prosody
            ConvBlock(width, width, 3, dilation=2),
            ConvBlock(width, width, 3, dilation=3),
            ConvBlock(width, embed, 1),
        ])
        self.pool = AttentiveStats(embed)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * embed, 128), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(128, num_classes))

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor, augment: Callable | None = None) -> torch.Tensor:
        x, mask = self.features(waves, lengths)
        if augment is not None:  # feature-domain augmentation (training only): masks, band gains
            x = augment(x, mask)
        for block in self.blocks:
            x, mask = block(x, mask)
        return self.head(self.pool(x, mask))


# openSMILE functionals a voice model may read: name -> (openSMILE feature set, features per utterance)
FUNCTIONALS = {"egemaps02": ("eGeMAPSv02", 88), "compare16": ("ComParE_2016", 6373)}


class FunctionalsModel(nn.Module):
    """openSMILE functionals of the whole utterance, standardised with the training set's statistics
    (buffers, saved with the weights), then a small MLP (`hidden=0`: a linear classifier).

    eGeMAPS v02 (88: pitch, loudness, voice quality, spectral balance, formants, rhythm; Eyben et al.
    2016) is the field's standard minimal set; ComParE 2016 (6373) its large brute-force set. On these
    corpora both carry across corpora far better than a log-mel CNN trained from scratch
    (docs/results.md). openSMILE is an optional dependency under audEERING's research licence
    (`pip install avemotion[egemaps]`): research, private and educational use."""

    whole_utterance = True  # functionals summarise any length: one window, the whole speech

    def __init__(self, num_classes: int, cfg: VoiceConfig | None = None, *, features: str = "egemaps02",
                 hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        if features not in FUNCTIONALS:
            raise ConfigError(f"features must be one of {', '.join(FUNCTIONALS)}, got {features!r}")
        self.feature_set, self.n_features = features, FUNCTIONALS[features][1]
        self.sample_rate = (cfg or VoiceConfig()).sample_rate
        self.register_buffer("mean", torch.zeros(self.n_features))
        self.register_buffer("std", torch.ones(self.n_features))
        if hidden:
            self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(self.n_features, hidden), nn.ReLU(), nn.Dropout(dropout),
                                      nn.Linear(hidden, num_classes))
        else:
            self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(self.n_features, num_classes))

    def features(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, n_features) functionals of each row's real samples."""
        smile = functionals_extractor(FUNCTIONALS[self.feature_set][0])
        rows = [smile.process_signal(w[:int(n)].numpy(), self.sample_rate).to_numpy()[0] for w, n in zip(waves, lengths)]
        x = torch.from_numpy(np.stack(rows).astype(np.float32))
        return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)  # openSMILE gives NaN for a few degenerate inputs

    def feature_name(self) -> str:
        """What computed the features (their cache key): the set and openSMILE's version."""
        return f"{self.feature_set}-opensmile{opensmile_version()}"

    def fit_standardisation(self, features: torch.Tensor) -> None:
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-6))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.head((features - self.mean) / self.std)

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor, augment: Callable | None = None) -> torch.Tensor:
        return self.classify(self.features(waves, lengths))


@functools.lru_cache(maxsize=2)
def functionals_extractor(feature_set: str):
    try:
        import opensmile
    except ImportError:
        raise ConfigError("this voice model needs openSMILE: pip install 'avemotion[egemaps]' (audEERING research "
                          "licence: research, private and educational use)") from None
    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                           feature_level=opensmile.FeatureLevel.Functionals)


def opensmile_version() -> str:
    from importlib.metadata import version

    return version("opensmile")


def model_windows(model: nn.Module, wave: np.ndarray, cfg: VoiceConfig) -> tuple[np.ndarray, np.ndarray]:
    """What a model sees of an utterance: the whole speech for a model of functionals, else the
    fixed windows of data.voice.windows (a long utterance's outputs are then averaged)."""
    if getattr(model, "whole_utterance", False):
        return wave[None].astype(np.float32), np.array([len(wave)], dtype=np.int64)
    return windows(wave, cfg)


@dataclass(frozen=True)
class VoiceModelInfo:
    name: str
    factory: Callable[..., nn.Module]
    description: str

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.factory(num_classes=8).parameters())


_VOICE_MODELS: dict[str, VoiceModelInfo] = {}


def register_voice_model(name: str, description: str):
    def wrap(factory):
        if name in _VOICE_MODELS:
            raise ValueError(f"voice model {name!r} registered twice")
        _VOICE_MODELS[name] = VoiceModelInfo(name, factory, description)
        return factory

    return wrap


def list_voice_models() -> list[str]:
    return sorted(_VOICE_MODELS)


def voice_model_info(name: str) -> VoiceModelInfo:
    if name not in _VOICE_MODELS:
        raise ConfigError(f"unknown voice model {name!r}; known: {', '.join(list_voice_models())}")
    return _VOICE_MODELS[name]


def create_voice_model(name: str, num_classes: int, cfg: VoiceConfig | None = None, **options) -> nn.Module:
    """Build a registered voice model; name and options are recorded on it for its weights file."""
    model = voice_model_info(name).factory(num_classes=num_classes, cfg=cfg, **options)
    model.voice_name, model.voice_options = name, dict(options)
    return model


@register_voice_model("voice_cnn", "log-mel (64 bands to 8 kHz), per-utterance band normalisation, dilated 1-D CNN, attentive statistics pooling")
def voice_cnn(*, num_classes: int, cfg: VoiceConfig | None = None, **options) -> nn.Module:
    return VoiceCNN(num_classes, cfg, **options)


@register_voice_model("egemaps_mlp", "eGeMAPS v02 functionals of the whole utterance (openSMILE), standardised, MLP (128 hidden)")
def egemaps_mlp(*, num_classes: int, cfg: VoiceConfig | None = None, **options) -> nn.Module:
    return FunctionalsModel(num_classes, cfg, features="egemaps02", **options)


@register_voice_model("egemaps_linear", "eGeMAPS v02 functionals of the whole utterance (openSMILE), standardised, linear")
def egemaps_linear(*, num_classes: int, cfg: VoiceConfig | None = None, **options) -> nn.Module:
    return FunctionalsModel(num_classes, cfg, features="egemaps02", hidden=0, **options)


@register_voice_model("compare_linear", "ComParE 2016 functionals (6373) of the whole utterance (openSMILE), standardised, linear")
def compare_linear(*, num_classes: int, cfg: VoiceConfig | None = None, **options) -> nn.Module:
    return FunctionalsModel(num_classes, cfg, features="compare16", hidden=0, **options)
