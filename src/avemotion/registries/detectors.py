"""Offline face detectors (`--detector`, PreprocessConfig.detector): the one place that knows them.

Each detector declares what the settings, the preprocessing, the checks and the CLI need, so no
other module compares a detector name. A setting is the detector's name and, for a detector of a
versioned package, that package's major version ("dlib@20"), so that a cache or a run records which
model found its faces; data.detectors runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Detector:
    name: str  # the --detector value; its setting is name@<package major> when `versioned`
    detect: str  # "module:function" that finds faces in an RGB frame (imported when first used)
    package: Optional[str]  # the module it imports beyond the base install; None: none (OpenCV)
    install: Optional[str]  # how to install `package` (for its error message)
    versioned: bool  # the recorded setting holds `package`'s major version ("dlib@20")
    landmark_box: bool  # each box is the tight box of 68 predicted points (the landmark CSV rule)
    extra: Optional[str]  # the optional pip extra it needs (its model file), None: none
    smooths_boxes: bool  # boxes are smoothed over each window, searched every DETECT_STRIDE-th frame
    help: str  # its part of the --detector help


DETECTORS: dict[str, Detector] = {}


def register(detector: Detector) -> Detector:
    DETECTORS[detector.name] = detector
    return detector


HOG = "avemotion.data.detectors:detect_hog"
register(Detector(
    name="dlib", detect=HOG, package="dlib", install="dlib-bin", versioned=True, landmark_box=False,
    extra=None, smooths_boxes=True, help="HOG",
))
register(Detector(
    name="dlib68", detect=HOG, package="dlib", install="dlib-bin", versioned=True, landmark_box=True,
    extra="landmarks", smooths_boxes=True, help="box of 68 predicted landmarks, the CSV rule",
))
# Haar's boxes are not smoothed (kept as they were, so that haar caches stay reproducible), and its
# setting records no version (as recorded before the default changed, so such caches keep their hash).
register(Detector(
    name="haar", detect="avemotion.data.faces:detect_haar", package=None, install=None, versioned=False,
    landmark_box=False, extra=None, smooths_boxes=False, help="OpenCV cascade",
))

DEFAULT = "dlib"  # the --detector default
FALLBACK = "haar"  # the zero-extra-dependency detector (faces.detect_faces' default)
LANDMARK_DETECTOR = "dlib68"  # the one predict uses to reproduce the landmark CSV crop rule
# the major version a versioned setting records when it names none, per package
PACKAGE_MAJOR = {"dlib": 20}


def names() -> tuple[str, ...]:
    return tuple(DETECTORS)


def parse(setting: str) -> tuple[Detector, str]:
    """(detector, recorded version or "") of a setting; ValueError for an unknown name."""
    name, _, version = str(setting).partition("@")
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, got {setting!r}")
    return DETECTORS[name], version


def get(setting: str) -> Detector:
    return parse(setting)[0]


def canonical(setting: str) -> str:
    """The recorded form of a setting: 'dlib' -> 'dlib@20', 'haar' -> 'haar'; ValueError for an
    unknown name or a version on an unversioned detector."""
    detector, version = parse(setting)
    name = detector.name
    if not detector.versioned:
        if version:
            raise ValueError(f"detector {name!r} takes no version, got {setting!r}")
        return name
    major = PACKAGE_MAJOR[detector.package]
    if version and not version.isdigit():
        raise ValueError(f"detector {setting!r}: the version after @ is {detector.package}'s major version (e.g. {name}@{major})")
    return f"{name}@{version or major}"


def without_package() -> str:
    """The detectors that need nothing beyond the base install, for messages."""
    return " or ".join(f"--detector {d.name}" for d in DETECTORS.values() if d.package is None)


def help_text(quote: str = "'", mark_default: bool = True) -> str:
    """"'dlib' (HOG, default), 'dlib68' (...; needs the landmarks extra), 'haar' (OpenCV cascade)"."""
    parts = []
    for d in DETECTORS.values():
        note = d.help + (", default" if mark_default and d.name == DEFAULT else "")
        note += f"; needs the {d.extra} extra" if d.extra else ""
        parts.append(f"{quote}{d.name}{quote} ({note})")
    return ", ".join(parts)
