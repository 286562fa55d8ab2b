"""Shipped voice weights (inference/pretrained.py): the registry, the checksum written in the code
checked against the file and its JSON, the model card, `Recognizer.pretrained()` and `avemotion
weights`. A tiny VoiceCNN in a temporary folder stands in for the package's weights; the real
entries (once they ship) are checked as they are installed."""

from __future__ import annotations

import json
import shutil

import pytest

from avemotion.errors import ConfigError
from avemotion.inference import Recognizer, VoiceRecognizer, pretrained
from avemotion.inference.results import Prediction

from pretrained_helpers import CARD, LABELS, NAME, flip_byte, register, run_cli

EMODB = "03a01Wa.flac"




@pytest.fixture
def damaged(monkeypatch, weights_dir, tmp_path):
    """A copy of the weights with one byte of a tensor changed: it would still load."""
    folder, sha = weights_dir
    copy = tmp_path / "weights"
    shutil.copytree(folder, copy)
    flip_byte(copy / f"{NAME}.safetensors")
    return register(monkeypatch, copy, sha)


@pytest.fixture(scope="module")
def emodb_dir(ravdess_speech_dir):
    return ravdess_speech_dir.parent / "emodb"


# --- the entries that really ship ----------------------------------------------------------------


def test_the_package_folder_is_found_through_importlib_resources():
    import avemotion

    assert pretrained.weights_folder() == pretrained.Path(avemotion.__file__).parent / "weights"


@pytest.mark.parametrize("name", pretrained.list_weights())
def test_each_shipped_entry_verifies_has_a_card_and_predicts(name, emodb_dir):
    entry = pretrained.get_weights(name)
    meta = entry.verify()
    assert meta["sha256"] == entry.sha256 and len(entry.sha256) == 64
    assert entry.licence in entry.card() and entry.summary and "\n" not in entry.summary
    rec = entry.load()
    assert rec.predict(emodb_dir / EMODB).emotion in rec.labels


def test_the_default_is_a_shipped_entry_or_none_ships():
    assert (pretrained.DEFAULT_VOICE is None) == (not pretrained.WEIGHTS)
    assert pretrained.DEFAULT_VOICE is None or pretrained.DEFAULT_VOICE in pretrained.WEIGHTS


def test_every_file_in_the_package_folder_belongs_to_an_entry():
    folder = pretrained.weights_folder()
    files = sorted(p.name for p in folder.iterdir() if p.suffix in (".safetensors", ".json", ".md")) if folder.is_dir() else []
    expected = sorted(f"{w.stem}{ext}" for w in pretrained.WEIGHTS.values() for ext in (".safetensors", ".json", ".md"))
    assert files == expected


def test_pyproject_ships_the_weights_folder_as_package_data():
    import tomllib

    root = pretrained.Path(__file__).parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["avemotion"]
    assert {"weights/*.safetensors", "weights/*.json", "weights/*.md"} <= set(data)


# --- the registry --------------------------------------------------------------------------------


def test_unknown_name_is_one_line_naming_the_known_ones(shipped):
    with pytest.raises(ConfigError) as err:
        pretrained.get_weights("voice-v9")
    assert str(err.value) == f"unknown weights 'voice-v9'; known: {NAME}"


def test_no_weights_is_one_line(monkeypatch):
    monkeypatch.setattr(pretrained, "WEIGHTS", {})
    monkeypatch.setattr(pretrained, "DEFAULT_VOICE", None)
    with pytest.raises(ConfigError, match="no voice weights ship") as err:
        Recognizer.pretrained()
    assert "\n" not in str(err.value)
    assert pretrained.list_weights() == []


def test_weights_are_a_frozen_named_entry(shipped):
    assert pretrained.list_weights() == [NAME] and pretrained.get_weights() is shipped
    with pytest.raises(AttributeError):
        shipped.sha256 = "0" * 64
    assert shipped.path.name == f"{NAME}.safetensors" and shipped.card() == CARD


# --- checksums -----------------------------------------------------------------------------------


def test_a_flipped_byte_is_refused_naming_the_file(damaged):
    with pytest.raises(ConfigError) as err:
        damaged.load()
    message = str(err.value)
    assert message.startswith(f"{damaged.path}: checksum mismatch") and "\n" not in message


def test_a_wrong_checksum_in_the_code_is_refused(monkeypatch, weights_dir):
    folder, _ = weights_dir
    entry = register(monkeypatch, folder, "0" * 64)
    with pytest.raises(ConfigError, match=f"^{entry.path}: checksum mismatch"):
        Recognizer.pretrained()


def test_metadata_recording_other_weights_is_refused(monkeypatch, weights_dir, tmp_path):
    """The safetensors file is the shipped one but its JSON was written for other weights."""
    folder, sha = weights_dir
    shutil.copytree(folder, tmp_path / "w")
    meta_path = tmp_path / "w" / f"{NAME}.json"
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = "f" * 64
    meta_path.write_text(json.dumps(meta))
    entry = register(monkeypatch, tmp_path / "w", sha)
    with pytest.raises(ConfigError, match=f"^{meta_path}: records SHA-256 ffff"):
        entry.verify()


def test_a_missing_file_is_one_line(monkeypatch, weights_dir, tmp_path):
    folder, sha = weights_dir
    shutil.copytree(folder, tmp_path / "w")
    (tmp_path / "w" / f"{NAME}.safetensors").unlink()
    (tmp_path / "w" / f"{NAME}.md").unlink()
    entry = register(monkeypatch, tmp_path / "w", sha)
    with pytest.raises(ConfigError, match=f"^{entry.path}: missing"):
        entry.load()
    with pytest.raises(ConfigError, match=f"^{entry.card_path}: missing"):
        entry.card()


# --- loading and predicting ----------------------------------------------------------------------


def test_pretrained_predicts_and_its_notes_name_the_model_and_licence(shipped, emodb_dir):
    rec = Recognizer.pretrained()
    assert isinstance(rec, VoiceRecognizer) and rec.labels == LABELS and rec.name == NAME
    result = rec.predict(emodb_dir / EMODB)
    assert isinstance(result, Prediction) and result.modalities == ("audio",)
    assert abs(sum(result.probabilities.values()) - 1) < 1e-6
    assert result.notes[0] == f"voice model {NAME} (CC BY-NC-SA 4.0, non-commercial)"
    assert pretrained.headline(rec) == f"voice model {NAME} (RAVDESS + EmoDB; CC BY-NC-SA 4.0, non-commercial)"
    described = rec.describe()
    assert described["model"] == NAME and described["licence"] == "CC BY-NC-SA 4.0"
    assert Recognizer.pretrained(NAME).predict(emodb_dir / EMODB).probabilities == result.probabilities


@pytest.mark.parametrize("meta, expected", [
    ({}, "CC BY-NC-SA 4.0, non-commercial"),
    ({"non_commercial": False}, "CC BY-NC-SA 4.0"),
    ({"licence_short": "research only"}, "research only"),
])
def test_licence_short_says_non_commercial_when_the_metadata_does(meta, expected):
    assert pretrained.licence_short("CC BY-NC-SA 4.0", meta) == expected
    assert pretrained.licence_short("MIT", {}) == "MIT"


# --- `avemotion weights` -------------------------------------------------------------------------


def test_weights_command_lists_what_ships(monkeypatch, capsys, shipped):
    code, out, err = run_cli(monkeypatch, capsys, "weights")
    assert (code, err) == (0, "")
    assert NAME in out and "voice_cnn" in out and "(default)" in out and "non-commercial" in out and "yes" in out
    code, out, _ = run_cli(monkeypatch, capsys, "weights", "--json")
    row, = json.loads(out)["weights"]
    assert row["name"] == NAME and row["model"] == "voice_cnn" and row["classes"] == list(LABELS)
    assert row["params"] == sum(p.numel() for p in Recognizer.pretrained().model.parameters())
    assert row["verified"] and row["default"] and row["sha256"] == shipped.sha256


def test_weights_card(monkeypatch, capsys, shipped):
    assert run_cli(monkeypatch, capsys, "weights", NAME, "--card") == (0, CARD, "")
    assert run_cli(monkeypatch, capsys, "weights", "--card") == (0, CARD, "")  # the default's


def test_weights_command_flags_a_damaged_file_with_exit_1(monkeypatch, capsys, damaged):
    code, out, err = run_cli(monkeypatch, capsys, "weights")
    assert code == 1 and "NO" in out
    assert err.splitlines() == [f"error: {damaged.path}: checksum mismatch" + err.split("checksum mismatch", 1)[1].rstrip("\n")]
    assert len(err.splitlines()) == 1


def test_weights_command_unknown_name_and_nothing_shipped(monkeypatch, capsys, shipped):
    code, out, err = run_cli(monkeypatch, capsys, "weights", "nope")
    assert (code, out) == (2, "") and err == f"error: unknown weights 'nope'; known: {NAME}\n"
    monkeypatch.setattr(pretrained, "WEIGHTS", {})
    monkeypatch.setattr(pretrained, "DEFAULT_VOICE", None)
    code, out, err = run_cli(monkeypatch, capsys, "weights")
    assert (code, err) == (0, "") and out.startswith("no voice weights ship")


def test_the_installed_command_lists_the_package_registry():
    """Through a fresh interpreter: `avemotion --help` names the command; it reads the real registry."""
    import subprocess
    import sys

    run = lambda *args: subprocess.run([sys.executable, "-m", "avemotion.cli.main", *args], capture_output=True,
                                       text=True, timeout=300)
    assert "weights" in run("--help").stdout
    result = run("weights", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["default"] == pretrained.DEFAULT_VOICE and [w["name"] for w in doc["weights"]] == pretrained.list_weights()


def test_predict_without_a_run_answers_with_the_shipped_default_on_real_files(ravdess_speech_dir, emodb_dir, tmp_path):
    """The real package registry, no stand-in: `predict` with no --run gives exactly the shipped
    model's answer, names it, and its card states its corpora, figures, recipe and licence."""
    import json
    import subprocess
    import sys

    files = [ravdess_speech_dir / "Actor_01" / "03-01-05-02-01-01-01.flac", emodb_dir / EMODB]
    out = tmp_path / "p.json"
    env = {k: v for k, v in __import__("os").environ.items() if k != "AVEMOTION_RUN"}
    result = subprocess.run([sys.executable, "-m", "avemotion.cli.main", "predict", *map(str, files), "--format", "json",
                             "-o", str(out), "--no-progress"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert f"voice model {pretrained.DEFAULT_VOICE}" in result.stderr
    rows = json.loads(out.read_text())["results"]
    rec = pretrained.get_weights().load()
    for row, path in zip(rows, files):
        expected = rec.predict(path)
        assert row["emotion"] == expected.emotion
        assert row["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
        assert any(pretrained.DEFAULT_VOICE in note for note in row["notes"])
    card = pretrained.get_weights().card()
    for words in ("RAVDESS", "EmoDB", "UAR", "recipes/voices_anywhere/run.sh", "CC BY-NC-SA 4.0", "non-commercial"):
        assert words in card, words
