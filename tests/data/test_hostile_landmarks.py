"""Issue 16, items 1 and 6: a malformed landmark CSV, or one measured at another resolution or for
another clip, is `bad_landmarks` in one line; the other clips go on and cached ones stay as they were."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from avemotion.data import faces
from avemotion.data.cache import open_cache
from avemotion.data.prepare import prepare
from avemotion.errors import InputError

sys.path.insert(0, str(Path(__file__).parent))
from hostile import (BROKEN, SMALL, add_clip, broken_csv, corpus, free_names, leftovers, no_traceback,  # noqa: E402
                     prepare_args, run_cli, stamp, unchanged)


def test_broken_landmark_csvs_are_reported_and_the_corpus_goes_on(synth_corpus, tmp_path, monkeypatch, capsys):
    root, out = tmp_path / "corpus", tmp_path / "cache"
    good = corpus(synth_corpus, root, 2)
    cache = open_cache(prepare(root, out, SMALL, workers=1).cache)
    before = stamp(cache.path / "clips")
    good_csv = root / "landmarks" / f"{good[0].stem}.csv"
    names = iter(free_names())
    broken = {}
    for kind in BROKEN:
        stem = next(names)
        add_clip(root, good[0], stem, broken_csv(good_csv, kind))
        broken[f"{stem}.csv"] = kind
    tolerated = add_clip(root, good[0], next(names), broken_csv(good_csv, "two_rows_short"))
    upper = add_clip(root, good[1], next(names), (root / "landmarks" / f"{good[1].stem}.csv").read_text(),
                     suffix=".MP4", csv_suffix=".CSV")

    code, stdout, stderr = run_cli(monkeypatch, capsys, *prepare_args(root, out, "--workers", "1"))

    assert code == 3, stdout + stderr  # finished, some files failed
    no_traceback(stdout + stderr)
    report = json.loads((cache.path / "report.json").read_text())
    got = {Path(f["file"]).name: f for f in report["failed"]}
    assert set(got) == set(broken)
    for name, kind in broken.items():
        f = got[name]
        assert f["reason"] == "bad_landmarks" and BROKEN[kind] in f["detail"] and "\n" not in f["detail"], (kind, f)
        assert f"failed: {name}: bad_landmarks: {f['detail']}" in stdout.splitlines()
    # the others went on: the tolerated CSV (2 rows short) and the upper-case clip are prepared
    assert report["prepared"] == 2 and report["cached"] == 4 and report["cached_before"] == 2
    assert cache.has(tolerated.stem) and cache.has(upper.stem)
    assert cache.record(upper.stem)["prep"]["face_source"] == "landmarks"
    assert report["face_sources"] == {"landmarks": 4}
    assert not unchanged(before, stamp(cache.path / "clips")) and not leftovers(cache.path)


def _write(tmp_path, text):
    path = tmp_path / "lm.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_row_count_tolerance(synth_corpus, tmp_path):
    """One row per frame, give or take max(ROW_SLACK, 2 %): 5 rows either way for a 103-frame clip."""
    csv = next((synth_corpus / "landmarks").glob("*.csv"))
    points = faces.read_landmarks(csv)
    frames = len(points)
    for rows in (frames - 5, frames + 5):
        faces.check_landmarks(csv, np.resize(points, (rows, 68, 2)), 160, 120, frames)
    for rows in (frames - 6, frames + 6):
        with pytest.raises(InputError, match=f"{rows} rows for a video of {frames} frames") as err:
            faces.check_landmarks(csv, np.resize(points, (rows, 68, 2)), 160, 120, frames)
        assert err.value.code == "bad_landmarks" and err.value.path == csv
    assert max(faces.ROW_SLACK, round(faces.ROW_SLACK_FRACTION * 2000)) == 40  # long videos: 2 %


def test_rows_that_are_no_face_are_not_checked(synth_corpus, tmp_path):
    """success = 0 rows (OpenFace writes zeros there) are skipped, not refused; a CSV without any
    face row falls back to the detector."""
    csv = next((synth_corpus / "landmarks").glob("*.csv"))
    header, *lines = csv.read_text().splitlines()
    cols = [c.strip() for c in header.split(",")]
    success = cols.index("success")

    def failed(line):
        values = line.split(", ")
        return ", ".join("0" if i == success or i >= 297 else v for i, v in enumerate(values))

    some = _write(tmp_path, "\n".join([header, failed(lines[0])] + lines[1:]) + "\n")
    points = faces.usable_landmarks(some, 160, 120, len(lines))
    assert np.isnan(points[0]).all() and np.isfinite(points[1:]).all()
    none = _write(tmp_path, "\n".join([header] + [failed(line) for line in lines]) + "\n")
    assert faces.usable_landmarks(none, 160, 120, len(lines)) is None


def test_unreadable_csv_is_one_line(tmp_path, monkeypatch):
    from hostile import deny_read

    path = _write(tmp_path, "x_0\n1\n")
    deny_read(monkeypatch, path)
    with pytest.raises(InputError) as err:
        faces.read_landmarks(path)
    assert (err.value.code, err.value.detail) == ("bad_landmarks", "cannot read landmark CSV (Permission denied)")
