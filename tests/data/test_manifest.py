"""Any labelled corpus from a manifest CSV (`prepare --manifest`), on real CREMA-D and RAVDESS files."""

import json

import pytest
from typer.testing import CliRunner

from avemotion.cli.main import app
from avemotion.data.cache import open_cache
from avemotion.data.datasets import scan_dataset
from avemotion.data.folds import check_folds, make_folds
from avemotion.errors import ConfigError


def _write(path, rows):
    path.write_text("\n".join(rows) + "\n")
    return path


def _crema_rows(crema_dir):
    return [f"{crema_dir / '1001_DFA_ANG_XX.flv'},anger,ann,f",
            f"{crema_dir / '1001_DFA_HAP_XX.flv'},joy,ann,",
            f"{crema_dir / '1001_DFA_NEU_XX.flv'},calm,bob,male"]


def test_every_bad_row_gets_a_one_line_reason_and_the_others_go_on(crema_dir, tmp_path):
    clip = crema_dir / "1001_DFA_ANG_XX.flv"
    csv = _write(tmp_path / "corpus.csv", [
        "path,label,speaker,start,end,gender",
        f"{clip},anger,ann,,,f",  # line 2: good
        "missing.flv,anger,ann,,,",  # 3: missing file
        f"{clip},,ann,,,",  # 4: empty label
        f"{clip},joy,bob,1.5,1.0,",  # 5: end <= start
        f"{clip},joy,bob,0.5,,",  # 6: start without end
        f"{clip},joy,bob,,,,extra",  # 7: a value no column names
        f"{clip},joy,,,,",  # 8: no speaker
        f"{clip},joy,ann,0.2,1.9,m",  # 9: a speaker whose gender another row states otherwise
        f"{clip},joy,bob,0.2,1.9,",  # 10: good, a segment (its own clip id)
    ])
    scan = scan_dataset(csv)
    assert scan.dataset == "manifest"
    assert [r.clip_id for r in scan.records] == ["1001_DFA_ANG_XX", "1001_DFA_ANG_XX_0.20-1.90"]
    seg = scan.records[1]
    assert (seg.start, seg.end, seg.speaker, seg.emotion) == (0.2, 1.9, "bob", "happy")
    assert scan.labels == ("angry", "happy")  # sorted labels, read as the shared names (anger, joy)
    reasons = {e.path.name: (e.code, e.detail) for e in scan.errors}
    assert reasons["missing.flv"] == ("unreadable", "file not found (corpus.csv line 3)")
    assert reasons["corpus.csv:4"] == ("bad_row", f"{clip}: empty label")
    assert reasons["corpus.csv:5"][1].endswith("end 1 s is not after start 1.5 s")
    assert "give both start and end" in reasons["corpus.csv:6"][1]
    assert reasons["corpus.csv:7"] == ("bad_row", "7 values, the header names 6 columns")
    assert reasons["corpus.csv:8"][1].endswith("empty speaker")
    assert "speaker 'ann' is female on an earlier row, male here" in reasons["corpus.csv:9"][1]
    assert len(scan.errors) == 7
    assert all("\n" not in e.detail for e in scan.errors)


@pytest.mark.parametrize("header, words", [
    ("path,label,speaker,emotion", "unknown column 'emotion'"),
    ("path,label", "no 'speaker' column"),
])
def test_a_manifest_without_its_columns_is_one_line(tmp_path, header, words):
    csv = _write(tmp_path / "corpus.csv", [header, "a.wav,x,y,z"])
    with pytest.raises(ConfigError, match=words):
        scan_dataset(csv)


def test_speakers_get_stable_ids_in_sorted_order_and_folds_keep_them_apart(crema_dir, tmp_path):
    clip = crema_dir / "1001_DFA_ANG_XX.flv"
    names = ["carol", "alice", "dave", "bob", "erin", "frank"]
    csv = _write(tmp_path / "corpus.csv", ["path,label,speaker,id,gender"] +
                 [f"{clip},x{i % 2},{n},c{i},{'f' if i % 2 else 'm'}" for i, n in enumerate(names)])
    scan = scan_dataset(csv)
    assert scan.speakers == {1: "alice", 2: "bob", 3: "carol", 4: "dave", 5: "erin", 6: "frank"}
    assert {r.clip_id: r.actor for r in scan.records}["c0"] == 3  # carol, whatever the row order
    folds = make_folds([r.actor for r in scan.records], genders={r.actor: r.gender for r in scan.records},
                       n_folds=3, n_val=1)
    check_folds(folds, range(1, 7))
    for f in folds:
        assert set(f.val_actors) <= set(range(1, 7)) - set(f.test_actors)


def test_labels_option_fixes_the_order_and_refuses_other_labels(crema_dir, tmp_path):
    csv = _write(tmp_path / "corpus.csv", ["path,label,speaker"] + [",".join(r.split(",")[:3]) for r in _crema_rows(crema_dir)])
    scan = scan_dataset(csv, labels=("joy", "anger"))
    assert scan.labels == ("happy", "angry")  # --labels are read as the shared names too
    assert {r.emotion: r.label for r in scan.records} == {"happy": 0, "angry": 1}
    assert [e.detail.split(": ", 1)[1] for e in scan.errors] == ["label 'calm' is not among --labels (happy, angry)"]


def test_prepare_manifest_of_real_crema_d_clips(crema_dir, tmp_path):
    """Audio-video: the CLI prepares the rows, reports a segment past the end of its file (exit 3),
    pads the short clips as --pad-short says and reports it, records classes and speakers, resumes."""
    rows = _crema_rows(crema_dir) + [f"{crema_dir / '1001_DFA_NEU_XX.flv'},calm,bob,male,1.0,9.0"]
    csv = _write(tmp_path / "corpus.csv", ["path,label,speaker,gender,start,end"] + [r + ",," for r in rows[:3]] + rows[3:])
    args = ["prepare", "--manifest", str(csv), "--out", str(tmp_path / "cache"), "--frames", "4", "--size", "32",
            "--pad-short", "--audio-window", "paper", "--workers", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "classes: 3 (angry, calm, happy)" in result.output
    assert "failed: 1001_DFA_NEU_XX.flv: bad_row: segment 1.00-9.00 s ends past the end of the file (2.04 s)" in result.output
    assert "3 clips are shorter than the 2.95 s audio window, their audio zero-padded (--pad-short)" in result.output
    cache = open_cache(tmp_path / "cache")
    assert cache.labels == ("angry", "calm", "happy") and cache.speakers == {1: "ann", 2: "bob"}
    assert cache.modalities == ("video", "audio")
    records = {r["clip_id"]: r for r in cache.records()}
    assert {c: (r["label"], r["actor"], r["gender"]) for c, r in records.items()} == {
        "1001_DFA_ANG_XX": (0, 1, "female"), "1001_DFA_HAP_XX": (2, 1, "female"), "1001_DFA_NEU_XX": (1, 2, "male")}
    assert all(r["prep"]["padded"] for r in records.values())
    video, mfcc = cache.load("1001_DFA_ANG_XX")
    assert video.shape == (4, 32, 32, 3) and mfcc.shape == (13, 212)
    again = CliRunner().invoke(app, args)
    assert "0 prepared, 3 already cached" in again.output
    report = json.loads((cache.path / "report.json").read_text())
    assert report["labels"] == ["angry", "calm", "happy"] and report["reasons"] == {"bad_row": 1}


def test_prepare_audio_only_manifest_of_real_ravdess_speech(ravdess_speech_dir, tmp_path):
    """A manifest of audio files is an audio-only corpus, like the RAVDESS speech set."""
    files = [ravdess_speech_dir / f"Actor_{a:02d}" / f"03-01-{e}-01-01-01-{a:02d}.flac" for a in (1, 2) for e in ("01", "05")]
    names = {"01": "neutral", "05": "angry"}
    rows = [f"{f.relative_to(ravdess_speech_dir)},{names[f.name[6:8]]},actor{f.parent.name[-2:]}" for f in files]
    csv = _write(tmp_path / "speech.csv", ["path,label,speaker"] + [f"{ravdess_speech_dir / r}" for r in rows])
    result = CliRunner().invoke(app, ["prepare", "--manifest", str(csv), "--out", str(tmp_path / "cache"),
                                      "--labels", "neutral,angry", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "manifest (audio): 4 files, 4 prepared" in result.output
    cache = open_cache(tmp_path / "cache")
    assert cache.modalities == ("audio",) and cache.labels == ("neutral", "angry")
    assert sorted((r["emotion"], r["label"]) for r in cache.records()) == [("angry", 1), ("angry", 1), ("neutral", 0), ("neutral", 0)]
    assert cache.load(cache.clip_ids()[0])[0] is None


@pytest.mark.parametrize("args, words", [
    ([], "give a corpus folder or --manifest CSV"),
    (["--labels", "a,b"], "--labels fixes a manifest's class names"),
    (["--manifest", "corpus.csv", "--iemocap-left", "male"], "--iemocap-left is an IEMOCAP option"),
    (["--manifest", "corpus.csv", "--labels", "a,a"], "class names repeated: a"),
])
def test_prepare_options_that_do_not_go_together_are_one_line(tmp_path, monkeypatch, capsys, args, words):
    """Through the real entry point, which prints a ConfigError as one line and exits 2."""
    import sys

    from avemotion.cli.main import run

    extra = [] if "--manifest" in args else ([str(tmp_path)] if args else [])
    monkeypatch.setattr(sys, "argv", ["avemotion", "prepare", *extra, *args, "--out", str(tmp_path / "cache")])
    with pytest.raises(SystemExit) as exit:
        run()
    err = capsys.readouterr().err
    assert exit.value.code == 2 and words in err and len(err.strip().splitlines()) == 1, err
