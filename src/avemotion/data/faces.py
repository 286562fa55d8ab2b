"""Face boxes (landmark CSV or Haar detector) and the two crop modes of SPEC 2."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig
from avemotion.errors import InputError

N_POINTS = 68
# The Haar cascade runs on a copy scaled to at most this height: faster, and the face stays large.
DETECT_HEIGHT = 360


def read_landmarks(path: str | Path) -> np.ndarray:
    """(n_frames, 68, 2) pixel landmarks from an OpenFace CSV, columns found by header name.

    Rows where OpenFace reports success = 0 become NaN (their points are not a face).
    """
    path = Path(path)
    try:
        with open(path) as f:
            header = [h.strip() for h in f.readline().split(",")]
    except OSError as err:
        raise InputError(path, "bad_landmarks", f"cannot read landmark CSV ({err.strerror})") from None
    wanted = [f"x_{i}" for i in range(N_POINTS)] + [f"y_{i}" for i in range(N_POINTS)]
    missing = [w for w in wanted if w not in header]
    if missing:
        raise InputError(path, "bad_landmarks", f"landmark CSV lacks {len(missing)} of the x_0..x_67/y_0..y_67 columns (first: {missing[0]})")
    cols = [header.index(w) for w in wanted]
    if "success" in header:
        cols.append(header.index("success"))
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=cols, ndmin=2)
    except ValueError as err:
        raise InputError(path, "bad_landmarks", f"landmark CSV has non-numeric values ({err})") from None
    if len(data) == 0:
        raise InputError(path, "bad_landmarks", "landmark CSV has no rows")
    pts = np.stack([data[:, :N_POINTS], data[:, N_POINTS:2 * N_POINTS]], axis=-1)
    if data.shape[1] > 2 * N_POINTS:
        pts[data[:, -1] < 0.5] = np.nan
    return pts


def landmark_boxes(points: np.ndarray, frame_index: np.ndarray) -> np.ndarray | None:
    """Tight (x0, y0, x1, y1) per sampled frame; frames without a usable row take the nearest one."""
    ok = ~np.isnan(points).any(axis=(1, 2))
    if not ok.any():
        return None
    good = np.flatnonzero(ok)
    boxes = []
    for i in np.minimum(frame_index, len(points) - 1):
        j = good[np.argmin(np.abs(good - i))]
        p = points[j]
        boxes.append([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
    return np.array(boxes, np.float32)


@lru_cache(maxsize=1)
def _cascade():
    import cv2

    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"cannot load the Haar cascade {path}")
    return cascade


def detect_face(frame: np.ndarray) -> np.ndarray | None:
    """Largest Haar face in an RGB frame as (x0, y0, x1, y1) in frame pixels, or None."""
    import cv2

    scale = min(1.0, DETECT_HEIGHT / frame.shape[0])
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    side = max(20, gray.shape[0] // 10)
    found = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(side, side))
    if len(found) == 0:
        return None
    x, y, w, h = max(found, key=lambda b: b[2] * b[3])
    return np.array([x, y, x + w, y + h], np.float32) / scale


def detector_boxes(path: Path, frames: list[np.ndarray]) -> np.ndarray:
    """A box per frame; frames without a face reuse the nearest detected one; none at all = no_face."""
    found = [detect_face(f) for f in frames]
    hits = [i for i, b in enumerate(found) if b is not None]
    if not hits:
        raise InputError(path, "no_face", f"no face found in any of the {len(frames)} sampled frames")
    return np.array([found[min(hits, key=lambda h: abs(h - i))] for i in range(len(frames))], np.float32)


def face_boxes(path: Path, frames: list[np.ndarray], frame_index: np.ndarray, landmarks, cfg: PreprocessConfig):
    """(boxes (T, 4), source): landmark boxes when a CSV is given and usable, else the detector."""
    if landmarks is not None:
        boxes = landmark_boxes(read_landmarks(landmarks), frame_index)
        if boxes is not None:
            return boxes, "landmarks"
    return detector_boxes(path, frames), "detector"


def square_box(box, margin: float) -> np.ndarray:
    """Enlarge a tight box by `margin` of its size on each side and make it square about its centre."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def crop_fixed(frame: np.ndarray, box, size: int, margin: float) -> np.ndarray:
    """Fixed crop: square box with margin on the full-resolution frame, zero-padded past the edges."""
    import cv2

    x0, y0, x1, y1 = np.round(square_box(box, margin)).astype(int)
    h, w = frame.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    crop = frame[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def crop_legacy(frame: np.ndarray, box, size: int) -> np.ndarray:
    """Published crop: squash the frame to size x size, tight box, stretch the crop back (aspect lost)."""
    import cv2

    h, w = frame.shape[:2]
    small = cv2.resize(frame, (size, size))
    sx, sy = size / w, size / h
    x0 = int(np.clip(box[0] * sx, 0, size - 1))
    y0 = int(np.clip(box[1] * sy, 0, size - 1))
    x1 = int(np.clip(np.ceil(box[2] * sx), x0 + 1, size))
    y1 = int(np.clip(np.ceil(box[3] * sy), y0 + 1, size))
    return cv2.resize(small[y0:y1, x0:x1], (size, size))


def crop_frames(frames: list[np.ndarray], boxes: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    if cfg.crop == "fixed":
        crops = [crop_fixed(f, b, cfg.frame_size, cfg.margin) for f, b in zip(frames, boxes)]
    else:
        crops = [crop_legacy(f, b, cfg.frame_size) for f, b in zip(frames, boxes)]
    return np.ascontiguousarray(np.stack(crops), dtype=np.uint8)
