"""Issue 16, item 10: `prepare` exits 3 when files failed (after the others), finds upper-case
extensions, refuses actors outside 01..24 as bad names, names the padded rule for too-short clips,
keeps numpy warnings off the terminal, and stops on Ctrl-C in one line (exit 130) keeping every
finished clip."""

import json
import os
import signal
import shutil
import sys
import warnings
from pathlib import Path

import av
import numpy as np

from avemotion.config import PreprocessConfig
from avemotion.data import preprocess
from avemotion.data.cache import open_cache
from avemotion.data.datasets import scan_dataset
from avemotion.data.prepare import prepare

sys.path.insert(0, str(Path(__file__).parent))
from hostile import (SMALL, corpus, deny_read, free_names, leftovers, no_traceback, prepare_args,  # noqa: E402
                     run_cli, stamp, start_prepares, stop, unchanged, wait_for)


def write_media(path: Path, seconds: float, size=(160, 120)) -> Path:
    """mp4 of grey noise frames (no face) and a 220 Hz tone."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        aus = out.add_stream("aac", rate=44100, layout="mono")
        for _ in range(int(seconds * 30)):
            img = rng.integers(100, 140, (size[1], size[0], 3), dtype=np.uint8)
            out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(vs.encode())
        tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * 44100)) / 44100)).astype(np.float32)
        for i in range(0, len(tone), 1024):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[None, i:i + 1024]), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 44100, i
            out.mux(aus.encode(fr))
        out.mux(aus.encode())
    return path


def test_failed_files_exit_3_after_the_others(synth_corpus, tmp_path, monkeypatch, capsys):
    root, out = tmp_path / "corpus", tmp_path / "cache"
    good = corpus(synth_corpus, root, 3)
    cache = open_cache(prepare(root, out, SMALL, workers=1).cache)
    before = stamp(cache.path / "clips")
    for actor in (25, 0):  # not RAVDESS actors: bad names, not new actors
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir()
        shutil.copy(good[0], folder / f"01-01-03-01-01-01-{actor:02d}.mp4")
    shutil.copy(good[0], root / "Actor_01" / "01-01-03-01-01-02-25.mp4")
    stem = free_names()[0]
    upper = root / "Actor_01" / f"{stem}.Mp4"
    shutil.copy(good[1], upper)
    shutil.copy(root / "landmarks" / f"{good[1].stem}.csv", root / "landmarks" / f"{stem}.csv")
    denied = root / "Actor_01" / f"{free_names()[1]}.mp4"
    shutil.copy(good[2], denied)
    deny_read(monkeypatch, denied)

    code, stdout, stderr = run_cli(monkeypatch, capsys, *prepare_args(root, out, "--workers", "1"))

    assert code == 3, stdout + stderr
    no_traceback(stdout + stderr)
    report = json.loads((cache.path / "report.json").read_text())
    got = {Path(f["file"]).name: (f["reason"], f["detail"]) for f in report["failed"]}
    assert got == {
        "01-01-03-01-01-01-25.mp4": ("bad_name", "RAVDESS field actor=25 outside 01..24"),
        "01-01-03-01-01-01-00.mp4": ("bad_name", "RAVDESS field actor=00 outside 01..24"),
        "01-01-03-01-01-02-25.mp4": ("bad_name", "RAVDESS field actor=25 outside 01..24"),
        denied.name: ("unreadable", "cannot read file (Permission denied)"),
    }
    for name, (reason, detail) in got.items():
        assert f"failed: {name}: {reason}: {detail}" in stdout.splitlines()
    assert report["prepared"] == 1 and cache.has(stem) and {r["actor"] for r in cache.records()} == {1}
    assert not unchanged(before, stamp(cache.path / "clips")) and not leftovers(cache.path)
    # nothing failed: exit 0
    for path in [*root.glob("Actor_*/*-25.mp4"), *root.glob("Actor_00/*"), denied]:
        path.unlink()
    monkeypatch.undo()
    code, stdout, stderr = run_cli(monkeypatch, capsys, *prepare_args(root, out, "--workers", "1"))
    assert code == 0 and "0 failed" in stdout, stdout + stderr


def test_upper_case_extensions_are_found(synth_corpus, crema_dir, tmp_path):
    root = tmp_path / "ravdess"
    clips = corpus(synth_corpus, root, 2)
    clips[0].rename(clips[0].with_suffix(".MP4"))
    csv = root / "landmarks" / f"{clips[0].stem}.csv"
    csv.rename(csv.with_suffix(".CSV"))
    scan = scan_dataset(root)
    assert [r.path.name for r in scan.records] == [f"{clips[0].stem}.MP4", clips[1].name] and not scan.errors
    assert scan.records[0].landmarks == csv.with_suffix(".CSV")
    crema = tmp_path / "crema"
    crema.mkdir()
    for p in crema_dir.glob("*.flv"):
        shutil.copy(p, crema / f"{p.stem}.FLV")
    assert len(scan_dataset(crema).records) == 3


def test_too_short_names_the_rule_that_applies(tmp_path):
    short, very_short = write_media(tmp_path / "short.mp4", 2.0), write_media(tmp_path / "very.mp4", 0.8)
    strict, padded = PreprocessConfig(num_frames=4, frame_size=32), PreprocessConfig(num_frames=4, frame_size=32, short_clip="pad")
    for path, cfg, detail in [
        (short, strict, "clip is 2.00 s, the window needs 2.95 s (use --pad-short to zero-pad clips of at least 1.00 s)"),
        (very_short, padded, "clip is 0.80 s, under the 1.00 s that --pad-short needs to zero-pad a clip to 2.95 s"),
    ]:
        try:
            preprocess.preprocess(path, cfg)
        except preprocess.InputError as err:
            assert (err.code, err.detail) == ("too_short", detail)
        else:
            raise AssertionError(f"{path} was not refused")


def test_numpy_warnings_stay_off_the_terminal(synth_corpus, tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    clips = corpus(synth_corpus, root, 2)
    real = preprocess.preprocess

    def noisy(path, *args, **kwargs):
        np.mean(np.array([]))  # RuntimeWarning: Mean of empty slice
        return real(path, *args, **kwargs)

    monkeypatch.setattr(preprocess, "preprocess", noisy)
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        report = prepare(root, tmp_path / "cache", SMALL, workers=1)
    assert not leaked and report.prepared == 2
    assert f"RuntimeWarning: Mean of empty slice while preprocessing 2 file(s), e.g. {clips[0].stem}" in report.warnings


def test_ctrl_c_keeps_finished_clips_in_one_line(synth_corpus, tmp_path):
    root, out = tmp_path / "corpus", tmp_path / "cache"
    # enough clips (all of 4 actors) that some are still queued when Ctrl-C lands, even when a busy
    # machine lets this process poll late (15 clips were all done before it on 2 loaded cores)
    total = len(corpus(synth_corpus, root, 15, actors=(1, 2, 3, 4)))
    clips = out / SMALL.hash() / "clips"
    [proc] = start_prepares(1, root, out, "--workers", "2")
    try:
        assert wait_for(lambda: clips.is_dir() and any(clips.glob("*.json"))), "no clip was prepared"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        stop(proc)
    assert proc.returncode == 130, stdout + stderr
    no_traceback(stderr)
    last = stderr.strip().splitlines()[-1]
    kept = len(list(clips.glob("*.json")))
    assert last.startswith(f"interrupted: {kept} complete clips are kept in {out / SMALL.hash()} (") and \
        last.endswith("run the same command again to resume"), stderr
    assert 0 < kept < total and not leftovers(clips.parent)
    assert json.loads((clips.parent / "report.json").read_text())["interrupted"] is True
    before = stamp(clips)
    report = prepare(root, out, SMALL, workers=2)
    assert (report.cached_before, report.prepared, report.failed) == (kept, total - kept, [])
    assert not unchanged(before, stamp(clips))
