"""`avemotion predict FILE...` without --run: the shipped voice model on any audio or video file's
audio track (here a tiny stand-in registered as the package's weights, pretrained_helpers.py), the
same outputs as with a run, which model spoke, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pytest
import soundfile

from avemotion.inference import pretrained

from pretrained_helpers import LABELS, NAME, flip_byte, register, run_cli

RAVDESS = "Actor_01/03-01-05-02-01-01-01.flac"
EMODB = "03a01Wa.flac"
VIDEO = "1001_DFA_ANG_XX.flv"
SPOKE = f"voice model {NAME} (RAVDESS + EmoDB; CC BY-NC-SA 4.0, non-commercial)"
NOTE = f"voice model {NAME} (CC BY-NC-SA 4.0, non-commercial)"




@pytest.fixture(scope="module")
def emodb_dir(ravdess_speech_dir):
    return ravdess_speech_dir.parent / "emodb"


def predict(monkeypatch, capsys, *args):
    return run_cli(monkeypatch, capsys, "predict", *args)


def by_duration(folder, low: float, high: float):
    """The first EmoDB utterance (in name order) lasting between low and high seconds."""
    for path in sorted(folder.glob("*.flac")):
        if low <= soundfile.info(str(path)).duration <= high:
            return path
    raise AssertionError(f"no utterance of {low}-{high} s in {folder}")


def test_real_ravdess_and_emodb_files_one_row_each_and_the_model_named(monkeypatch, capsys, shipped, ravdess_speech_dir, emodb_dir):
    files = [ravdess_speech_dir / RAVDESS, emodb_dir / EMODB]
    code, out, err = predict(monkeypatch, capsys, *files, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["failed"] == 0 and doc["model"] == NAME and doc["kind"] == "voice" and doc["labels"] == list(LABELS)
    assert doc["licence"] == "CC BY-NC-SA 4.0" and doc["voice_hash"]
    assert [r["file"] for r in doc["results"]] == [str(f) for f in files]
    for r in doc["results"]:
        assert r["kind"] == "clip" and r["modalities"] == ["audio"] and r["emotion"] in LABELS
        assert r["notes"][0] == NOTE
    lines = err.splitlines()
    assert lines[0] == SPOKE  # which model spoke, before anything else
    assert f"{files[0]}: {NOTE}" in lines and f"{files[1]}: {NOTE}" in lines


def test_table_says_which_model_spoke_before_the_table(monkeypatch, capsys, shipped, emodb_dir):
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB)
    assert code == 0
    assert out.splitlines()[0] == SPOKE and "Emotion predictions" in out and EMODB in out
    assert err.splitlines()[0] == f"{emodb_dir / EMODB}: {NOTE}"


def test_csv_output(monkeypatch, capsys, shipped, emodb_dir, tmp_path):
    out_csv = tmp_path / "p.csv"
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB, "--format", "csv", "-o", out_csv)
    assert (code, out) == (0, "") and err.splitlines()[0] == SPOKE
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert len(rows) == 1 and rows[0]["kind"] == "clip" and rows[0]["modalities"] == "audio"
    assert abs(sum(float(rows[0][c]) for c in LABELS) - 1) < 1e-5


def test_short_and_long_emodb_utterances(monkeypatch, capsys, shipped, emodb_dir):
    short, long = by_duration(emodb_dir, 1.1, 1.3), by_duration(emodb_dir, 8.5, 9.5)
    code, out, err = predict(monkeypatch, capsys, short, long, "--format", "json")
    assert code == 0, err
    first, second = json.loads(out)["results"]
    assert first["kind"] == second["kind"] == "clip"
    assert any(n.startswith("short: ") for n in first["notes"])  # said, not refused
    assert "1 window of 3 s pooled" in first["notes"][1]
    assert second["end"] - second["start"] > 8 and "5 windows of 3 s pooled" in second["notes"][1]


def test_a_video_predicts_from_its_audio_track(monkeypatch, capsys, shipped, crema_dir):
    code, out, err = predict(monkeypatch, capsys, crema_dir / VIDEO, "--format", "json")
    assert code == 0, err
    result, = json.loads(out)["results"]
    assert result["modalities"] == ["audio"] and result["emotion"] in LABELS and result["notes"][0] == NOTE


def test_a_corrupt_file_is_one_line_and_the_others_go_on(monkeypatch, capsys, shipped, emodb_dir, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + bytes(range(256)) * 20)
    cut = tmp_path / "cut.flac"
    data = (emodb_dir / EMODB).read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    code, out, err = predict(monkeypatch, capsys, bad, emodb_dir / EMODB, cut, "--format", "json")
    assert code == 3
    results = json.loads(out)["results"]
    assert [r["kind"] for r in results] == ["error", "clip", "error"]
    assert results[0]["error"]["reason"] == results[2]["error"]["reason"] == "corrupt"
    for path in (bad, cut):
        lines = [line for line in err.splitlines() if line.startswith(str(path))]
        assert len(lines) == 1 and "--allow-missing" not in lines[0]


def test_nan_audio_is_an_error_for_that_file_only(monkeypatch, capsys, shipped, emodb_dir, tmp_path):
    wave = (0.1 * np.sin(np.arange(32000) / 10)).astype(np.float32)
    wave[5000:5100] = np.nan
    nan = tmp_path / "nan.wav"
    soundfile.write(str(nan), wave, 16000, subtype="FLOAT")
    code, out, err = predict(monkeypatch, capsys, nan, emodb_dir / EMODB, "--format", "json")
    assert code == 3
    error, clip = json.loads(out)["results"]
    assert error["error"] == {"reason": "corrupt", "detail": "100 audio samples are NaN or infinite"}
    assert clip["kind"] == "clip"
    assert f"{nan}: 100 audio samples are NaN or infinite" in err.splitlines()


def test_weights_option_picks_a_shipped_model(monkeypatch, capsys, shipped, weights_dir, emodb_dir):
    folder, sha = weights_dir
    other = pretrained.Weights(name="voice-other", stem=NAME, sha256=sha, summary="the same file, another name",
                               licence="CC BY-NC-SA 4.0")
    monkeypatch.setitem(pretrained.WEIGHTS, "voice-other", other)
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB, "--weights", "voice-other", "--format", "json")
    assert code == 0 and json.loads(out)["model"] == "voice-other"
    assert err.splitlines()[0].startswith("voice model voice-other (")
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB, "--weights", "nope")
    assert (code, out) == (2, "") and err == f"error: unknown weights 'nope'; known: voice-other, {NAME}\n"


def test_damaged_weights_are_refused_in_one_line_naming_the_file(monkeypatch, capsys, weights_dir, emodb_dir, tmp_path):
    folder, sha = weights_dir
    shutil.copytree(folder, tmp_path / "w")
    flip_byte(tmp_path / "w" / f"{NAME}.safetensors")
    monkeypatch.delenv("AVEMOTION_RUN", raising=False)
    entry = register(monkeypatch, tmp_path / "w", sha)
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {entry.path}: checksum mismatch")


def test_no_weights_shipped_is_one_line(monkeypatch, capsys, emodb_dir):
    monkeypatch.delenv("AVEMOTION_RUN", raising=False)
    monkeypatch.setattr(pretrained, "WEIGHTS", {})
    monkeypatch.setattr(pretrained, "DEFAULT_VOICE", None)
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("error: no voice weights ship with this version") and "--run" in err


@pytest.mark.parametrize("args, named", [
    (["--fold", "1"], "--fold goes with --run"),
    (["--ensemble", "--landmarks", "x.csv"], "--ensemble, --landmarks go with --run"),
    (["--plot", "p.png"], "--plot goes"),
    (["--annotate", "a.mp4"], "--annotate goes"),
    (["--onnx", "m.onnx"], "--onnx goes"),
    (["--detector", "haar"], "--detector goes"),
    (["--allow-missing"], "--allow-missing goes"),
    (["--no-pad-short"], "--pad-short goes"),
    (["--window", "3"], "--window goes"),
    (["--preprocess", "frame_size=48"], "--preprocess goes"),
])
def test_run_options_without_a_run_are_one_line(monkeypatch, capsys, shipped, emodb_dir, args, named):
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB, *args)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {named}")


def test_weights_with_a_run_is_one_line(monkeypatch, capsys, shipped, random_run, crema_clips):
    code, out, err = predict(monkeypatch, capsys, crema_clips[0], "--run", random_run, "--weights", NAME)
    assert (code, out) == (2, "") and err.startswith("error: --weights picks a shipped voice model") and len(err.splitlines()) == 1


def test_outputs_are_checked_before_predicting(monkeypatch, capsys, shipped, emodb_dir, tmp_path):
    existing = tmp_path / "p.json"
    existing.write_text("{}")
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB, "--format", "json", "-o", existing)
    assert (code, out) == (2, "") and "already exists" in err and existing.read_text() == "{}"
    code, out, err = predict(monkeypatch, capsys, emodb_dir / EMODB, "-o", shipped.path, "--overwrite")
    assert code == 2 and "is an input of this command" in err
