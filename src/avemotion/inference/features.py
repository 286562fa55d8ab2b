"""The one place inference calls the data layer's preprocessing (the code training used).

Nothing here computes features: it only asks `avemotion.data.preprocess.preprocess` for the arrays
of a whole clip or of windows, with one modality left out when prediction falls back to the other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from avemotion.config import PreprocessConfig
from avemotion.errors import ConfigError, InputError

# Face crops the data layer may hold at once for one preprocess(windows=...) call (bytes): the S x S crop
# of each sampled frame (not the decoded frame) and each window's stack of crops, so a chunk covers
# a minute or more of video; each chunk decodes the file from its start, so fewer, larger chunks are
# cheaper.
FRAME_BUDGET = 512 * 2**20
BOTH = ("video", "audio")


def probe(path: str | Path):
    from avemotion.data.media import probe as data_probe

    return data_probe(path)


def extract(path: Path, cfg: PreprocessConfig, info, spans, landmarks, modalities) -> list:
    """ClipArrays of the whole clip (spans None) or of each span, holding `modalities`; a span none of
    whose sampled frames shows a face is an InputError(no_face) in the list.

    The whole clip with both modalities is preprocessed as a whole clip, exactly as in training;
    windows, and a clip missing one modality, as windows holding `modalities`."""
    from avemotion.data.preprocess import preprocess

    if spans is None and tuple(modalities) == BOTH:
        return [preprocess(path, cfg, landmarks=landmarks)]
    spans = spans or [(0.0, info.duration)]
    arrays = preprocess(path, cfg, windows=spans, landmarks=landmarks, modalities=modalities)
    for a in arrays:
        if isinstance(a, InputError) and a.code != "no_face":  # e.g. a window whose audio track ends early
            raise a
    return arrays  # a window without a face stays an InputError: the caller may fall back to audio


def windows_per_call(info, cfg: PreprocessConfig, window: float, hop: float) -> int:
    """How many windows one preprocess(windows=...) call may take within FRAME_BUDGET.

    A call holds the crop of each distinct sampled frame (overlapping windows share frames: n
    windows span (n - 1) * hop + window seconds, sampled at num_frames / window frames per second,
    at most the video's own rate) and, per window, its own stack of num_frames crops."""
    frame_bytes = cfg.frame_size * cfg.frame_size * 3
    rate = min(cfg.num_frames / window, info.fps or cfg.num_frames / window)
    first = frame_bytes * (cfg.num_frames + rate * window)
    each = frame_bytes * (cfg.num_frames + rate * hop)
    return max(1, int((FRAME_BUDGET - first) // each) + 1)


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


def check_detector(cfg: PreprocessConfig) -> None:
    """ConfigError (one line) before any file when the face detector cannot run here."""
    if "video" in cfg.modalities:
        from avemotion.data.detectors import check

        check(cfg.detector)


def predict_detector(run) -> str | None:
    """The detector that reproduces the crop rule a run was trained with, on videos without
    landmarks: dlib68 (box of 68 predicted points, the rule of the OpenFace CSVs) when most of its
    training faces came from landmark CSVs and the 68-point model is installed; None (the run's own
    detector) otherwise, or when the run does not say where its faces came from."""
    from avemotion.data import detectors
    from avemotion.registries import detectors as detector_registry

    sources = training_face_sources(run.record)
    if not sources or sources.get("landmarks", 0) * 2 <= sum(sources.values()):
        return None
    if not detectors.landmarks_available():
        return None  # the run's detector box; `pip install -e ".[landmarks]"` gives the CSV rule
    return detector_registry.LANDMARK_DETECTOR


def training_face_sources(run) -> dict[str, int]:
    """Clips per face source ("landmarks", "detector") of the cache a run was trained on: from
    run.json when it records them, else from the cache's report.json when the cache is still where
    run.json says; {} when neither is there (a copied run without its cache)."""
    from avemotion.utils.io import read_json

    if isinstance(run.face_sources, dict):  # run: a run_layout.RunRecord
        return run.face_sources
    report = Path(run.cache) / "report.json" if run.cache else None
    if report is None or not report.is_file():
        return {}
    try:
        sources = read_json(report).get("face_sources") or {}
    except (ConfigError, OSError, AttributeError):  # a damaged report loses this default, not the prediction
        return {}
    return {str(k): int(v) for k, v in sources.items()} if isinstance(sources, dict) else {}
