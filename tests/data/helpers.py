"""Small media writers for bad-input tests (PyAV only)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_media(path: Path, seconds: float, video: bool = True, audio: bool = True, face_free: bool = False,
                size=(160, 120)) -> Path:
    """mp4 with the requested streams: grey noise frames (no face) and a 220 Hz tone."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"}) if video else None
        if vs is not None:
            vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        aus = out.add_stream("aac", rate=44100, layout="mono") if audio else None
        if vs is not None:
            for _ in range(int(seconds * 30)):
                img = rng.integers(100, 140, (size[1], size[0], 3), dtype=np.uint8)
                out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            out.mux(vs.encode())
        if aus is not None:
            t = np.arange(int(seconds * 44100)) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
            for i in range(0, len(tone), 1024):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[None, i:i + 1024]), format="fltp", layout="mono")
                fr.sample_rate, fr.pts = 44100, i
                out.mux(aus.encode(fr))
            out.mux(aus.encode())
    return path
