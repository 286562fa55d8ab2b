"""Long videos: clips of different emotions joined into one video give a timeline in their order."""

import json

import av
import pytest

from avemotion.run_layout import RunLayout
from avemotion.inference import Recognizer, Timeline
from avemotion.inference.media import concat_videos
from inference_helpers import concat_landmarks, run_predict

ORDER = ("happy", "sad", "happy")
CODES = {"happy": 3, "sad": 4}


@pytest.fixture(scope="module")
def long_video(trained_run, tmp_path_factory):
    """Strong-intensity clips of the fold's test actors (never seen in training), joined in ORDER,
    with their landmark CSVs joined the same way. Returns (video, landmarks, clip durations)."""
    run, corpus = trained_run
    actors = RunLayout.for_training(run).read_manifest(0).test_actors
    stems = [f"01-01-{CODES[e]:02d}-02-01-01-{actors[i % len(actors)]:02d}" for i, e in enumerate(ORDER)]
    clips = [next(corpus.glob(f"Actor_*/{s}.mp4")) for s in stems]
    out = tmp_path_factory.mktemp("long")
    video = concat_videos(clips, out / "joined.mp4")
    landmarks = concat_landmarks([corpus / "landmarks" / f"{s}.csv" for s in stems], out / "joined.csv")
    durations = []
    for clip in clips:
        with av.open(str(clip)) as c:
            stream = c.streams.video[0]
            durations.append(stream.frames / float(stream.average_rate))
    return video, landmarks, durations


def runs_of(labels):
    """Collapse consecutive repeats: [a, a, b, a] -> [a, b, a]."""
    return [x for i, x in enumerate(labels) if i == 0 or labels[i - 1] != x]


def test_timeline_follows_the_order_of_the_clips(trained_run, long_video):
    video, landmarks, durations = long_video
    rec = Recognizer.from_run(trained_run[0], window=3.0, hop=0.5, smooth=3)
    timeline = rec.predict(video, landmarks=landmarks)
    assert isinstance(timeline, Timeline)
    assert timeline.duration == pytest.approx(sum(durations), abs=0.1)
    assert timeline.windows[0].start == 0 and timeline.windows[-1].end == pytest.approx(timeline.duration, abs=1e-3)
    assert len(timeline.smoothed) == len(timeline.windows)
    for labels in ([w.emotion for w in timeline.windows], [w.emotion for w in timeline.smoothed]):
        assert runs_of(labels) == list(ORDER)
    # the window centred nearest to each clip's middle names that clip's emotion
    start = 0.0
    for emotion, seconds in zip(ORDER, durations):
        middle = start + seconds / 2
        nearest = min(timeline.windows, key=lambda w: abs((w.start + w.end) / 2 - middle))
        assert nearest.emotion == emotion and nearest.probability > 0.6
        start += seconds


def test_cli_timeline_outputs(trained_run, long_video, tmp_path, monkeypatch, capsys):
    video, landmarks, _ = long_video
    out, png, mp4 = tmp_path / "t.json", tmp_path / "t.png", tmp_path / "t.mp4"
    code, stdout, err = run_predict(monkeypatch, capsys, video, "--run", trained_run[0], "--landmarks", landmarks,
                                "--format", "json", "-o", out, "--plot", png, "--annotate", mp4, "--smooth", "2")
    assert (code, err) == (0, "")
    doc = json.loads(out.read_text())
    (tl,) = doc["results"]
    assert tl["kind"] == "timeline" and tl["window"] == 3.0 and tl["hop"] == 1.0 and tl["smooth"] == 2
    assert [w["start"] for w in tl["windows"]][:3] == [0.0, 1.0, 2.0]
    assert runs_of([w["emotion"] for w in tl["windows"]]) == list(ORDER)
    assert png.read_bytes()[:4] == b"\x89PNG"
    with av.open(str(mp4)) as c, av.open(str(video)) as src:
        assert c.streams.video[0].frames == src.streams.video[0].frames
        assert c.streams.audio
