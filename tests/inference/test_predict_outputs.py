import csv
import io
import json

import av
import numpy as np
import pytest
from rich.console import Console

from avemotion import EMOTIONS
from avemotion.inference.annotate import annotate_video, prediction_at
from avemotion.inference.outputs import to_csv, to_json, render_table
from avemotion.inference.plot import plot_result
from avemotion.inference.results import FileError, Prediction, Timeline
from avemotion.inference.windows import smooth_probs


def onehot(label, p=0.9):
    probs = np.full(8, (1 - p) / 7)
    probs[label] = p
    return probs


@pytest.fixture
def clip():
    return Prediction.from_probs(onehot(4), ("video", "audio"), 0.0, 2.2, file="a.mp4")


@pytest.fixture
def timeline():
    probs = np.stack([onehot(2), onehot(2), onehot(4), onehot(4), onehot(4)])
    windows = [Prediction.from_probs(p, ("video", "audio"), i, i + 3, file="long.mp4") for i, p in enumerate(probs)]
    smoothed = [Prediction.from_probs(p, ("video", "audio"), i, i + 3, file="long.mp4") for i, p in enumerate(smooth_probs(probs, 3))]
    return Timeline(windows=windows, smoothed=smoothed, smooth=3, window=3.0, hop=1.0, duration=7.0, file="long.mp4")


def test_prediction_from_probs(clip):
    assert clip.emotion == "angry" and clip.label == 4
    assert list(clip.probabilities) == list(EMOTIONS)
    assert clip.probability == pytest.approx(0.9)
    d = clip.to_dict()
    assert d["kind"] == "clip" and d["modalities"] == ["video", "audio"]


def test_json_holds_results_and_errors(clip, timeline):
    err = FileError("bad.mp4", "no_audio", "no audio stream")
    doc = json.loads(to_json([clip, timeline, err], {"run": "r"}))
    assert doc["run"] == "r" and doc["failed"] == 1
    kinds = [r["kind"] for r in doc["results"]]
    assert kinds == ["clip", "timeline", "error"]
    assert doc["results"][2]["error"] == {"reason": "no_audio", "detail": "no audio stream"}
    tl = doc["results"][1]
    assert len(tl["windows"]) == 5 and len(tl["smoothed"]) == 5
    assert [w["emotion"] for w in tl["windows"]] == ["happy", "happy", "angry", "angry", "angry"]


def test_csv_rows(clip, timeline):
    rows = list(csv.DictReader(io.StringIO(to_csv([clip, timeline, FileError("x.txt", "not_video", "not a video")]))))
    assert [r["kind"] for r in rows] == ["clip"] + ["window_smoothed"] * 5 + ["error"]
    assert rows[0]["emotion"] == "angry" and float(rows[0]["angry"]) == pytest.approx(0.9)
    assert rows[-1]["error_reason"] == "not_video" and rows[-1]["emotion"] == ""
    assert sum(float(rows[1][e]) for e in EMOTIONS) == pytest.approx(1.0, abs=1e-5)


def test_table_mentions_every_file(clip, timeline):
    console = Console(file=io.StringIO(), width=140)
    render_table([clip, timeline, FileError("bad[1].mp4", "corrupt", "truncated file")], console)
    text = console.file.getvalue()
    for needle in ("a.mp4", "angry", "long.mp4", "mostly angry", "bad[1].mp4", "error: truncated file", "happy"):
        assert needle in text


def test_plots_are_pngs(tmp_path, clip, timeline):
    for result, name in ((clip, "clip.png"), (timeline, "tl.png")):
        out = plot_result(result, tmp_path / name)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.png", "tl.png"]


def test_prediction_at_picks_the_nearest_window(timeline):
    assert prediction_at(timeline, 0.0).emotion == "happy"
    assert prediction_at(timeline, 6.9).emotion == "angry"


def test_annotated_video_keeps_frames_and_audio(tmp_path, crema_clips, clip):
    out = annotate_video(crema_clips[0], clip, tmp_path / "out.mp4")
    with av.open(str(out)) as c:
        frames = list(c.decode(video=0))
        assert c.streams.audio
    with av.open(str(crema_clips[0])) as c:
        n_source = sum(1 for _ in c.decode(video=0))
    assert len(frames) == n_source
    # the label is drawn: the top-left corner differs from the source frame
    first = frames[0].to_ndarray(format="rgb24")
    assert (first[5:40, 10:150] > 200).mean() > 0.02
