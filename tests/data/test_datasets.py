import shutil

import pytest

from avemotion.data.datasets import ClipRecord, scan_dataset
from avemotion.data.datasets import cremad, ravdess
from avemotion.errors import InputError


def test_ravdess_name_fields():
    v = ravdess.parse_name("01-01-05-02-01-02-12.mp4")
    assert v == {"modality": 1, "vocal_channel": 1, "emotion": 5, "intensity": 2, "statement": 1,
                 "repetition": 2, "actor": 12}


@pytest.mark.parametrize("name, words", [
    ("01-01-05-02-01-02.mp4", "7 two-digit"),
    ("01-01-5-02-01-02-12.mp4", "7 two-digit"),
    ("01-01-09-01-01-01-12.mp4", "emotion=09"),
    ("01-01-01-02-01-01-12.mp4", "neutral has no strong"),
    ("01-01-03-03-01-01-12.mp4", "intensity=03"),
    ("clip.mp4", "7 two-digit"),
])
def test_ravdess_malformed_names(name, words):
    with pytest.raises(InputError) as err:
        ravdess.parse_name(name)
    assert err.value.code == "bad_name" and words in err.value.detail


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_ravdess_scan_selects_av_speech_and_finds_landmarks(tmp_path):
    a = tmp_path / "Actor_02"
    _touch(a / "01-01-03-01-01-01-02.mp4")  # AV speech: kept
    _touch(a / "02-01-03-01-01-01-02.mp4")  # video-only duplicate: skipped
    _touch(a / "01-02-03-01-01-01-02.mp4")  # song: skipped
    _touch(a / "01-01-04-01-01-01-02.mp4")
    _touch(a / "01-01-04-01-01-01-03.mp4")  # actor field does not match the folder
    _touch(a / "notes-01.mp4")
    _touch(tmp_path / "landmarks" / "01-01-03-01-01-01-02.csv")  # flat
    _touch(a / "01-01-04-01-01-01-02.csv")  # per actor
    scan = scan_dataset(tmp_path)
    assert scan.dataset == "ravdess"
    assert [r.clip_id for r in scan.records] == ["01-01-03-01-01-01-02", "01-01-04-01-01-01-02"]
    r = scan.records[0]
    assert (r.label, r.emotion, r.gender, r.actor, r.intensity) == (2, "happy", "female", 2, 1)
    assert r.landmarks == tmp_path / "landmarks" / "01-01-03-01-01-01-02.csv"
    assert scan.records[1].landmarks == a / "01-01-04-01-01-01-02.csv"
    assert sorted(e.path.name for e in scan.errors) == ["01-01-04-01-01-01-03.mp4", "notes-01.mp4"]
    assert all(e.code == "bad_name" for e in scan.errors)
    assert ClipRecord.from_dict(r.to_dict()) == r


def test_crema_names_and_labels(crema_dir):
    scan = scan_dataset(crema_dir)
    assert scan.dataset == "crema-d" and not scan.errors
    got = {r.clip_id: (r.label, r.emotion, r.actor, r.gender, r.intensity, r.statement) for r in scan.records}
    # CREMA-D keeps its own 6 classes (in RAVDESS's order of the shared names)
    assert scan.labels == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    assert got == {"1001_DFA_ANG_XX": (3, "angry", 1001, "unknown", None, "DFA"),
                   "1001_DFA_HAP_XX": (1, "happy", 1001, "unknown", None, "DFA"),
                   "1001_DFA_NEU_XX": (0, "neutral", 1001, "unknown", None, "DFA")}
    for code, label in {"NEU": 0, "HAP": 1, "SAD": 2, "ANG": 3, "FEA": 4, "DIS": 5}.items():
        assert cremad.EMOTION_LABELS[code][0] == label
    with pytest.raises(InputError, match="unknown CREMA-D emotion"):
        cremad.parse_name("1001_DFA_XYZ_XX.flv")
    assert cremad.parse_name("1002_IEO_SAD_HI.flv")["intensity"] == 3


def test_crema_gender_from_demographics(crema_dir, tmp_path):
    for p in crema_dir.glob("*.flv"):
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "1001_bad.flv").write_bytes(b"")
    (tmp_path / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n")
    scan = scan_dataset(tmp_path)
    assert {r.gender for r in scan.records} == {"male"}
    assert [e.code for e in scan.errors] == ["bad_name"]


def test_unknown_layout(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError):
        scan_dataset(tmp_path)
