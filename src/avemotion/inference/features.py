"""The one place inference calls the data layer's preprocessing (the code training used).

Nothing here computes features: it only asks `avemotion.data.preprocess` for the arrays of a whole
clip or of windows, with one modality left out when prediction falls back to the other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from avemotion.config import PreprocessConfig


def probe(path: str | Path):
    from avemotion.data.preprocess import probe as data_probe

    return data_probe(path)


def _modality_flags(modalities: tuple[str, ...]) -> dict:
    flags = {}
    if "audio" not in modalities:
        flags["video_frames_only"] = True
    if "video" not in modalities:
        flags["audio_only"] = True
    return flags


def clip_arrays(path, cfg: PreprocessConfig, landmarks, modalities):
    from avemotion.data.preprocess import preprocess_clip

    return preprocess_clip(path, cfg, landmarks=landmarks, **_modality_flags(modalities))


def window_arrays(path, cfg: PreprocessConfig, spans, landmarks, modalities):
    """One entry per span: ClipArrays, or the InputError that window raised."""
    from avemotion.data.preprocess import preprocess_windows

    return preprocess_windows(path, cfg, spans, landmarks=landmarks, **_modality_flags(modalities))


def to_batch(arrays: list, modalities: tuple[str, ...], device: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Model inputs: video normalised on the device exactly as in training, MFCC as stored."""
    from avemotion.data.transforms import normalize_video

    video = audio = None
    if "video" in modalities:
        frames = torch.from_numpy(np.stack([a.video for a in arrays]))  # (B, T, S, S, 3) uint8
        video = normalize_video(frames.permute(0, 4, 1, 2, 3).to(device))  # (B, 3, T, S, S)
    if "audio" in modalities:
        audio = torch.from_numpy(np.stack([a.mfcc for a in arrays]).astype(np.float32)).to(device)
    return video, audio
