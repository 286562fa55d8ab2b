"""Annotated video: every frame re-encoded with the emotion predicted for its time drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avemotion.inference import media
from avemotion.inference.results import Prediction, Timeline


def prediction_at(result: Prediction | Timeline, t: float) -> Prediction:
    """The prediction shown at time t: the clip's, or the window whose centre is nearest."""
    if isinstance(result, Prediction):
        return result
    return min(result.final, key=lambda p: abs((p.start + p.end) / 2 - t))


def draw_label(frame: np.ndarray, prediction: Prediction) -> np.ndarray:
    import cv2

    frame = np.ascontiguousarray(frame)
    text = f"{prediction.emotion} {prediction.probability:.2f}"
    scale = max(0.5, frame.shape[0] / 480)
    thickness = max(1, round(2 * scale))
    origin = (10, int(30 * scale))
    # dark outline under white text stays legible on any background
    cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return frame


def annotate_video(source: str | Path, result: Prediction | Timeline, out_path: str | Path) -> Path:
    frames = (draw_label(frame, prediction_at(result, t)) for t, frame in media.iter_frames(source))
    return media.write_mp4(out_path, frames, media.video_fps(source), media.read_audio(source))
