"""`avemotion predict` and the files around it: an unreadable input is one failed file (the others
are predicted), and no output ever replaces an input, an existing file (without --overwrite) or
another output (same-named inputs in different folders get distinct names)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from avemotion.inference.outputs import file_labels, per_file
from inference_helpers import make_run
from inference_helpers import run_predict as predict

INPUT_HINT = "is an input of this command; avemotion never writes over its inputs"


def unpadded(err: str) -> list[str]:
    """stderr's lines less the notes of padded clips (every CREMA-D clip is shorter than the window)."""
    return [line for line in err.splitlines() if "its audio was zero-padded" not in line]


def snapshot(*paths: Path) -> dict:
    """Everything that shows whether a file changed: bytes (when readable), size, mtime, inode."""
    def state(p: Path):
        st = p.lstat()
        data = p.read_bytes() if p.is_file() and os.access(p, os.R_OK) else None
        return data, st.st_size, st.st_mtime_ns, st.st_ino

    return {p: state(p) for p in paths}


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def clips(tmp_path, crema_clips):
    """Copies of the three real CREMA-D clips (angry, happy, neutral) in tmp_path."""
    out = []
    for clip in crema_clips:
        out.append(Path(shutil.copy(clip, tmp_path / clip.name)))
        out[-1].chmod(0o644)
    return out


@pytest.fixture
def fifo(tmp_path):
    """A named pipe called like a video. Should opening it ever block again, a writer turns up after
    20 s (the open returns, the file reads as empty) so the test fails instead of hanging."""
    path = tmp_path / "pipe.mp4"
    os.mkfifo(path)
    writer = threading.Timer(20, lambda: os.close(os.open(path, os.O_WRONLY)))
    writer.daemon = True
    writer.start()
    yield path
    writer.cancel()
    if writer.is_alive():  # the writer is waiting for a reader: give it one
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))


def deny_read(monkeypatch, path: Path) -> None:
    """Make `path` unreadable. Root reads a mode-000 file anyway, so there the permission check
    (os.access, what the kernel answers any other user) is told the truth a normal user would get."""
    path.chmod(0)
    if os.access(path, os.R_OK):  # running as root
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == path and mode & os.R_OK
                            else real(p, mode, **kw))
    assert not os.access(path, os.R_OK)


@pytest.mark.timeout(300)
def test_unreadable_inputs_fail_one_line_each_and_the_others_are_predicted(monkeypatch, capsys, random_run, clips,
                                                                             tmp_path, fifo):
    locked = Path(shutil.copy(clips[2], tmp_path / "locked.flv"))
    deny_read(monkeypatch, locked)
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    before = snapshot(clips[0], clips[1], locked)
    code, out, err = predict(monkeypatch, capsys, clips[0], locked, folder, fifo, clips[1], "--run", random_run,
                             "--pad-short", "--format", "json", "--no-progress")
    assert code == 3
    assert unpadded(err) == [f"{locked}: cannot read file (Permission denied)",
                                f"{folder}: cannot read file (Is a directory)",
                                f"{fifo}: cannot read file (not a regular file: a pipe, socket or device)"]
    doc = json.loads(out)
    assert doc["failed"] == 3
    assert [r["kind"] for r in doc["results"]] == ["clip", "error", "error", "error", "clip"]
    assert [r["file"] for r in doc["results"]] == list(map(str, [clips[0], locked, folder, fifo, clips[1]]))
    assert all(r["error"]["reason"] == "unreadable" for r in doc["results"][1:4])
    assert snapshot(clips[0], clips[1], locked) == before


@pytest.mark.parametrize("spelling", ["same", "relative", "hard link"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_output_equal_to_an_input_is_refused_before_any_work(monkeypatch, capsys, random_run, clips, tmp_path,
                                                             spelling, overwrite):
    (tmp_path / "sub").mkdir()
    target = {"same": clips[0], "relative": tmp_path / "sub" / ".." / clips[0].name,
              "hard link": tmp_path / "sub" / "alias.json"}[spelling]
    if spelling == "hard link":
        os.link(clips[0], target)
    before, listing = snapshot(*clips), files_in(tmp_path)
    code, out, err = predict(monkeypatch, capsys, *clips, "--run", random_run, "--pad-short", "--format", "json",
                             "-o", target, *(["--overwrite"] if overwrite else []))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: --output {target} {INPUT_HINT}"]
    assert snapshot(*clips) == before and files_in(tmp_path) == listing


def test_annotate_or_plot_over_an_input_is_refused(monkeypatch, capsys, random_run, clips, tmp_path):
    before, listing = snapshot(*clips), files_in(tmp_path)
    # one input: the template itself is the output
    code, out, err = predict(monkeypatch, capsys, clips[0], "--run", random_run, "--pad-short", "--overwrite",
                             "--annotate", clips[0])
    assert (code, out, err.splitlines()) == (2, "", [f"error: --annotate {clips[0]} {INPUT_HINT}"])
    # several inputs: x.flv + input "v.flv" names x_v.flv, which is the second input
    v, x_v = (Path(shutil.copy(c, tmp_path / n)) for c, n in ((clips[1], "v.flv"), (clips[2], "x_v.flv")))
    before.update(snapshot(v, x_v))
    listing = files_in(tmp_path)
    code, out, err = predict(monkeypatch, capsys, v, x_v, "--run", random_run, "--pad-short", "--overwrite",
                             "--plot", tmp_path / "x.flv")
    assert (code, out, err.splitlines()) == (2, "", [f"error: --plot {x_v} {INPUT_HINT}"])
    assert snapshot(*clips, v, x_v) == before and files_in(tmp_path) == listing


def test_existing_outputs_are_kept_unless_overwrite(monkeypatch, capsys, random_run, clips, tmp_path):
    report, png = tmp_path / "out" / "p.json", tmp_path / "out" / "p.png"
    report.parent.mkdir()
    report.write_text("my notes\n")
    png.write_bytes(b"not a plot")
    args = [clips[0], "--run", random_run, "--pad-short", "--format", "json", "--no-progress", "-o", report, "--plot", png]
    before, inputs = snapshot(report, png), snapshot(*clips)
    code, out, err = predict(monkeypatch, capsys, *args)
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: {report} and 1 more outputs already exist (--overwrite replaces them)"]
    assert snapshot(report, png) == before
    code, out, err = predict(monkeypatch, capsys, *args, "--overwrite")
    assert (code, out, unpadded(err)) == (0, "", [])
    assert json.loads(report.read_text())["results"][0]["file"] == str(clips[0])
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert files_in(report.parent) == ["p.json", "p.png"]  # replaced atomically: no temp files left
    assert snapshot(*clips) == inputs


def test_one_existing_output_names_it(monkeypatch, capsys, random_run, clips, tmp_path):
    table = tmp_path / "table.txt"
    table.write_text("keep me\n")
    before = snapshot(table)
    code, out, err = predict(monkeypatch, capsys, clips[0], "--run", random_run, "--pad-short", "-o", table)
    assert (code, out, err.splitlines()) == (2, "", [f"error: {table} already exists (--overwrite replaces it)"])
    assert snapshot(table) == before


@pytest.mark.parametrize("kind", ["symlink", "folder", "dev_stdout"])
def test_outputs_that_are_not_regular_files_are_refused_even_with_overwrite(monkeypatch, capsys, random_run, clips,
                                                                            tmp_path, kind):
    # the atomic rename would replace the link itself (as root, /dev/stdout!) or fail on a folder
    kept = tmp_path / "kept.json"
    kept.write_text("{}\n")
    target = {"symlink": tmp_path / "link.json", "folder": tmp_path / "folder.json", "dev_stdout": Path("/dev/stdout")}[kind]
    if kind == "symlink":
        target.symlink_to(kept)
    elif kind == "folder":
        target.mkdir()
    if not os.path.lexists(target):
        pytest.skip(f"{target} does not exist here")
    what = "a symbolic link" if target.is_symlink() else "not a regular file"
    before = snapshot(target, kept)
    code, out, err = predict(monkeypatch, capsys, clips[0], "--run", random_run, "--pad-short", "-o", target, "--overwrite")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: --output {target}: exists and is {what}; only regular files are replaced "
                                f"(omit -o to write to stdout)"]
    assert snapshot(target, kept) == before


def test_two_outputs_on_one_file_are_refused(monkeypatch, capsys, random_run, clips, tmp_path):
    same = tmp_path / "both.png"
    code, out, err = predict(monkeypatch, capsys, clips[0], "--run", random_run, "--pad-short", "-o", same, "--plot", same)
    assert (code, out, err.splitlines()) == (2, "", [f"error: --output {same} and --plot {same} would write the same file"])
    assert not same.exists()


def test_same_named_inputs_in_different_folders_get_distinct_outputs(monkeypatch, capsys, random_run, crema_clips, tmp_path):
    a, b = tmp_path / "a" / "clip.flv", tmp_path / "b" / "clip.flv"
    for path, source in ((a, crema_clips[0]), (b, crema_clips[1])):
        path.parent.mkdir()
        shutil.copy(source, path)
    before = snapshot(a, b)
    out_dir = tmp_path / "out"
    code, out, err = predict(monkeypatch, capsys, a, b, "--run", random_run, "--pad-short", "--format", "json",
                             "--no-progress", "-o", out_dir / "r.json", "--plot", out_dir / "p.png",
                             "--annotate", out_dir / "v.mp4")
    assert (code, out, unpadded(err)) == (0, "", [])
    assert files_in(out_dir) == ["p_a_clip.png", "p_b_clip.png", "r.json", "v_a_clip.mp4", "v_b_clip.mp4"]
    assert [r["file"] for r in json.loads((out_dir / "r.json").read_text())["results"]] == [str(a), str(b)]
    # each video has its own plot and annotated copy (the angry and the happy clip differ)
    assert (out_dir / "p_a_clip.png").read_bytes() != (out_dir / "p_b_clip.png").read_bytes()
    assert (out_dir / "v_a_clip.mp4").read_bytes() != (out_dir / "v_b_clip.mp4").read_bytes()
    assert snapshot(a, b) == before


def test_same_named_voices_with_an_audio_run(monkeypatch, capsys, ravdess_speech_dir, tmp_path):
    # real RAVDESS flacs named alike in two actors' folders; a random audio model is enough to name outputs
    run = make_run(tmp_path / "audio_run", model="audio", folds=(0,))
    voices = [tmp_path / actor / "voice.flac" for actor in ("Actor_01", "Actor_02")]
    for voice in voices:
        voice.parent.mkdir()
        shutil.copy(next((ravdess_speech_dir / voice.parent.name).glob("*.flac")), voice)
    code, out, err = predict(monkeypatch, capsys, *voices, "--run", run, "--format", "csv", "--no-progress",
                             "--plot", tmp_path / "plots" / "p.png")
    assert (code, err) == (0, "")
    assert files_in(tmp_path / "plots") == ["p_Actor_01_voice.png", "p_Actor_02_voice.png"]


def test_file_labels_rule():
    assert file_labels(["a/clip.mp4", "b/talk.mp4"]) == ["clip", "talk"]
    assert file_labels(["a/clip.mp4", "b/clip.mp4", "talk.mov"]) == ["a_clip", "b_clip", "talk"]
    # as many trailing folder names as tell the folders apart
    assert file_labels(["x/day1/clip.mp4", "y/day1/clip.mp4"]) == ["x_day1_clip", "y_day1_clip"]
    # one folder, one stem: the extension; then folders as well
    assert file_labels(["a/clip.mp4", "a/clip.mov", "b/clip.mp4"]) == ["a_clip_mp4", "a_clip_mov", "b_clip"]
    # the same file twice, or spelled two ways: numbered in input order, never taking another input's name
    assert file_labels(["clip.mp4", "./clip.mp4", "clip_2.mp4"]) == ["clip", "clip_3", "clip_2"]
    assert per_file(Path("out/talk.png"), "a_clip") == Path("out/talk_a_clip.png")
