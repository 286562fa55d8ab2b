"""`avemotion predict`: outputs, exit codes, one-line errors."""

import csv
import io
import json

import pytest

from inference_helpers import run_predict as predict


def test_json_with_a_bad_file_exits_3_and_reports_it(monkeypatch, capsys, random_run, crema_clips, media):
    code, out, err = predict(monkeypatch, capsys, crema_clips[0], media["not_video"], "--run", random_run,
                             "--pad-short", "--format", "json", "--no-progress")
    assert code == 3
    doc = json.loads(out)
    assert doc["failed"] == 1 and doc["model"] == "cfn_sr" and doc["folds"] == [1]
    assert doc["preprocess"]["short_clip"] == "pad" and doc["preprocess"]["frame_size"] == 48
    clip, error = doc["results"]
    assert clip["kind"] == "clip" and clip["emotion"] in clip["probabilities"]
    assert error == {"file": str(media["not_video"]), "kind": "error",
                     "error": {"reason": "not_video", "detail": "not a media file (unrecognised content)"}}
    assert err.strip().splitlines() == [f"{crema_clips[0]}: {clip['notes'][0]}",
                                        f"{media['not_video']}: not a media file (unrecognised content)"]
    assert "zero-padded to 2.95 s" in clip["notes"][0]


def test_csv_plot_and_annotated_video(monkeypatch, capsys, random_run, crema_clips, tmp_path):
    out_csv, png, mp4 = tmp_path / "p.csv", tmp_path / "p.png", tmp_path / "a.mp4"
    code, out, err = predict(monkeypatch, capsys, crema_clips[1], "--run", random_run, "--pad-short", "--ensemble",
                             "--format", "csv", "--output", out_csv, "--plot", png, "--annotate", mp4)
    assert (code, out) == (0, "")
    assert err.startswith(f"{crema_clips[1]}: clip is 1.87 s") and len(err.splitlines()) == 1  # the padding note
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert len(rows) == 1 and rows[0]["kind"] == "clip" and rows[0]["file"] == str(crema_clips[1])
    assert png.read_bytes()[:4] == b"\x89PNG" and mp4.stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "p.csv", "p.png"]  # no temp files left


def test_missing_audio_message_and_fallback(monkeypatch, capsys, random_run, media):
    code, out, err = predict(monkeypatch, capsys, media["no_audio"], "--run", random_run, "--format", "json")
    assert code == 3
    assert err.strip() == f"{media['no_audio']}: no audio stream (--allow-missing predicts from the other modality)"
    code, out, err = predict(monkeypatch, capsys, media["no_audio"], "--run", random_run, "--format", "json", "--allow-missing")
    assert code == 0
    assert json.loads(out)["results"][0]["modalities"] == ["video"]
    assert err.strip() == f"{media['no_audio']}: no audio stream; predicted from video only"


def test_table_output(monkeypatch, capsys, random_run, media):
    code, out, _ = predict(monkeypatch, capsys, media["no_face"], "--run", random_run, "--allow-missing")
    assert code == 0
    assert "no_face.mp4" in out and "audio" in out and "Emotion predictions" in out


@pytest.mark.parametrize("args, message", [
    (["--preprocess", "frame_size=64"], "frame_size: 48 -> 64"),
    (["--preprocess", "bogus"], "KEY=VALUE"),
    (["--fold", "7"], "fold 7"),
    (["--window", "2", "--no-pad-short"], "--pad-short (pad_short=True)"),
])
def test_config_errors_exit_2_with_one_line(monkeypatch, capsys, random_run, crema_clips, args, message):
    code, out, err = predict(monkeypatch, capsys, crema_clips[0], "--run", random_run, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err


def test_usage_error_exits_2(monkeypatch, capsys, random_run, crema_clips):
    code, _, _ = predict(monkeypatch, capsys, crema_clips[0], "--run", random_run, "--format", "xml")
    assert code == 2


def test_landmarks_option_maps_videos_to_csvs(tmp_path):
    from avemotion.cli.predict import _extra_paths, _landmark_map
    from avemotion.errors import ConfigError

    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    (tmp_path / "marks").mkdir()
    (tmp_path / "marks" / "a.csv").write_text("x_0\n")
    # a folder: each video takes <stem>.csv when present, the detector otherwise
    assert _landmark_map([a, b], tmp_path / "marks") == {str(a): tmp_path / "marks" / "a.csv"}
    assert _landmark_map([a], tmp_path / "marks" / "a.csv") == {str(a): tmp_path / "marks" / "a.csv"}
    with pytest.raises(ConfigError, match="one video"):
        _landmark_map([a, b], tmp_path / "marks" / "a.csv")
    with pytest.raises(ConfigError, match="no such"):
        _landmark_map([a], tmp_path / "missing.csv")
    assert _extra_paths([a, b], tmp_path / "out.png", None) == [{"--plot": tmp_path / "out_a.png"}, {"--plot": tmp_path / "out_b.png"}]
    assert _extra_paths([b], tmp_path / "out.png", tmp_path / "v.mp4") == [{"--plot": tmp_path / "out.png", "--annotate": tmp_path / "v.mp4"}]


def test_the_run_can_come_from_the_environment(monkeypatch, capsys, random_run, crema_clips):
    # `avemotion predict clip.mp4` alone, once AVEMOTION_RUN names the run to use
    monkeypatch.setenv("AVEMOTION_RUN", str(random_run))
    code, out, err = predict(monkeypatch, capsys, crema_clips[0], "--format", "json", "--no-progress")
    assert code == 0 and "zero-padded" in err
    assert json.loads(out)["results"][0]["file"] == str(crema_clips[0])
    monkeypatch.delenv("AVEMOTION_RUN")
    code, _, err = predict(monkeypatch, capsys, crema_clips[0], "--pad-short")
    assert code == 2 and "--run" in err


def test_short_real_clip_predicts_by_default_with_a_note(monkeypatch, capsys, random_run, crema_clips):
    """A real CREMA-D clip (2.23 s, the run's audio window 2.95 s): predicted without any option, the
    JSON result's notes say it was zero-padded, and so does a line on stderr (beside the table too)."""
    code, out, err = predict(monkeypatch, capsys, crema_clips[0], "--run", random_run, "--format", "json", "--no-progress")
    assert code == 0
    (result,) = json.loads(out)["results"]
    assert result["kind"] == "clip" and result["notes"] == [
        "clip is 2.23 s, shorter than the model's 2.95 s window: its audio was zero-padded to 2.95 s "
        "(--no-pad-short / pad_short=False refuses such clips)"]
    assert err.splitlines() == [f"{crema_clips[0]}: {result['notes'][0]}"]
    code, out, err = predict(monkeypatch, capsys, crema_clips[0], "--run", random_run, "--no-progress")
    assert code == 0 and "Emotion predictions" in out and "zero-padded to 2.95 s" in err


def test_short_real_clip_refused_with_no_pad_short_in_one_line(monkeypatch, capsys, random_run, crema_clips):
    code, out, err = predict(monkeypatch, capsys, crema_clips[0], "--run", random_run, "--no-pad-short",
                             "--format", "json", "--no-progress")
    assert code == 3
    (result,) = json.loads(out)["results"]
    assert result["error"]["reason"] == "too_short"
    assert err.splitlines() == [f"{crema_clips[0]}: clip is 2.23 s, the window needs 2.95 s (use --pad-short / "
                                f"pad_short=True to zero-pad clips of at least 1.00 s)"]
