"""The one preprocessing path shared by `prepare`, training and prediction (SPEC 2).

Video: frames at start + i * (end - start) / T, a face box per frame (landmarks, else the Haar
detector), crop (fixed or legacy) to uint8 RGB S x S. Audio: the clip's own track, mono 44.1 kHz,
`audio_offset` s skipped, `audio_duration` s kept, 13 MFCCs padded/cropped to `mfcc_frames`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig
from avemotion.errors import InputError

# Files shorter than this are refused even with short_clip="pad": too little audio to mean anything.
MIN_PAD_DURATION = 1.0
# A stream that ends more than max(slack, fraction * stated duration) before the duration the
# container states was cut short (intact files differ by a frame or two).
TRUNCATION_SLACK = 0.5
TRUNCATION_FRACTION = 0.15
# Container signatures: a file that starts like a media container but fails to decode is "corrupt";
# anything else (text, random bytes) is "not_video".
MEDIA_MAGIC = (b"ftyp", b"FLV", b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS", b"ID3", b"\x00\x00\x01\xba", b"moov", b"mdat", b"free", b"wide")


@dataclass
class MediaInfo:
    duration: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0


@dataclass
class ClipArrays:
    video: np.ndarray | None  # uint8 (T, S, S, 3) RGB
    mfcc: np.ndarray | None  # float32 (n_mfcc, mfcc_frames)
    boxes: np.ndarray | None  # float32 (T, 4) x0, y0, x1, y1 in source pixels (before margin)
    start: float
    end: float
    face_source: str  # "landmarks" / "detector" / "none" (audio only)


def _open(path: Path):
    import av

    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        raise InputError(path, "unreadable", "file not found") from None
    except (PermissionError, IsADirectoryError) as err:
        raise InputError(path, "unreadable", f"cannot read file ({err.strerror})") from None
    if not head:
        raise InputError(path, "corrupt", "empty file")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as err:
        looks_media = any(m in head for m in MEDIA_MAGIC) or head[:2] in (b"\xff\xfb", b"\xff\xf3")
        if looks_media:
            raise InputError(path, "corrupt", f"cannot open container, truncated or damaged ({err.strerror or err})") from None
        raise InputError(path, "not_video", "not a media file (unrecognised content)") from None


def _duration(container) -> float:
    vs = container.streams.video[0] if container.streams.video else None
    if vs is not None and vs.duration and vs.time_base:
        return float(vs.duration * vs.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return 0.0


def probe(path: str | Path) -> MediaInfo:
    """Container facts without decoding; InputError(unreadable/corrupt/not_video) when it cannot open."""
    path = Path(path)
    with _open(path) as c:
        vs = c.streams.video[0] if c.streams.video else None
        return MediaInfo(
            duration=_duration(c), has_video=vs is not None, has_audio=bool(c.streams.audio),
            width=vs.codec_context.width if vs else 0, height=vs.codec_context.height if vs else 0,
            fps=float(vs.average_rate) if vs is not None and vs.average_rate else 0.0,
        )


def sample_times(start: float, end: float, n: int) -> np.ndarray:
    return start + np.arange(n) * (end - start) / n


def _seconds(frame, stream) -> float:
    """How long a decoded video frame is shown (its duration, else one frame at the average rate)."""
    if frame.duration:
        return float(frame.duration * stream.time_base)
    return 1 / float(stream.average_rate) if stream.average_rate else 0.0


def check_complete(path: Path, kind: str, reached: float, stated: float) -> None:
    """corrupt when a stream ends well before the duration the container states.

    A truncated FLV or MKV still decodes up to the cut; intact files end within a frame or two of
    the stated duration (CREMA-D: audio 2.27 s of 2.235 s, video 2.23 s), hence the slack."""
    if stated > 0 and stated - reached > max(TRUNCATION_SLACK, TRUNCATION_FRACTION * stated):
        raise InputError(path, "corrupt", f"truncated: {kind} stream ends at {reached:.1f} s of {stated:.1f} s")


def stream_frames(path: Path, times: np.ndarray) -> Iterator[tuple[int, np.ndarray, list[int]]]:
    """(frame index, RGB frame, positions in `times`) for each decoded frame shown at some of `times`
    (the last frame with pts <= t), in decode order.

    One sequential decode that stops after the last time; only yielded frames are converted to RGB
    and none is kept here, so the caller decides what stays in memory. A stream that fails to decode
    or ends well short of its stated duration before the last time is `corrupt` (not padded with
    its last frame)."""
    import av

    order = np.argsort(times, kind="stable")
    k, prev, prev_i, reached = 0, None, -1, 0.0
    with _open(path) as c:
        if not c.streams.video:
            raise InputError(path, "not_video", "no video stream")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        t0 = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        try:
            for i, frame in enumerate(c.decode(stream)):
                ft = float(frame.pts * stream.time_base) - t0 if frame.pts is not None else i / 30
                taken = []
                while k < len(order) and ft > times[order[k]] + 1e-6 and prev is not None:
                    taken.append(int(order[k]))
                    k += 1
                if taken:
                    yield prev_i, prev.to_ndarray(format="rgb24"), taken
                if k == len(order):
                    return
                prev, prev_i, reached = frame, i, ft + _seconds(frame, stream)
        except av.error.FFmpegError as err:
            if prev is None:
                raise InputError(path, "corrupt", f"video does not decode ({err})") from None
            raise InputError(path, "corrupt", f"truncated or damaged: video does not decode past {reached:.1f} s ({err})") from None
        if prev is None:
            raise InputError(path, "corrupt", "no decodable video frame")
        check_complete(path, "video", reached, _duration(c))
    yield prev_i, prev.to_ndarray(format="rgb24"), [int(j) for j in order[k:]]


def _audio_duration(container) -> float:
    stream = container.streams.audio[0]
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else 0.0


def decode_audio(path: Path, sample_rate: int) -> np.ndarray:
    """The clip's own audio track as mono float32 at `sample_rate`; a truncated or damaged track is corrupt."""
    import av

    chunks = []
    with _open(path) as c:
        if not c.streams.audio:
            raise InputError(path, "no_audio", "no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in c.decode(c.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as err:
            if not chunks:
                raise InputError(path, "corrupt", f"audio does not decode ({err})") from None
            reached = sum(map(len, chunks)) / sample_rate
            raise InputError(path, "corrupt", f"truncated or damaged: audio does not decode past {reached:.1f} s ({err})") from None
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
        if not chunks:
            raise InputError(path, "no_audio", "audio stream holds no samples")
        check_complete(path, "audio", sum(map(len, chunks)) / sample_rate, _audio_duration(c))
    return np.concatenate(chunks).astype(np.float32)


def audio_window(path: Path, audio: np.ndarray, start: float, cfg: PreprocessConfig) -> np.ndarray:
    """`audio_duration` s from `start + audio_offset`; zero-padded only when cfg.short_clip == "pad"."""
    sr = cfg.sample_rate
    first = round((start + cfg.audio_offset) * sr)
    need = cfg.audio_samples
    piece = audio[first:first + need]
    if len(piece) < need:
        have = len(audio) / sr
        if cfg.short_clip != "pad" or have < MIN_PAD_DURATION:
            raise InputError(path, "too_short", f"audio is {have:.2f} s, the window needs {start + cfg.min_duration:.2f} s"
                             + ("" if cfg.short_clip == "pad" else " (use --pad-short to zero-pad)"))
        piece = np.pad(piece, (0, need - len(piece)))
    return piece


def compute_mfcc(samples: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """librosa MFCC with the SPEC parameters (Hann, centred, power dB), padded/cropped to mfcc_frames."""
    import librosa

    m = librosa.feature.mfcc(y=samples.astype(np.float32), sr=cfg.sample_rate, n_mfcc=cfg.n_mfcc,
                             n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels,
                             window="hann", center=True)
    if m.shape[1] < cfg.mfcc_frames:
        m = np.pad(m, ((0, 0), (0, cfg.mfcc_frames - m.shape[1])))
    return np.ascontiguousarray(m[:, :cfg.mfcc_frames], dtype=np.float32)


def preprocess_windows(path: str | Path, cfg: PreprocessConfig, windows: list[tuple[float, float]],
                       landmarks: str | Path | None = None, *, video_frames_only: bool = False,
                       audio_only: bool = False) -> list[ClipArrays | InputError]:
    """Decode `path` once; each window gets exactly the training treatment, as if processed alone.

    File-level problems (unreadable, corrupt or truncated, no video/audio, bad landmarks, no face
    anywhere) raise InputError; window-level ones (a window too short for the audio) come back in the
    list. `video_frames_only` skips the audio (MFCC None); `audio_only` skips the video.
    """
    path = Path(path)
    _open(path).close()  # classify unreadable / corrupt / not a media file first
    if not windows:
        return []
    videos, boxes, source = [None] * len(windows), [None] * len(windows), "none"
    if not audio_only:
        videos, boxes, source = window_videos(path, cfg, windows, landmarks)
    audio = None if video_frames_only else decode_audio(path, cfg.sample_rate)
    per_window: list = []
    for video, box, (start, end) in zip(videos, boxes, windows):
        try:
            mfcc = None if audio is None else compute_mfcc(audio_window(path, audio, start, cfg), cfg)
        except InputError as err:
            per_window.append(err)
            continue
        per_window.append(ClipArrays(video, mfcc, box, float(start), float(end), source))
    return per_window


def window_videos(path: Path, cfg: PreprocessConfig, windows, landmarks) -> tuple[list, list, str]:
    """Face crops (T, S, S, 3) and boxes (T, 4) per window, and the face source."""
    from avemotion.data import faces

    points = faces.usable_landmarks(landmarks)
    times = np.concatenate([sample_times(s, e, cfg.num_frames) for s, e in windows])
    index, found, crops, faceless = sample_faces(path, cfg, times, points)
    videos, boxes = [], []
    for w in range(len(windows)):
        frame_ids = index[w * cfg.num_frames:(w + 1) * cfg.num_frames]
        box = faces.fill_boxes([found[i] for i in frame_ids], frame_ids, found)
        # a frame with its own box was cropped while decoding; one without takes its window's box
        crop = [crops[i] if i in crops else faces.crop_frame(faceless[i], b, cfg) for i, b in zip(frame_ids, box)]
        videos.append(np.ascontiguousarray(np.stack(crop), dtype=np.uint8))
        boxes.append(box)
    return videos, boxes, "landmarks" if points is not None else "detector"


def sample_faces(path: Path, cfg: PreprocessConfig, times: np.ndarray, points) -> tuple[np.ndarray, dict, dict, dict]:
    """One decode pass over `times`: (source frame index per time, and by source frame index: its own
    box or None, its crop when it has a box, the full RGB frame when it has none).

    Each distinct source frame gets one landmark box or one Haar run and is cropped once, so memory
    holds S x S crops of the distinct sampled frames, not the video; only frames without a face stay
    full size until the nearest box of their window is known."""
    from avemotion.data import faces

    good = None if points is None else faces.good_rows(points)
    index = np.zeros(len(times), int)
    found, crops, faceless = {}, {}, {}
    for i, rgb, positions in stream_frames(path, times):
        index[positions] = i
        found[i] = faces.detect_face(rgb) if points is None else faces.landmark_box(points, good, i)
        if found[i] is None:
            faceless[i] = rgb
        else:
            crops[i] = faces.crop_frame(rgb, found[i], cfg)
    if not crops:
        raise InputError(path, "no_face", f"no face found in any of the {len(times)} sampled frames")
    return index, found, crops, faceless


def preprocess_clip(path: str | Path, cfg: PreprocessConfig, landmarks: str | Path | None = None) -> ClipArrays:
    """The whole clip as in training: frames over [0, D], audio from audio_offset."""
    path = Path(path)
    info = probe(path)
    if not info.has_video:
        raise InputError(path, "not_video", "no video stream (audio-only file?)")
    if not info.has_audio:
        raise InputError(path, "no_audio", "no audio stream")
    if info.duration < (cfg.min_duration if cfg.short_clip == "error" else MIN_PAD_DURATION):
        raise InputError(path, "too_short", f"clip is {info.duration:.2f} s, needs {cfg.min_duration:.2f} s"
                         + (" (use --pad-short to zero-pad)" if cfg.short_clip == "error" else ""))
    result = preprocess_windows(path, cfg, [(0.0, info.duration)], landmarks)[0]
    if isinstance(result, InputError):
        raise result
    return result
