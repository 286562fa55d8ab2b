"""Face planning: which frames a window samples and which face box each of them uses.

A window of num_frames frames samples evenly spaced times (sample_times); one decode pass finds the
candidate faces of the distinct frames (sample_faces); each window follows one face through its own
frames (follow_boxes) and crops it (window_videos). Below `data.preprocess` (the entry point); uses
`data.media` to decode frames and `data.faces` to detect, follow and crop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig
from avemotion.data.media import stream_frames, video_geometry
from avemotion.errors import InputError

# Sampled frames without a face of their own stay whole in memory until their window's box is known,
# up to this many bytes; the others are decoded a second time (long videos where the face is often lost).
FACELESS_BUDGET = 256 * 2**20


def sample_times(start: float, end: float, n: int) -> np.ndarray:
    return start + np.arange(n) * (end - start) / n


def window_videos(path: Path, cfg: PreprocessConfig, windows, landmarks, *, seek: bool = False,
                  face: str | None = None) -> tuple[list, list, str]:
    """Face crops (T, S, S, 3) and boxes (T, 4) per window (an InputError `no_face` for a window
    where no sampled frame shows a face), and the face source.

    Each window follows one face through its own frames (faces.follow_face: of two people, the
    larger one found more often, never alternating); a frame where it was not found takes the
    nearest box of its window. `face` ("left" / "right"): of the faces the detector finds, only
    those whose centre lies in that half of the frame are candidates (a recording that shows two
    people on fixed sides, IEMOCAP); `seek`: a segment of a long recording (stream_frames)."""
    from avemotion.data import faces

    points = None if landmarks is None else faces.usable_landmarks(landmarks, *video_geometry(path))
    n = cfg.num_frames
    times = np.concatenate([sample_times(s, e, n) for s, e in windows])
    # the positions of each window searched for faces (the dlib detectors: every other sampled frame,
    # faces.DETECT_STRIDE); a window only looks at its own positions, as if processed alone
    search = np.tile(faces.searched(cfg, points), len(windows))
    index, candidates, crops, kept = sample_faces(path, cfg, times, points, seek=seek, face=face, search=search)
    smooth = faces.smooths(cfg, points)  # detector boxes are smoothed over each window, then cropped
    plans = []
    for w, (start, end) in enumerate(windows):
        frame_ids = [int(i) for i in index[w * n:(w + 1) * n]]
        looked = search[w * n:(w + 1) * n]
        followed = follow_boxes([candidates[i] if s else faces.NO_FACE for i, s in zip(frame_ids, looked)], smooth)
        if followed is None:
            plans.append(InputError(path, "no_face", f"no face found in the window {start:.1f}-{end:.1f} s"))
            continue
        plans.append((frame_ids, *followed))
    if all(isinstance(p, InputError) for p in plans):
        raise InputError(path, "no_face", f"no face found in any of the {len(times)} sampled frames")
    # frames without the followed face are cropped with their window's box: from the frame kept in
    # memory, or from a second decode of just those frames when they did not fit in FACELESS_BUDGET
    wanted = {(i, tuple(b)) for p in plans if not isinstance(p, InputError)
              for i, k, b in zip(p[0], p[1], p[2]) if k is None or smooth}
    extra = {(i, b): faces.crop_frame(kept[i], np.array(b), cfg) for i, b in wanted if i in kept}
    kept.clear()
    again = sorted({i for i, b in wanted if (i, b) not in extra})
    if again:
        by_frame: dict[int, list] = {}
        for i, b in wanted:
            by_frame.setdefault(i, []).append(b)
        for i, rgb, _ in stream_frames(path, times[np.isin(index, again)], seek=seek):
            extra.update({(i, b): faces.crop_frame(rgb, np.array(b), cfg) for b in by_frame.get(i, ())})
    videos, boxes = [], []
    for plan in plans:
        if isinstance(plan, InputError):
            videos.append(plan)
            boxes.append(None)
            continue
        frame_ids, chosen, box = plan
        crop = [crops[i][k] if k is not None and not smooth else extra[(i, tuple(b))] for i, k, b in zip(frame_ids, chosen, box)]
        videos.append(np.ascontiguousarray(np.stack(crop), dtype=np.uint8))
        boxes.append(box)
    return videos, boxes, "landmarks" if points is not None else "detector"


def follow_boxes(candidates: list[np.ndarray], smooth: bool) -> tuple[list, np.ndarray] | None:
    """The face one window follows through its sampled frames, from each frame's candidate boxes
    (n, 4) (faces.NO_FACE where the frame was not searched): (the candidate chosen per frame, None
    where the followed face was not found; the box per frame (T, 4), smoothed when `smooth`, the
    gaps filled from the nearest box). None when no frame shows a face. The one rule of window_videos
    and of the live stream (inference.stream.window_faces)."""
    from avemotion.data import faces

    chosen = faces.follow_face(candidates)
    if all(k is None for k in chosen):
        return None
    own = [None if k is None else boxes[k] for boxes, k in zip(candidates, chosen)]
    return chosen, faces.fill_boxes(faces.smooth_boxes(own) if smooth else own)


def sample_faces(path: Path, cfg: PreprocessConfig, times: np.ndarray, points, *, seek: bool = False,
                 face: str | None = None, search: np.ndarray | None = None) -> tuple[np.ndarray, dict, dict, dict]:
    """One decode pass over `times`: (source frame index per time, and by source frame index: its
    candidate face boxes (n, 4), largest first, their crops, and the full upright frame when it has
    no box or several, or always when boxes are smoothed (faces.smooths: crops are made after), while
    those fit in FACELESS_BUDGET).

    Each distinct source frame gets one landmark box or one Haar run and each candidate is cropped
    once, so memory holds S x S crops of the distinct sampled frames, not the video. `search` (one
    flag per time): a frame none of whose times is flagged is not given to the detector."""
    from avemotion.data import faces

    good = None if points is None else faces.good_rows(points)
    smooth = faces.smooths(cfg, points)  # crops wait for the smoothed boxes: frames are kept instead
    index = np.zeros(len(times), int)
    candidates, crops, kept = {}, {}, {}
    budget = FACELESS_BUDGET
    for i, rgb, positions in stream_frames(path, times, seek=seek):
        index[positions] = i
        if points is not None:
            found = faces.landmark_box(points, good, i)[None]
        elif search is None or search[positions].any():
            found = faces.detect_faces(rgb, cfg.detector)
        else:
            found = faces.NO_FACE
        if face is not None and points is None:
            found = on_side(found, rgb.shape[1], face)
        candidates[i] = found
        crops[i] = [] if smooth else [faces.crop_frame(rgb, box, cfg) for box in found]
        if (len(found) != 1 or smooth) and rgb.nbytes <= budget:  # the followed face may be missing here
            kept[i] = rgb
            budget -= rgb.nbytes
    return index, candidates, crops, kept


def on_side(boxes: np.ndarray, width: int, side: str) -> np.ndarray:
    """The boxes (n, 4) whose centre lies in the `side` ("left" / "right") half of a frame."""
    if side not in ("left", "right"):
        raise ValueError(f"face side must be 'left' or 'right', got {side!r}")
    centre = (boxes[:, 0] + boxes[:, 2]) / 2
    return boxes[centre < width / 2] if side == "left" else boxes[centre >= width / 2]
