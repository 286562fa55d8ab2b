"""Issue 16, item 7: the landmark-to-detector fallback is counted and named, and a clip whose face
source would change (its CSV appeared or went away) is prepared again on resume."""

import json
import sys
from pathlib import Path

from avemotion.data.cache import open_cache
from avemotion.data.prepare import prepare

sys.path.insert(0, str(Path(__file__).parent))
from hostile import SMALL, corpus, leftovers, no_traceback, prepare_args, run_cli, stamp, unchanged  # noqa: E402


def _no_face_rows(csv: Path) -> str:
    """The CSV with every row marked success = 0 (OpenFace lost the face everywhere)."""
    header, *lines = csv.read_text().splitlines()
    success = [c.strip() for c in header.split(",")].index("success")
    rows = [", ".join("0" if i == success else v for i, v in enumerate(line.split(", "))) for line in lines]
    return "\n".join([header, *rows]) + "\n"


def test_face_sources_are_counted_and_fallbacks_named(synth_corpus, tmp_path, monkeypatch, capsys):
    root, out = tmp_path / "corpus", tmp_path / "cache"
    clips = corpus(synth_corpus, root, 4)
    missing, lost = clips[1].stem, clips[2].stem
    held = (root / "landmarks" / f"{missing}.csv").rename(tmp_path / f"{missing}.csv")
    lost_csv = root / "landmarks" / f"{lost}.csv"
    lost_csv.write_text(_no_face_rows(lost_csv))

    code, stdout, stderr = run_cli(monkeypatch, capsys, *prepare_args(root, out, "--workers", "1"))

    assert code == 0, stdout + stderr
    no_traceback(stdout + stderr)
    cache = open_cache(out)
    report = json.loads((cache.path / "report.json").read_text())
    assert report["face_sources"] == {"landmarks": 2, "detector": 2}
    assert report["no_landmarks"] == [missing]
    assert "faces: 2 from detector, 2 from landmarks" in stdout.splitlines()
    lines = [line for line in stdout.splitlines() if line.startswith("warning:")]
    assert any("1 clips have no landmark CSV" in line and missing in line for line in lines), lines
    assert any("without a row marked as a face" in line and lost in line for line in lines), lines
    assert [cache.record(c.stem)["prep"]["face_source"] for c in clips] == ["landmarks", "detector", "detector", "landmarks"]

    # the CSV appears: that clip is prepared again from its landmarks, nothing else is touched
    before = stamp(cache.clips)
    held.rename(root / "landmarks" / f"{missing}.csv")
    again = prepare(root, out, SMALL, workers=1)
    assert again.redone == [missing] and again.prepared == 1 and again.cached_before == 3 and not again.failed
    assert cache.record(missing)["prep"]["face_source"] == "landmarks"
    assert again.face_sources == {"landmarks": 3, "detector": 1} and again.no_landmarks == []
    changed = unchanged(before, stamp(cache.clips))
    assert changed and all(name.startswith(missing) for name in changed), changed
    assert any("prepared again, their landmark CSV appeared" in w for w in again.warnings)
    # nothing changed since: nothing is redone (the CSV without face rows stays on the detector)
    third = prepare(root, out, SMALL, workers=1)
    assert (third.redone, third.prepared, third.cached_before) == ([], 0, 4) and not leftovers(cache.path)
