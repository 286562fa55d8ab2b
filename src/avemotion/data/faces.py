"""Face boxes (landmark CSV or a face detector: data.detectors) and the two crop modes of SPEC 2."""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig
from avemotion.errors import InputError
from avemotion.registries import detectors as detector_registry

N_POINTS = 68
# The Haar cascade runs on a copy scaled to at most this height: faster, and the face stays large.
DETECT_HEIGHT = 360
# ... and to at least this height: in a 64x48 video the face is smaller than the cascade's window.
MIN_DETECT_HEIGHT = 120
# Candidate faces kept per frame (largest first): enough for two people and a false detection.
MAX_FACES = 3
# A candidate continues a face track when its centre is within this many box sides of the track's
# last box and its size is within a factor of 2.
TRACK_DISTANCE = 0.75
# Detector boxes are smoothed over this many sampled positions each side (0.4 s of a 3 s window of
# 30; with DETECT_STRIDE 2, the median of 5 detections).
SMOOTH_RADIUS = 4
# ... and the dlib detectors search every DETECT_STRIDE-th sampled frame of a window (faces.searched).
DETECT_STRIDE = 2
NO_FACE = np.zeros((0, 4), np.float32)  # the candidates of a frame without a face (or not searched)
# A landmark CSV fits its video when its row count is within max(ROW_SLACK, ROW_SLACK_FRACTION x
# frames) of the frame count (OpenFace may miss the last frame or two; a stated frame count may be
# an estimate), and each face row's box lies within the frame extended by FRAME_SLACK of its size
# (faces at the edge) and spans at least MIN_FACE_FRACTION of the frame's shorter side.
ROW_SLACK = 5
ROW_SLACK_FRACTION = 0.02
FRAME_SLACK = 0.25
MIN_FACE_FRACTION = 0.15


def read_landmarks(path: str | Path) -> np.ndarray:
    """(n_frames, 68, 2) pixel landmarks from an OpenFace CSV, columns found by header name.

    Rows where OpenFace reports success = 0 become NaN (their points are not a face); a row it
    counts as a face must hold finite numbers. Anything else wrong is bad_landmarks, in one line.
    """
    path = Path(path)
    header = _header(path)
    wanted = [f"x_{i}" for i in range(N_POINTS)] + [f"y_{i}" for i in range(N_POINTS)]
    missing = [w for w in wanted if w not in header]
    if missing:
        raise InputError(path, "bad_landmarks", f"landmark CSV lacks {len(missing)} of the x_0..x_67/y_0..y_67 columns (first: {missing[0]})")
    cols = [header.index(w) for w in wanted] + ([header.index("success")] if "success" in header else [])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns about a CSV without rows: reported below
            data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=cols, ndmin=2, encoding="utf-8")
    except UnicodeDecodeError as err:
        raise _not_utf8(path, err) from None
    except ValueError as err:
        raise InputError(path, "bad_landmarks", f"landmark CSV has non-numeric values ({_first_line(err)})") from None
    if len(data) == 0:
        raise InputError(path, "bad_landmarks", "landmark CSV has no rows")
    pts = np.stack([data[:, :N_POINTS], data[:, N_POINTS:2 * N_POINTS]], axis=-1)
    face = data[:, -1] >= 0.5 if data.shape[1] > 2 * N_POINTS else np.ones(len(data), bool)
    broken = np.flatnonzero(face & ~np.isfinite(pts).all(axis=(1, 2)))
    if len(broken):
        value = pts[broken[0]][~np.isfinite(pts[broken[0]])][0]
        raise InputError(path, "bad_landmarks", f"line {broken[0] + 2}: coordinate {value} in a row marked as a face")
    pts[~face] = np.nan
    return pts


def _header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return [h.strip() for h in f.readline().split(",")]
    except OSError as err:
        raise InputError(path, "bad_landmarks", f"cannot read landmark CSV ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise _not_utf8(path, err) from None


def _not_utf8(path: Path, err: UnicodeDecodeError) -> InputError:
    return InputError(path, "bad_landmarks", f"landmark CSV is not UTF-8 text (byte {err.object[err.start]:#04x})")


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def check_landmarks(path: str | Path, points: np.ndarray, width: int, height: int, frames: int) -> None:
    """bad_landmarks unless the CSV fits the video: about one row per frame (ROW_SLACK), and every
    row marked as a face has its box in the width x height frame (FRAME_SLACK of the frame beyond
    each edge) and at least MIN_FACE_FRACTION of its shorter side: coordinates measured on a
    resized copy of the video (x8, x0.25) give black or background crops."""
    slack = max(ROW_SLACK, round(ROW_SLACK_FRACTION * frames))
    if frames and abs(len(points) - frames) > slack:
        raise InputError(path, "bad_landmarks", f"{len(points)} rows for a video of {frames} frames (at most {slack} "
                         "apart): landmarks of another clip or frame rate?")
    good = good_rows(points)
    lo, hi = points[good].min(axis=1), points[good].max(axis=1)  # (n, 2) box corners per row
    size = np.array([width, height])
    outside = ((lo < -FRAME_SLACK * size) | (hi > (1 + FRAME_SLACK) * size)).any(axis=1)
    side = (hi - lo).max(axis=1)
    small = side < MIN_FACE_FRACTION * min(width, height)
    if (outside | small).any():
        k = int(np.flatnonzero(outside | small)[0])
        where = f"line {good[k] + 2}: landmarks span ({lo[k][0]:.0f}, {lo[k][1]:.0f})-({hi[k][0]:.0f}, {hi[k][1]:.0f})"
        why = (f"outside the {width}x{height} frame" if outside[k] else
               f"a face of {side[k]:.0f} px, under {MIN_FACE_FRACTION:.0%} of the {width}x{height} frame's shorter side")
        raise InputError(path, "bad_landmarks", f"{where}, {why} (landmarks of another video, or of a resized copy?)")


def usable_landmarks(path: str | Path | None, width: int, height: int, frames: int) -> np.ndarray | None:
    """Landmark points of a CSV that fits the video (check_landmarks) with at least one usable row;
    None without a CSV or when no row is usable (the detector is used instead). A broken CSV or one
    that does not fit raises bad_landmarks."""
    if path is None:
        return None
    points = read_landmarks(path)
    check_landmarks(path, points, width, height, frames)
    return points if len(good_rows(points)) else None


def good_rows(points: np.ndarray) -> np.ndarray:
    """Indices of the rows whose 68 points are all present."""
    return np.flatnonzero(~np.isnan(points).any(axis=(1, 2)))


def landmark_box(points: np.ndarray, good: np.ndarray, frame_index: int) -> np.ndarray:
    """Tight (x0, y0, x1, y1) of a decoded frame; a frame without a usable row takes the nearest one.
    `good` = good_rows(points), computed once per file (a long video has one row per frame)."""
    i = min(frame_index, len(points) - 1)
    p = points[good[np.argmin(np.abs(good - i))]]
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()], np.float32)


@lru_cache(maxsize=1)
def _cascade():
    import cv2

    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"cannot load the Haar cascade {path}")
    return cascade


def detect_faces(frame: np.ndarray, detector: str = detector_registry.FALLBACK) -> np.ndarray:
    """Faces in an RGB frame with the detector setting (data.detectors) as (n, 4) x0, y0, x1, y1 in
    frame pixels, largest first, at most MAX_FACES; (0, 4) when there is none."""
    from avemotion.data import detectors

    return detectors.detect(frame, detector)


def detect_haar(frame: np.ndarray) -> np.ndarray:
    """Haar faces in an RGB frame as (n, 4) x0, y0, x1, y1 in frame pixels, largest first, at most
    MAX_FACES; (0, 4) when there is none."""
    import cv2

    h = frame.shape[0]
    scale = min(1.0, DETECT_HEIGHT / h) if h >= MIN_DETECT_HEIGHT else MIN_DETECT_HEIGHT / h
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale != 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    gray = cv2.equalizeHist(gray)
    side = max(20, gray.shape[0] // 10)
    found = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(side, side))
    if len(found) == 0:
        return np.zeros((0, 4), np.float32)
    found = sorted((tuple(int(v) for v in b) for b in found), key=lambda b: (-b[2] * b[3], b[0], b[1]))[:MAX_FACES]
    return np.array([[x, y, x + w, y + h] for x, y, w, h in found], np.float32) / scale


def _side(box) -> float:
    return float(np.sqrt(max(box[2] - box[0], 1e-3) * max(box[3] - box[1], 1e-3)))


def _centre_distance(a, b) -> float:
    return float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2))


def _continues(last, box) -> bool:
    a, b = _side(last), _side(box)
    return _centre_distance(last, box) <= TRACK_DISTANCE * max(a, b) and 0.5 <= a / b <= 2.0


def follow_face(candidates: list) -> list[int | None]:
    """The face followed through the frames of a window: for each frame (in time order), the index
    of its candidate box (boxes largest first) that belongs to it, or None where it was not found.

    Candidates are linked into tracks by position: a box continues the nearest track whose last box
    is within TRACK_DISTANCE box sides and a factor 2 in size. Tracks are taken by score (the sum
    of their box sides: large faces seen often first), skipping any track that shares a frame with
    one already taken. So of two people in the same frames only the larger, more often found one is
    cropped, never alternating between them, while successive shots (a cut) each keep their face.
    With at most one candidate per frame every frame keeps its own box."""
    tracks: list[dict] = []
    for p, boxes in enumerate(candidates):
        taken: set[int] = set()
        for k, box in enumerate(boxes):
            near = [(_centre_distance(t["last"], box), t_i) for t_i, t in enumerate(tracks)
                    if t_i not in taken and _continues(t["last"], box)]
            if near:
                t_i = min(near)[1]
            else:
                tracks.append({"last": box, "frames": {}, "score": 0.0})
                t_i = len(tracks) - 1
            taken.add(t_i)
            track = tracks[t_i]
            track["last"], track["frames"][p] = box, k
            track["score"] += _side(box)
    chosen: list[int | None] = [None] * len(candidates)
    for t_i in sorted(range(len(tracks)), key=lambda t_i: (-tracks[t_i]["score"], t_i)):
        frames = tracks[t_i]["frames"]
        if all(chosen[p] is None for p in frames):
            for p, k in frames.items():
                chosen[p] = k
    return chosen


def smooths(cfg: PreprocessConfig, points) -> bool:
    """Whether a clip's boxes are smoothed over time: detector boxes of a detector that declares it
    (registries.detectors: the dlib HOG box moves in steps of its 8 px cells at the detection scale,
    24 px on a 720p frame), not Haar's (kept as it was, so that haar caches stay reproducible) nor
    landmark CSV boxes (the training rule)."""
    return points is None and detector_registry.get(cfg.detector).smooths_boxes


def searched(cfg: PreprocessConfig, points) -> np.ndarray:
    """Which of a window's num_frames sampled positions are given to the detector: with smoothed
    detector boxes (smooths) every DETECT_STRIDE-th and the last one, the others take the nearest
    smoothed box of their window (half the detector time; 0.1 s apart at 30 frames in 3 s, a face
    hardly moves); every position otherwise (Haar, landmark CSVs: unchanged)."""
    n = cfg.num_frames
    if not smooths(cfg, points):
        return np.ones(n, bool)
    flags = np.arange(n) % DETECT_STRIDE == 0
    flags[-1] = True
    return flags


def smooth_boxes(own: list, radius: int = SMOOTH_RADIUS) -> list:
    """The followed face's own boxes of one window (None where it was not found), each replaced by
    the per-coordinate median of the own boxes within `radius` sampled frames of it that continue
    it (a box after a cut, elsewhere in the frame, is not mixed in): a steady crop from a detector
    whose box jitters, while a head that moves for longer than that is followed."""
    hits = [p for p, b in enumerate(own) if b is not None]
    out = list(own)
    for p in hits:
        near = [own[q] for q in hits if abs(q - p) <= radius and _continues(own[p], own[q])]
        out[p] = np.median(np.array(near, np.float32), axis=0).astype(np.float32)
    return out


def fill_boxes(own: list) -> np.ndarray:
    """A box per sampled frame of one window (T, 4): a frame without its own box takes the nearest
    one of the same window (ties to the earlier frame), as if the window were processed alone.
    At least one frame must have a box."""
    hits = [p for p, b in enumerate(own) if b is not None]
    return np.array([own[min(hits, key=lambda h: abs(h - p))] for p in range(len(own))], np.float32)


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


def legacy_box(box, width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """The published crop's pixel box (x0, y0, x1, y1) on the frame squashed to size x size.

    Every edge is truncated with int() as published, the far ones too (no rounding up), in float64
    and multiplying before dividing so that an exact pixel (640 * 224 / 1280 = 112) stays exact;
    a box thinner than a pixel still keeps one pixel."""
    x0, y0, x1, y1 = (float(v) * size / side for v, side in zip(box, (width, height, width, height)))
    x0, y0 = int(np.clip(x0, 0, size - 1)), int(np.clip(y0, 0, size - 1))
    return x0, y0, int(np.clip(x1, x0 + 1, size)), int(np.clip(y1, y0 + 1, size))


def crop_legacy(frame: np.ndarray, box, size: int) -> np.ndarray:
    """Published crop: squash the frame to size x size, tight box, stretch the crop back (aspect lost)."""
    import cv2

    h, w = frame.shape[:2]
    x0, y0, x1, y1 = legacy_box(box, w, h, size)
    return cv2.resize(cv2.resize(frame, (size, size))[y0:y1, x0:x1], (size, size))


def crop_frame(frame: np.ndarray, box, cfg: PreprocessConfig) -> np.ndarray:
    """One S x S uint8 crop with the configured crop mode."""
    if cfg.crop == "fixed":
        return crop_fixed(frame, box, cfg.frame_size, cfg.margin)
    return crop_legacy(frame, box, cfg.frame_size)
