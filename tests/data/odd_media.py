"""Writers for the odd real-world inputs the robustness tests need, with PyAV only: rotated phone
video, streams that do not start at 0, variable frame rate, any audio layout/codec, images.

Faces come from the real CREMA-D clips (ODbL / DbCL, see shared/data/crema-d/README.md), scaled
down so that each test stays within seconds."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

TB = Fraction(1, 90000)


def crema_frames(path: Path, size: tuple[int, int] | None = None, every: int = 1) -> list[np.ndarray]:
    """RGB frames of a clip, every `every`-th, resized to size=(w, h)."""
    import cv2

    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)][::every]
    if size:
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return frames


def crema_audio(path: Path, rate: int = 44100) -> np.ndarray:
    """The clip's voice as mono float32."""
    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        out = [o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in resampler.resample(f)]
        out += [o.to_ndarray().reshape(-1) for o in resampler.resample(None)]
    return np.concatenate(out)


def tone(seconds: float, rate: int = 44100, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.repeat((0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None], channels, axis=0)


def write_av(path: Path, frames=None, fps: float = 30, *, pts=None, container: str | None = None,
             vcodec: str = "libx264", pix_fmt: str = "yuv420p", rotation: int | None = None,
             metadata: dict | None = None, video_start: float = 0.0, audio=None, rate: int = 44100,
             layout: str = "mono", acodec: str = "aac", audio_start: float = 0.0) -> Path:
    """Any stream combination: `frames` RGB (stored as given), shown at `pts` seconds (VFR) or i / fps,
    shifted by `video_start`; `rotation` = display matrix degrees counter-clockwise (what a phone
    writes), `metadata` = video stream tags; `audio` (channels, n) or (n,) float at `rate`, from
    `audio_start` s."""
    path = Path(path)
    with av.open(str(path), "w", format=container) as out:
        vs = None
        if frames is not None:
            vs = out.add_stream(vcodec, rate=Fraction(fps).limit_denominator(1001),
                                options={"preset": "ultrafast"} if vcodec == "libx264" else {})
            vs.height, vs.width = frames[0].shape[:2]
            vs.pix_fmt = pix_fmt
            vs.time_base = vs.codec_context.time_base = TB
            if rotation is not None:
                vs.set_display_rotation(rotation)
            vs.metadata.update(metadata or {})
        aus = None
        if audio is not None:
            aus = out.add_stream(acodec, rate=rate, layout=layout)
            aus.time_base = Fraction(1, rate)
        if vs is not None:
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts, frame.time_base = round(((pts[i] if pts is not None else i / fps) + video_start) / TB), TB
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
        if aus is not None:
            samples = np.atleast_2d(np.asarray(audio, np.float32))
            first = round(audio_start * rate)
            for i in range(0, samples.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, i:i + 1024]), format="fltp", layout=layout)
                frame.sample_rate, frame.pts, frame.time_base = rate, first + i, Fraction(1, rate)
                out.mux(aus.encode(frame))
            out.mux(aus.encode(None))
    return path


def write_gif(path: Path, frames) -> Path:
    with av.open(str(path), "w", format="gif") as out:
        vs = out.add_stream("gif", rate=10)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "rgb8"
        for rgb in frames:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
        out.mux(vs.encode(None))
    return path
