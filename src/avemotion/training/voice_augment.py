"""Augmentation for voice models: what another microphone, room, line or codec does to speech.

Waveform domain, on a batch (B, n) of level-normalised speech with its real lengths, each effect drawn
per clip with its own probability from a seeded generator:
- speed (0.9-1.1: tempo and pitch together, as a resampled recording);
- reverberation (a synthetic exponentially decaying impulse response, RT60 0.15-0.7 s);
- band limits and colour (a low-pass at 3-7.5 kHz as a telephone or 16 kHz-only device does, a
  high-pass at 50-300 Hz, a smooth random equaliser of +-6 dB);
- noise (white, pink or brown at 5-30 dB SNR);
- a codec (mu-law at 6-8 bits) and a level error (+-6 dB).
Feature domain (SpecAugment): band and time masks on the log-mel features.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


class WaveAugment:
    def __init__(self, sample_rate: int, generator: torch.Generator, strength: float = 1.0):
        self.sr, self.g, self.strength = sample_rate, generator, strength

    def _u(self, n: int, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=self.g)

    def _pick(self, n: int, p: float) -> torch.Tensor:
        return torch.rand(n, generator=self.g) < p * self.strength

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        waves, lengths = self.speed(waves, lengths)
        mask = (torch.arange(waves.shape[1])[None] < lengths[:, None]).to(waves.dtype)
        waves = self.reverb(waves) * mask
        waves = self.band(waves) * mask
        waves = self.noise(waves, mask) * mask
        waves = self.codec_and_level(waves) * mask
        return waves, lengths

    def speed(self, waves, lengths):
        chosen = self._pick(len(waves), 0.5)
        if not chosen.any():
            return waves, lengths
        factors = self._u(len(waves), 0.9, 1.1)
        out, new_lengths = [], lengths.clone()
        for i, w in enumerate(waves):
            if chosen[i]:
                n = int(lengths[i])
                m = max(1, int(round(n / float(factors[i]))))
                w = F.interpolate(w[None, None, :n], size=m, mode="linear", align_corners=False)[0, 0]
                new_lengths[i] = m
            out.append(w[:int(new_lengths[i])])
        width = int(new_lengths.max())
        return torch.stack([F.pad(w, (0, width - len(w))) for w in out]), new_lengths

    def _on_some(self, waves: torch.Tensor, p: float, effect) -> torch.Tensor:
        """`effect` applied to the rows drawn with probability p (only those are computed)."""
        rows = torch.nonzero(self._pick(len(waves), p)).flatten()
        if not len(rows):
            return waves
        out = waves.clone()
        out[rows] = effect(waves[rows], rows)
        return out

    def reverb(self, waves):
        return self._on_some(waves, 0.3, self._reverb)

    def _reverb(self, waves, rows):
        n_rir = int(0.5 * self.sr)
        t = torch.arange(n_rir) / self.sr
        rt60 = self._u(len(waves), 0.15, 0.7)[:, None]
        rir = torch.randn(len(waves), n_rir, generator=self.g) * torch.exp(-6.9 * t[None] / rt60)
        rir[:, 0] = 1.0
        rir = rir / rir.norm(dim=1, keepdim=True)
        size = waves.shape[1] + n_rir
        wet = torch.fft.irfft(torch.fft.rfft(waves, n=size) * torch.fft.rfft(rir, n=size), n=size)[:, :waves.shape[1]]
        return wet * _rms(waves) / _rms(wet)

    def band(self, waves):
        return self._on_some(waves, 0.5, self._band)

    def _band(self, waves, rows):
        n = len(waves)
        spec = torch.fft.rfft(waves)
        freqs = torch.fft.rfftfreq(waves.shape[1], 1 / self.sr)[None]
        low = torch.where(self._pick(n, 0.5), self._u(n, 3000, 7500), torch.full((n,), 1e9))
        high = torch.where(self._pick(n, 0.5), self._u(n, 50, 300), torch.zeros(n))
        gain = ((freqs <= low[:, None]) & (freqs >= high[:, None])).to(waves.dtype)
        gain = gain * _smooth_eq(n, freqs, self.sr, self.g)
        out = torch.fft.irfft(spec * gain, n=waves.shape[1])
        return out * _rms(waves) / _rms(out)

    def noise(self, waves, mask):
        return self._on_some(waves, 0.4, lambda w, rows: self._noise(w, mask[rows]))

    def _noise(self, waves, mask):
        n = len(waves)
        colour = torch.randint(0, 3, (n,), generator=self.g)  # white, pink, brown: spectra f^0, f^-1, f^-2
        white = torch.randn(waves.shape, generator=self.g)
        freqs = torch.fft.rfftfreq(waves.shape[1], 1 / self.sr).clamp_min(20.0)[None]
        shaped = torch.fft.irfft(torch.fft.rfft(white) / freqs ** (colour[:, None] / 2), n=waves.shape[1])
        snr_db = self._u(n, 5, 30)[:, None]
        return waves + shaped * mask * _rms(waves) / _rms(shaped * mask) / 10 ** (snr_db / 20)

    def codec_and_level(self, waves):
        waves = self._on_some(waves, 0.2, self._codec)
        gain_db = torch.where(self._pick(len(waves), 0.5), self._u(len(waves), -6, 6), torch.zeros(len(waves)))
        return waves * 10 ** (gain_db[:, None] / 20)

    def _codec(self, waves, rows):
        """mu-law companding at 6-8 bits, the quantisation of telephone and low-rate codecs."""
        bits = torch.randint(6, 9, (len(waves),), generator=self.g)[:, None].to(waves.dtype)
        levels, mu = 2 ** bits - 1, 255.0
        x = waves.clamp(-1, 1)
        y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
        y = torch.round((y + 1) / 2 * levels) / levels * 2 - 1
        return torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-12).sqrt()


def _smooth_eq(n: int, freqs: torch.Tensor, sr: int, g: torch.Generator) -> torch.Tensor:
    """A random equaliser: +-6 dB at 6 knots spread on a log-frequency axis, interpolated linearly."""
    knots_db = (torch.rand(n, 6, generator=g) * 2 - 1) * 6
    pos = torch.log(freqs.clamp(50, sr / 2) / 50) / math.log(sr / 2 / 50) * 5  # 0..5 along the knots
    lo = pos.floor().long().clamp(0, 4)
    frac = pos - lo
    db = knots_db.gather(1, lo.expand(n, -1)) * (1 - frac) + knots_db.gather(1, (lo + 1).expand(n, -1)) * frac
    return 10 ** (db / 20)


def spec_augment(g: torch.Generator, band_masks: int = 2, band_width: int = 8, time_masks: int = 2, time_width: int = 20):
    """A function (features (B, M, T), mask) -> features with random bands and spans zeroed."""

    def apply(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, m, t = x.shape
        keep = torch.ones_like(x)
        for _ in range(band_masks):
            width = torch.randint(0, band_width + 1, (b,), generator=g)
            start = (torch.rand(b, generator=g) * (m - width)).long()
            bands = torch.arange(m)[None]
            keep = keep * ~((bands >= start[:, None]) & (bands < (start + width)[:, None]))[:, :, None]
        for _ in range(time_masks):
            width = torch.randint(0, time_width + 1, (b,), generator=g)
            start = (torch.rand(b, generator=g) * (t - width).clamp_min(1)).long()
            steps = torch.arange(t)[None]
            keep = keep * ~((steps >= start[:, None]) & (steps < (start + width)[:, None]))[:, None, :]
        return x * keep

    return apply
