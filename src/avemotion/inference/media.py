"""Minimal PyAV decode/encode used to draw on videos (annotate) and to build test videos.

Feature extraction never happens here: that is the data layer's preprocess code. This module only
reads every frame for display and writes a video (mp4: H.264 + AAC by default) atomically.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from avemotion.utils.io import atomic_path


@dataclass
class AudioTrack:
    samples: np.ndarray  # float32 (channels, n)
    rate: int


def video_fps(path: str | Path) -> Fraction:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return Fraction(stream.average_rate or stream.guessed_rate or 25)


def iter_frames(path: str | Path) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (seconds from the first frame, upright RGB uint8 frame) for every frame of the first
    video stream (a phone video's rotation applied, as in the data layer); a truncated tail ends the
    iteration, as it ends the data layer's decode."""
    from avemotion.data.media import upright_rgb

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        t0 = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        frames = container.decode(stream)
        for index in itertools.count():
            try:
                frame = next(frames)
            except (StopIteration, av.error.FFmpegError):
                return
            t = frame.time - t0 if frame.time is not None else index / float(stream.average_rate or 25)
            yield float(t), upright_rgb(frame, stream)


def read_audio(path: str | Path, rate: int = 44100) -> AudioTrack | None:
    """The first audio stream as mono float32 at `rate` (the data layer's decoder), None if absent."""
    from avemotion.data.audio import decode_audio
    from avemotion.data.media import probe

    if not probe(path).has_audio:
        return None
    return AudioTrack(decode_audio(Path(path), rate)[None], rate)


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: Fraction | float, audio: AudioTrack | None = None) -> Path:
    """Encode RGB frames (and optional audio) to an H.264/AAC mp4; the file appears only when complete."""
    return write_video(path, frames, fps, audio)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: Fraction | float, audio: AudioTrack | None = None,
                *, container: str = "mp4", video_codec: str = "libx264", audio_codec: str = "aac") -> Path:
    """Encode RGB frames and optional audio into any container PyAV writes, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format=container) as out:
            _encode(out, frames, Fraction(fps).limit_denominator(1001), audio, video_codec, audio_codec)
    return path


def _encode(out, frames, fps, audio, video_codec, audio_codec):
    video = audio_stream = None
    for frame in frames:
        frame = _even(frame)
        if video is None:
            video = out.add_stream(video_codec, rate=fps)
            video.width, video.height = frame.shape[1], frame.shape[0]
            video.pix_fmt = "yuv420p"
            audio_stream = _add_audio(out, audio, audio_codec)
        out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
    if video is None:
        raise ValueError("no frames to write")
    out.mux(video.encode(None))
    if audio_stream is not None:
        _write_audio(out, audio_stream, audio)


def _even(frame: np.ndarray) -> np.ndarray:
    # yuv420p needs even width and height
    h, w = frame.shape[0] - frame.shape[0] % 2, frame.shape[1] - frame.shape[1] % 2
    return np.ascontiguousarray(frame[:h, :w])


def _add_audio(out, audio: AudioTrack | None, codec: str):
    if audio is None or audio.samples.shape[1] == 0:
        return None
    stream = out.add_stream(codec, rate=audio.rate)
    stream.layout = "mono"
    return stream


def _write_audio(out, stream, audio: AudioTrack) -> None:
    # AAC, MP3 and Opus take fixed-size frames: a FIFO cuts the track into them.
    fifo = av.AudioFifo()
    frame = av.AudioFrame.from_ndarray(audio.samples[:1], format="fltp", layout="mono")
    frame.sample_rate = audio.rate
    fifo.write(frame)
    size = stream.codec_context.frame_size or 1024
    while fifo.samples:
        chunk = fifo.read(min(size, fifo.samples))
        if chunk.samples < size:  # pad the last chunk to a full frame
            padded = np.zeros((1, size), np.float32)
            padded[:, : chunk.samples] = chunk.to_ndarray()
            chunk = av.AudioFrame.from_ndarray(padded, format="fltp", layout="mono")
            chunk.sample_rate = audio.rate
        out.mux(stream.encode(chunk))
    out.mux(stream.encode(None))


def concat_videos(paths: list[str | Path], out_path: str | Path, rate: int = 44100) -> Path:
    """Join clips into one mp4 (decode frames and audio of each, re-encode together).

    Frames keep the first clip's rate and size; audio of each clip is trimmed or padded to its
    video length so the two stay aligned at every boundary."""
    fps = video_fps(paths[0])
    frames, audio_parts, size = [], [], None
    for path in paths:
        clip = [frame for _, frame in iter_frames(path)]
        size = size or clip[0].shape[:2]
        frames += [_fit(frame, size) for frame in clip]
        audio_parts.append(_fit_audio(read_audio(path, rate), len(clip) / float(fps), rate))
    return write_mp4(out_path, frames, fps, AudioTrack(np.concatenate(audio_parts, axis=1), rate))


def _fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if frame.shape[:2] == tuple(size):
        return frame
    import cv2

    return cv2.resize(frame, (size[1], size[0]))


def _fit_audio(track: AudioTrack | None, seconds: float, rate: int) -> np.ndarray:
    n = round(seconds * rate)
    out = np.zeros((1, n), np.float32)
    if track is not None:
        m = min(n, track.samples.shape[1])
        out[:, :m] = track.samples[:1, :m]
    return out
