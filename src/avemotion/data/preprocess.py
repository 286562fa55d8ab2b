"""The one preprocessing entry point shared by `prepare`, training and prediction (SPEC 2):
`preprocess(path, cfg)` for a whole clip, `span=(start, end)` for a clip cut from a longer recording,
`windows=[...]` for prediction's windows of one file.

Video: frames at start + i * (end - start) / T, a face box per frame (landmarks, else the detector),
crop (fixed or legacy) to uint8 RGB S x S (data.face_plan). Audio: the clip's own track, mono 44.1
kHz, the window of cfg.audio_window, 13 MFCCs padded/cropped to `mfcc_frames` (data.audio). Opening,
probing and decoding containers: data.media. The input checks are made here, once, for every kind of
call; the modules below trust what they are given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemotion.config import MODALITIES, PreprocessConfig
from avemotion.data.audio import (compute_mfcc, decode_audio, decode_audio_span, short_rule, shortest_clip,
                                  window_audio)
from avemotion.data.face_plan import window_videos
from avemotion.data.media import MediaInfo, probe
from avemotion.errors import InputError

# A span or window may end this far past the file's stated duration (the last frame's display time).
SPAN_SLACK = 0.1

Span = tuple[float, float]


@dataclass
class ClipArrays:
    video: np.ndarray | None  # uint8 (T, S, S, 3) RGB
    mfcc: np.ndarray | None  # float32 (n_mfcc, mfcc_frames)
    boxes: np.ndarray | None  # float32 (T, 4) x0, y0, x1, y1 in upright source pixels (before margin)
    start: float
    end: float
    face_source: str  # "landmarks" / "detector" / "none" (audio only)
    padded: bool = False  # the audio window was zero-padded (short_clip="pad", a clip shorter than it)


def preprocess(path: str | Path, cfg: PreprocessConfig, *, span: tuple[float, float | None] | None = None,
               windows: Sequence[Span] | None = None, landmarks: str | Path | None = None,
               modalities: Sequence[str] | None = None, audio_path: str | Path | None = None,
               face: str | None = None) -> ClipArrays | list[ClipArrays | InputError]:
    """The arrays of `path` exactly as training sees them.

    - whole clip (neither `span` nor `windows`): frames over [0, D], the audio window from the start
      of the track; a clip too short for the window is `too_short` (or zero-padded, `padded`, with
      short_clip="pad");
    - `span=(start, end)`: a clip that is that span (seconds) of a longer recording: frames over the
      span, reached by seeking; the audio window from the span's start, cut at its end (`end` None:
      the end of the file). `audio_path`: the clip's audio is a file of its own (IEMOCAP's utterance
      wavs), read whole;
    - `windows=[(start, end), ...]`: a list, one entry per window, the file decoded once and each
      window treated as if processed alone. Window-level problems come back in the list instead of
      being raised: a window too short for the audio (`too_short`), one none of whose sampled frames
      shows a face (`no_face`).

    `modalities`: the arrays computed (default: video when cfg has it, and the MFCCs); a modality
    left out is None. `landmarks`: an OpenFace CSV giving the face boxes (else the detector). `face`
    ("left" / "right"): of the faces the detector finds only those in that half of the frame.

    Input checks (all InputError, one line naming the file): unreadable, corrupt or not a media file;
    no video / no audio stream for a wanted modality; a span or window that is not finite, starts
    before 0, ends before it starts or past the end of the file (`bad_row`); a whole clip or span
    shorter than the audio window allows (`too_short`)."""
    path = Path(path)
    if span is not None and windows is not None:
        raise ValueError("preprocess takes a span or windows, not both")
    if audio_path is not None and span is None:
        raise ValueError("audio_path is the audio of a span: pass span=(start, end)")
    wanted = _modalities(cfg, modalities)
    info = probe(path)  # unreadable / corrupt / not a media file
    if "video" in wanted and not info.has_video:
        raise InputError(path, "not_video", "no video stream (audio-only file?)")
    if windows is not None:
        if "audio" in wanted and not info.has_audio:
            raise InputError(path, "no_audio", "no audio stream")
        checked = [_check_span(path, w, info, "window") for w in windows]
        return _windows(path, cfg, checked, landmarks, wanted, face=face, strict=False)
    if span is not None:
        start, end = _check_span(path, (span[0], info.duration if span[1] is None else span[1]), info, "segment")
        return _span(path, cfg, start, end, info, landmarks, wanted, audio_path, face)
    if "audio" in wanted:
        if not info.has_audio:
            raise InputError(path, "no_audio", "no audio stream")
        if info.duration < shortest_clip(cfg):
            raise InputError(path, "too_short", f"clip is {info.duration:.2f} s, " + short_rule(cfg, cfg.min_duration))
    result = _windows(path, cfg, [(0.0, info.duration)], landmarks, wanted, face=face)[0]
    if isinstance(result, InputError):
        raise result
    if cfg.audio_window == "paper" and "audio" in wanted:
        result.padded = info.duration < cfg.min_duration
    return result


def _modalities(cfg: PreprocessConfig, modalities: Sequence[str] | None) -> tuple[str, ...]:
    if modalities is None:
        return ("video", "audio") if "video" in cfg.modalities else ("audio",)
    wanted = tuple(m for m in MODALITIES if m in modalities)
    if not wanted or len(wanted) != len(tuple(modalities)):
        raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {modalities!r}")
    return wanted


def _check_span(path: Path, span, info: MediaInfo, what: str) -> Span:
    """(start, end) as floats, or InputError bad_row: not finite, before the clip, empty, or past its end."""
    start, end = span
    if not (math.isfinite(start) and math.isfinite(end)):
        raise InputError(path, "bad_row", f"{what} {start}-{end} s is not a finite span of seconds")
    if start < 0 or end <= start:
        raise InputError(path, "bad_row", f"{what} {start:.2f}-{end:.2f} s is not a span of the file "
                                          f"(start >= 0 and end > start)")
    if end > info.duration + SPAN_SLACK:
        raise InputError(path, "bad_row", f"{what} {start:.2f}-{end:.2f} s ends past the end of the file "
                                          f"({info.duration:.2f} s)")
    return float(start), float(end)


def _windows(path: Path, cfg: PreprocessConfig, windows: list[Span], landmarks, wanted: tuple[str, ...], *,
             face: str | None = None, strict: bool = True) -> list[ClipArrays | InputError]:
    """ClipArrays or window-level InputError per window, from one decode of each stream; `strict`:
    window_audio's (a whole clip refuses too little speech, a window of a long recording does not)."""
    if not windows:
        return []
    videos, boxes, source = [None] * len(windows), [None] * len(windows), "none"
    if "video" in wanted:
        videos, boxes, source = window_videos(path, cfg, windows, landmarks, face=face)
    audio = decode_audio(path, cfg.sample_rate) if "audio" in wanted else None
    per_window: list = []
    for video, box, (start, end) in zip(videos, boxes, windows):
        if isinstance(video, InputError):
            per_window.append(video)
            continue
        mfcc, padded = None, False
        try:
            if audio is not None:
                piece, padded = window_audio(path, audio, start, cfg, end, strict=strict)
                mfcc = compute_mfcc(piece, cfg)
        except InputError as err:
            per_window.append(err)
            continue
        per_window.append(ClipArrays(video, mfcc, box, float(start), float(end), source, padded=padded))
    return per_window


def _span(path: Path, cfg: PreprocessConfig, start: float, end: float, info: MediaInfo, landmarks,
          wanted: tuple[str, ...], audio_path: str | Path | None, face: str | None) -> ClipArrays:
    """A clip that is the span [start, end] s of a longer recording: num_frames frames evenly over
    the span, reached by seeking; the audio window from the span's start, cut at its end, so a span
    shorter than the window is `too_short` or, with short_clip="pad", zero-padded (`padded`)."""
    source = Path(audio_path) if audio_path is not None else path
    if "audio" in wanted:
        if audio_path is not None:
            audio_info = probe(source)
            if not audio_info.has_audio:
                raise InputError(source, "no_audio", "no audio stream")
            length = audio_info.duration
        else:
            if not info.has_audio:
                raise InputError(path, "no_audio", "no audio stream")
            length = end - start
        if length < shortest_clip(cfg):
            raise InputError(source, "too_short", f"segment {start:.2f}-{end:.2f} s is {length:.2f} s, "
                                                  + short_rule(cfg, cfg.min_duration))
    frames, boxes, face_source = None, None, "none"
    if "video" in wanted:
        videos, box_list, face_source = window_videos(path, cfg, [(start, end)], landmarks, seek=True, face=face)
        if isinstance(videos[0], InputError):
            raise videos[0]
        frames, boxes = videos[0], box_list[0]
    mfcc, padded = None, False
    if "audio" in wanted:
        if audio_path is not None:
            audio = decode_audio(source, cfg.sample_rate)
        else:
            audio = decode_audio_span(path, cfg.sample_rate, start, end)
        piece, padded = window_audio(source, audio, 0.0, cfg)
        mfcc = compute_mfcc(piece, cfg)
        if cfg.audio_window == "paper":
            padded = len(audio) < round(cfg.min_duration * cfg.sample_rate)
    return ClipArrays(frames, mfcc, boxes, start, end, face_source, padded=padded)
