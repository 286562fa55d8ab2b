import json
import shutil

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from avemotion.cli.main import app
from avemotion.config import PreprocessConfig
from avemotion.data.cache import open_cache
from avemotion.data.prepare import prepare

SMALL = PreprocessConfig(num_frames=4, frame_size=32)


def write_media(path, seconds: float, video: bool = True, audio: bool = True, size=(160, 120)):
    """mp4 with the requested streams: grey noise frames (no face) and a 220 Hz tone."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"}) if video else None
        if vs is not None:
            vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        aus = out.add_stream("aac", rate=44100, layout="mono") if audio else None
        if vs is not None:
            for _ in range(int(seconds * 30)):
                img = rng.integers(100, 140, (size[1], size[0], 3), dtype=np.uint8)
                out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            out.mux(vs.encode())
        if aus is not None:
            t = np.arange(int(seconds * 44100)) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
            for i in range(0, len(tone), 1024):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[None, i:i + 1024]), format="fltp", layout="mono")
                fr.sample_rate, fr.pts = 44100, i
                out.mux(aus.encode(fr))
            out.mux(aus.encode())
    return path


def copy_clips(src, dst, n):
    """The first n clips of actor 1 of the synthetic corpus, with their landmark CSVs."""
    clips = sorted((src / "Actor_01").glob("*.mp4"))[:n]
    for c in clips:
        (dst / "Actor_01").mkdir(parents=True, exist_ok=True)
        shutil.copy(c, dst / "Actor_01" / c.name)
        (dst / "landmarks").mkdir(exist_ok=True)
        shutil.copy(src / "landmarks" / f"{c.stem}.csv", dst / "landmarks" / f"{c.stem}.csv")
    return clips


def add_bad_inputs(root, good):
    """One file per failure reason, all with valid RAVDESS names (statement 02 is unused by the fixture)."""
    a = root / "Actor_01"
    truncated = a / "01-01-03-01-02-01-01.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (a / "01-01-03-01-02-02-01.mp4").write_text("this is a text file, not a video\n")
    write_media(a / "01-01-04-01-02-01-01.mp4", 3.2, video=False)  # audio only
    write_media(a / "01-01-04-01-02-02-01.mp4", 3.2, audio=False)  # no audio stream
    write_media(a / "01-01-05-01-02-01-01.mp4", 2.0)  # shorter than 2.95 s
    write_media(a / "01-01-05-01-02-02-01.mp4", 3.2)  # noise frames, no landmarks: no face
    shutil.copy(good, a / "01-01-06-01-02-01-01.mp4")
    lm = root / "landmarks" / f"{good.stem}.csv"
    lines = lm.read_text().splitlines()
    cut = [", ".join(v for i, v in enumerate(line.split(", ")) if i != 300) for line in lines]  # drops x_3
    (root / "landmarks" / "01-01-06-01-02-01-01.csv").write_text("\n".join(cut) + "\n")
    (a / "01-01-06-01-02-02-01.mp4").mkdir()  # cannot be read as a file (root ignores chmod)
    (a / "01-01-99-01-02-02-01.mp4").write_bytes(good.read_bytes())  # malformed name
    # the bad-landmarks case is reported against the CSV: that is the file to fix
    return {"01-01-03-01-02-01-01.mp4": "corrupt", "01-01-03-01-02-02-01.mp4": "not_video",
            "01-01-04-01-02-01-01.mp4": "not_video", "01-01-04-01-02-02-01.mp4": "no_audio",
            "01-01-05-01-02-01-01.mp4": "too_short", "01-01-05-01-02-02-01.mp4": "no_face",
            "01-01-06-01-02-01-01.csv": "bad_landmarks", "01-01-06-01-02-02-01.mp4": "unreadable",
            "01-01-99-01-02-02-01.mp4": "bad_name"}


def test_every_bad_input_is_reported_and_cache_kept(synth_corpus, tmp_path):
    root, out = tmp_path / "corpus", tmp_path / "cache"
    good = copy_clips(synth_corpus, root, 2)
    first = prepare(root, out, SMALL, workers=1)
    assert first.prepared == 2 and not first.failed
    cache = open_cache(first.cache)
    before = {p.name: p.stat().st_mtime_ns for p in cache.clips.iterdir()}
    expected = add_bad_inputs(root, good[0])
    report = prepare(root, out, SMALL, workers=1, report_path=tmp_path / "r.json")
    got = {f["file"].split("/")[-1]: f["reason"] for f in report.failed}
    assert got == expected
    assert all(f["detail"] and "\n" not in f["detail"] for f in report.failed)
    assert report.cached_before == 2 and report.prepared == 0
    assert {p.name: p.stat().st_mtime_ns for p in cache.clips.iterdir()} == before
    saved = json.loads((cache.path / "report.json").read_text())
    assert saved == json.loads((tmp_path / "r.json").read_text())
    assert saved["reasons"]["not_video"] == 2 and saved["complete"] is False


def test_resume_after_interruption(synth_corpus, tmp_path):
    root, out = tmp_path / "corpus", tmp_path / "cache"
    copy_clips(synth_corpus, root, 4)
    done = []

    def stop_after_two(result):
        done.append(result)
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare(root, out, SMALL, workers=1, on_clip=stop_after_two)
    cache = open_cache(out)
    assert len(cache) == 2
    assert json.loads((cache.path / "report.json").read_text())["interrupted"] is True
    kept = {p.name: p.stat().st_mtime_ns for p in cache.clips.iterdir()}
    report = prepare(root, out, SMALL, workers=2)  # also exercises the process pool
    assert (report.cached_before, report.prepared, report.failed) == (2, 2, [])
    assert all(cache.clips.joinpath(n).stat().st_mtime_ns == t for n, t in kept.items())
    assert len(cache.records()) == 4 and (cache.path / "index.jsonl").read_text().count("\n") == 4
    # a temporary file left by a killed writer is never taken for a cached clip
    assert not list(cache.clips.glob(".*.tmp"))


def test_changed_settings_use_another_cache(prepared_cache, synth_corpus, tmp_path):
    other = PreprocessConfig(num_frames=4, frame_size=32, crop="legacy")
    assert other.hash() != prepared_cache.config.hash()
    assert prepared_cache.path.name == prepared_cache.config.hash()
    video, mfcc = prepared_cache.load(prepared_cache.clip_ids()[0])
    assert isinstance(video, np.memmap) and mfcc.shape == (13, 212)


def test_prepare_cli_on_real_clips(crema_dir, tmp_path):
    result = CliRunner().invoke(app, ["prepare", str(crema_dir), "--out", str(tmp_path / "c"), "--frames", "4",
                                      "--size", "32", "--pad-short", "--workers", "1",
                                      "--report", str(tmp_path / "rep.json")])
    assert result.exit_code == 0, result.output
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["prepared"] == 3 and rep["failed"] == [] and rep["dataset"] == "crema-d"
    cache = open_cache(tmp_path / "c")
    assert cache.config.short_clip == "pad" and len(cache) == 3
    # CREMA-D's 2 s clips are shorter than the paper window: refused there without --pad-short
    refused = CliRunner().invoke(app, ["prepare", str(crema_dir), "--out", str(tmp_path / "d"), "--frames", "4",
                                       "--size", "32", "--workers", "1", "--audio-window", "paper"])
    assert refused.exit_code == 3 and "too_short" in refused.output  # finished, some files failed
    # ... and prepared by default, with the speech window (any corpus but RAVDESS, issue 23)
    default = CliRunner().invoke(app, ["prepare", str(crema_dir), "--out", str(tmp_path / "e"), "--frames", "4",
                                       "--size", "32", "--workers", "1"])
    assert default.exit_code == 0 and "audio window: speech" in default.output, default.output
