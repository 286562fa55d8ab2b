"""EmoDB and nEMO adapters on the real corpora (../shared/data), and the manifest's synonym map:
label spaces meet RAVDESS's by name."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from avemotion import EMOTIONS
from avemotion.data.datasets import detect_dataset, scan_dataset
from avemotion.data.datasets.emodb import parse_name
from avemotion.data.folds import make_folds
from avemotion.data.labels import shared_name
from avemotion.data.prepare import prepare
from avemotion.errors import InputError

DATA = Path(__file__).parents[2].parent / "shared/data"


@pytest.fixture(scope="module")
def emodb():
    return scan_dataset(DATA / "emodb")


@pytest.fixture(scope="module")
def nemo():
    return scan_dataset(DATA / "nemo")


def test_emodb_is_detected_and_scanned_whole(emodb):
    assert detect_dataset(DATA / "emodb") == "emodb" and not emodb.errors
    assert len(emodb.records) == 535 and emodb.modalities == ("audio",)
    assert emodb.labels == ("neutral", "happy", "sad", "angry", "fearful", "disgust", "boredom")
    assert Counter(r.emotion for r in emodb.records) == {"angry": 127, "boredom": 81, "neutral": 79, "happy": 71,
                                                          "fearful": 69, "sad": 62, "disgust": 46}
    assert sorted(emodb.speakers.values()) == ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    assert emodb.extent.clips == 535 and len(emodb.extent.actors) == 10
    first = next(r for r in emodb.records if r.clip_id == "03a01Wa")
    assert (first.emotion, first.speaker, first.gender, first.statement, first.repetition) == ("angry", "03", "male", "a01", 1)


def test_emodb_folds_are_five_pairs_of_one_male_one_female_speaker(emodb):
    assert emodb.protocol["n_folds"] == 5 and emodb.protocol["n_val"] == 2
    genders = {r.actor: r.gender for r in emodb.records}
    folds = make_folds(genders, genders=genders, n_folds=5, n_val=2)
    assert [sorted(genders[a] for a in f.test_actors) for f in folds] == [["female", "male"]] * 5
    assert [sorted(genders[a] for a in f.val_actors) for f in folds] == [["female", "male"]] * 5


def test_emodb_names_that_do_not_fit_are_bad_names():
    with pytest.raises(InputError, match="EmoDB names are SSTTTEV"):
        parse_name("03a01Xa.flac")
    with pytest.raises(InputError, match="unknown EmoDB speaker '04'"):
        parse_name("04a01Wa.flac")


def test_nemo_is_detected_and_scanned_whole(nemo):
    assert detect_dataset(DATA / "nemo") == "nemo" and not nemo.errors
    assert len(nemo.records) == 4481 and nemo.modalities == ("audio",)
    assert nemo.labels == ("neutral", "happy", "sad", "angry", "fearful", "surprised")
    assert Counter(r.emotion for r in nemo.records) == {"neutral": 809, "sad": 769, "angry": 749, "happy": 749,
                                                         "fearful": 736, "surprised": 669}
    assert nemo.speakers == {1: "EB0", 2: "IC0", 3: "KD0", 4: "KS0", 5: "MK0", 6: "MP0", 7: "SM0", 8: "TP0", 9: "WR0"}
    assert Counter(r.gender for r in nemo.records) == {"female": 540 + 540 + 539 + 450, "male": 540 + 539 + 539 + 538 + 256}
    assert nemo.protocol == {"n_folds": 9, "n_val": 2, "name": "leave one speaker out"}
    assert nemo.extent.clips == 4481


def test_every_class_name_shared_with_ravdess_is_ravdess_s(emodb, nemo):
    for scan in (emodb, nemo):
        assert [n for n in scan.labels if n not in EMOTIONS] in ([], ["boredom"])


def test_a_few_nemo_opus_files_prepare_with_the_speech_window(nemo, tmp_path):
    folder = tmp_path / "nemo"
    (folder / "audio").mkdir(parents=True)
    picked = nemo.records[::1500]
    lines = ["path,label,speaker,gender,age,text"]
    for r in picked:
        (folder / "audio" / r.path.name).symlink_to(r.path)
        lines.append(f"audio/{r.path.name},anger,{r.speaker},{r.gender},25,x")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    report = prepare(folder, tmp_path / "cache", workers=1)
    assert report.dataset == "nemo" and report.audio_window == "speech"
    assert report.prepared == len(picked) == 3 and not report.failed


@pytest.mark.parametrize("label, name", [("anger", "angry"), ("Happiness", "happy"), ("joy", "happy"),
                                         ("sadness", "sad"), ("fear", "fearful"), ("surprise", "surprised"),
                                         ("disgusted", "disgust"), ("Neutral", "neutral"), ("boredom", "boredom"),
                                         ("frustrated", "frustrated"), ("Other", "Other")])
def test_manifest_labels_are_read_as_the_shared_names(label, name):
    assert shared_name(label) == name
