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
    """Each plot is a PNG that decodes to a figure with something drawn on it (not a signature on a
    blank or broken file), and the timeline's is wider than tall (time runs along it)."""
    import numpy as np
    from PIL import Image

    sizes = {}
    for result, name in ((clip, "clip.png"), (timeline, "tl.png")):
        out = plot_result(result, tmp_path / name)
        with Image.open(out) as image:
            assert image.format == "PNG"
            pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
        sizes[name] = pixels.shape[1], pixels.shape[0]
        assert min(sizes[name]) >= 100, sizes
        colours = {tuple(c) for c in pixels.reshape(-1, 3)[:: max(1, pixels.size // 30000)]}
        assert len(colours) > 8, f"{name}: {len(colours)} colours: nearly blank"
    assert sizes["tl.png"][0] > sizes["tl.png"][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.png", "tl.png"]


def test_prediction_at_picks_the_nearest_window(timeline):
    assert prediction_at(timeline, 0.0).emotion == "happy"
    assert prediction_at(timeline, 6.9).emotion == "angry"


def rgb_frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_annotated_video_keeps_frames_and_audio(tmp_path, crema_clips, clip):
    """Every source frame comes back unchanged (within H.264 re-encoding) outside the label in the
    top-left corner, and with the label drawn inside it."""
    source = crema_clips[0]
    out = annotate_video(source, clip, tmp_path / "out.mp4")
    with av.open(str(out)) as c:
        assert c.streams.audio
    frames, originals = rgb_frames(out), rgb_frames(source)  # the source decoded by PyAV alone
    assert len(frames) == len(originals) > 30
    # "angry 0.90" at this 360-line frame's font size is about 130 x 30 px from (10, 5); the region
    # adds a 16 px H.264 macroblock around it, where re-encoding the sharp text disturbs the pixels
    label = np.zeros(originals[0].shape[:2], bool)
    label[:64, :256] = True
    for i, (got, want) in enumerate(zip(frames, originals)):
        assert got.shape == want.shape == (360, 480, 3)
        diff = np.abs(got.astype(int) - want.astype(int))
        # outside: re-encoding error only (measured: mean about 2, 99.9th percentile at most 18)
        assert diff[~label].mean() < 4, f"frame {i} differs from the source outside the label"
        assert np.percentile(diff[~label], 99.9) < 40, f"frame {i}: something is drawn outside the label"
        # inside: the strokes of the text (measured: 7 % or more of the region's pixels)
        strokes = diff[label].max(axis=-1) > 60
        assert strokes.mean() > 0.02, f"frame {i}: no label drawn"
        assert (got[label][strokes] > 200).all(axis=-1).any()  # white text ...
        assert (got[label][strokes] < 60).all(axis=-1).any()  # ... on a dark outline
