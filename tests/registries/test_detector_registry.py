"""registries.detectors is the one module that knows the face detectors (issue 22): every detector
declares every property, no other module spells a detector's name, and a registered detector is one
users can choose."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from names_scan import spelled
from typer.testing import CliRunner

from avemotion.config import PreprocessConfig
from avemotion.data import detectors, faces
from avemotion.registries import detectors as registry

# The dlib backend (data.detectors) imports and names its package, which shares the detector's name.
PACKAGE_NOT_DETECTOR = {("data/detectors.py", "dlib")}


def test_every_detector_declares_every_property():
    fields = [f.name for f in dataclasses.fields(registry.Detector)]
    for name, detector in registry.DETECTORS.items():
        assert detector.name == name
        for field in fields:
            assert hasattr(detector, field), (name, field)
        module, _, function = detector.detect.partition(":")
        assert module.startswith("avemotion.") and function, name
        assert isinstance(detector.help, str) and detector.help, name
        assert (detector.package is None) == (detector.install is None), name
        assert not detector.versioned or detector.package in registry.PACKAGE_MAJOR, name  # a version to record
        assert isinstance(detector.smooths_boxes, bool) and isinstance(detector.landmark_box, bool), name
    for name in (registry.DEFAULT, registry.FALLBACK, registry.LANDMARK_DETECTOR):
        assert name in registry.DETECTORS
    assert registry.get(registry.LANDMARK_DETECTOR).landmark_box
    assert registry.get(registry.FALLBACK).package is None


def test_no_module_outside_the_registry_spells_a_detector():
    hits = [(path, name, text) for path, name, text in spelled(registry.names())
            if path != "registries/detectors.py" and (path, name) not in PACKAGE_NOT_DETECTOR]
    assert hits == []


def test_the_detectors_keep_their_settings_and_hashes():
    assert PreprocessConfig().detector == "dlib@20" == detectors.DEFAULT_DETECTOR
    assert [registry.canonical(n) for n in ("dlib", "dlib68", "haar", "dlib@19")] == ["dlib@20", "dlib68@20", "haar", "dlib@19"]
    assert PreprocessConfig().hash({"librosa": "0.10", "stft_pad_mode": "constant"}) == "783179e5b7b5a409"  # as before the registry
    cfg = PreprocessConfig()
    assert faces.smooths(cfg, None) and not faces.smooths(cfg, np.zeros((68, 2)))
    assert not faces.smooths(PreprocessConfig(detector="haar"), None)


def test_a_registered_detector_is_one_users_can_choose(monkeypatch):
    with pytest.raises(ValueError, match="detector must be one of"):
        PreprocessConfig(detector="dummy")
    calls = []
    monkeypatch.setattr(faces, "_dummy_detect", lambda frame: calls.append(1) or np.array([[1, 2, 30, 40]], np.float32),
                        raising=False)
    dummy = registry.Detector(name="dummy", detect="avemotion.data.faces:_dummy_detect", package=None, install=None,
                              versioned=False, landmark_box=False, extra=None, smooths_boxes=True, help="a test")
    monkeypatch.setitem(registry.DETECTORS, "dummy", dummy)
    cfg = PreprocessConfig(detector="dummy")
    assert cfg.detector == "dummy" and faces.smooths(cfg, None)
    detectors.check("dummy")  # nothing to install
    assert faces.detect_faces(np.zeros((8, 8, 3), np.uint8), "dummy").tolist() == [[1, 2, 30, 40]] and calls
    assert "'dummy' (a test)" in registry.help_text()
    assert "--detector dummy" in registry.without_package()


def test_the_cli_help_lists_every_detector():
    from avemotion.cli.main import app

    out = CliRunner().invoke(app, ["prepare", "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"}).output
    for name in registry.names():
        assert f"'{name}'" in out
