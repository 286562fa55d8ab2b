"""Which face detector prediction uses: the crop rule the run was trained with by default,
`--detector` to pick another; real CREMA-D faces (ODbL / DbCL, see shared/data/crema-d/README.md)."""

from __future__ import annotations

import json

import pytest

from avemotion.config import PreprocessConfig
from avemotion.data import detectors
from avemotion.errors import ConfigError
from avemotion.inference import Recognizer
from avemotion.inference.features import predict_detector, training_face_sources
from avemotion.inference.runs import read_run
from avemotion.utils.io import write_json
from inference_helpers import make_run, run_predict

HAAR_RUN = PreprocessConfig(num_frames=8, frame_size=48, detector="haar")


def with_sources(run, sources: dict | None, cache=None):
    """Record in run.json where the run's training faces came from (or the cache they lie in)."""
    meta = json.loads((run / "run.json").read_text())
    meta.pop("face_sources", None)
    if sources is not None:
        meta["face_sources"] = sources
    if cache is not None:
        meta["cache"] = str(cache)
    write_json(run / "run.json", meta)
    return run


@pytest.fixture(scope="module")
def haar_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("haar_run"), preprocess=HAAR_RUN)


def test_a_run_trained_on_landmark_csvs_predicts_with_the_68_point_box(tmp_path):
    run = with_sources(make_run(tmp_path / "run"), {"landmarks": 59, "detector": 1})
    assert predict_detector(read_run(run)) == "dlib68"
    assert Recognizer.from_run(run).cfg.detector == f"dlib68@{detectors.DLIB_MAJOR}"


def test_a_run_trained_on_detector_faces_keeps_its_own_detector(haar_run):
    with_sources(haar_run, {"detector": 3})
    assert predict_detector(read_run(haar_run)) is None
    assert Recognizer.from_run(haar_run).cfg.detector == "haar"


def test_face_sources_are_read_from_the_cache_report_when_run_json_lacks_them(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    write_json(cache / "report.json", {"face_sources": {"landmarks": 4}})
    run = with_sources(make_run(tmp_path / "run"), None, cache=cache)
    assert training_face_sources(read_run(run).record) == {"landmarks": 4}
    (cache / "report.json").write_text("{ not json")
    assert training_face_sources(read_run(run).record) == {}  # a damaged report loses only this default


def test_detector_option_overrides_the_run_and_other_settings_still_refuse(haar_run):
    assert Recognizer.from_run(haar_run, detector="dlib").cfg.detector == f"dlib@{detectors.DLIB_MAJOR}"
    assert Recognizer.from_run(haar_run, preprocess={"detector": "dlib"}).cfg.detector == f"dlib@{detectors.DLIB_MAJOR}"
    with pytest.raises(ConfigError, match="frame_size"):
        Recognizer.from_run(haar_run, preprocess={"frame_size": 64})


def test_predict_cli_detector_option_on_a_real_face(monkeypatch, capsys, haar_run, crema_clips):
    code, out, err = run_predict(monkeypatch, capsys, crema_clips[0], "--run", haar_run, "--pad-short",
                                 "--detector", "dlib", "--format", "json", "--no-progress")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["preprocess"]["detector"] == f"dlib@{detectors.DLIB_MAJOR}" and doc["failed"] == 0
    assert doc["results"][0]["emotion"]


def test_predict_cli_unknown_detector_is_one_line_exit_2(monkeypatch, capsys, haar_run, crema_clips):
    code, out, err = run_predict(monkeypatch, capsys, crema_clips[0], "--run", haar_run, "--detector", "yolo")
    assert code == 2 and out == ""
    assert err.strip().startswith("error: --detector: detector must be one of dlib, dlib68, haar")
    assert len(err.strip().splitlines()) == 1
