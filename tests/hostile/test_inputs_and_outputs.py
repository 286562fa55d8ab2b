"""Issue 29, items 2-4, 6-8 and the traceback table: what the audit found, as data. Each case builds
its input, runs the real entry point, and asserts the exit code, one line without a traceback, and
the state on disk (nothing lost, nothing overwritten, nothing half-written)."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest
from cli_run import run_cli
from hostile_helpers import one_line_refusal as one_line
from hostile_helpers import snapshot

from avemotion.utils.io import read_json


def flip_bytes(path, count: int = 4000) -> None:
    """Invert `count` bytes of the tensor data (past the header): the file still parses."""
    import random

    data = bytearray(path.read_bytes())
    for i in random.Random(0).sample(range(len(data) // 2, len(data)), min(count, len(data) // 2)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------- item 2: non-finite audio


def test_predict_reports_a_nan_wav_as_a_bad_file_and_keeps_the_others(nan_wav, emodb_dir, tmp_path,
                                                                       monkeypatch, capsys):
    clip = sorted(emodb_dir.glob("*.flac"))[0]  # the shipped voice model (no --run) hears both
    out = tmp_path / "out.json"
    code, said = run_cli(monkeypatch, capsys, "predict", nan_wav, clip, "--format", "json", "-o", out)
    assert code == 3, said  # some files failed; the others' results are written
    assert "Traceback" not in said
    results = {r["file"]: r for r in json.loads(out.read_text())["results"]}
    bad = results[str(nan_wav)]
    assert bad["error"]["reason"] == "corrupt" and "NaN or infinite" in bad["error"]["detail"], bad
    assert results[str(clip)]["emotion"] in results[str(clip)]["probabilities"]


def test_prepare_refuses_a_nan_wav_alone_and_prepares_the_rest(nan_wav, emodb_dir, tmp_path, monkeypatch, capsys):
    good = sorted(emodb_dir.glob("*.flac"))[:2]
    manifest = tmp_path / "corpus.csv"
    manifest.write_text("path,label,speaker\n" + f"{nan_wav},angry,a\n" + "".join(f"{p},happy,b\n" for p in good))
    cache = tmp_path / "cache"
    code, said = run_cli(monkeypatch, capsys, "prepare", "--manifest", manifest, "--out", cache)
    assert code == 3, said  # finished, some files failed
    assert "Traceback" not in said and "bug" not in said.lower(), said
    from avemotion.data.cache import open_cache

    prepared = open_cache(cache)
    assert sorted(prepared.clip_ids()) == sorted(p.stem for p in good)
    failed = read_json(prepared.path / "report.json")["failed"]
    assert [(f["file"], f["reason"]) for f in failed] == [(str(nan_wav), "corrupt")]


def test_a_cached_feature_holding_nan_is_refused_naming_its_file(prepared_cache, tmp_path):
    import numpy as np

    from avemotion.data.cache import open_cache
    from avemotion.errors import ConfigError

    copy = tmp_path / "cache"
    shutil.copytree(prepared_cache.path, copy)
    cache = open_cache(copy)
    clip = cache.clip_ids()[0]
    path = cache._file(clip, "mfcc.npy")
    mfcc = np.load(path)
    mfcc[0, 0] = np.nan
    np.save(path, mfcc)
    with pytest.raises(ConfigError, match=re.escape(str(path)) + ".*NaN or infinite"):
        cache.load(clip)


def test_a_model_answering_nan_is_refused_not_reported_as_a_class(tiny_run, crema_dir, monkeypatch, capsys):
    import torch

    from avemotion.models.cfn_sr import CFNSR

    forward = CFNSR.forward
    monkeypatch.setattr(CFNSR, "forward", lambda self, *a, **k: forward(self, *a, **k) * torch.nan)
    clip = sorted(crema_dir.glob("*.flv"))[0]
    code, said = run_cli(monkeypatch, capsys, "predict", clip, "--run", tiny_run, "--pad-short")
    assert code == 2, said
    assert "NaN or infinite" in one_line(said) and str(tiny_run) in said


# -------------------------------------------------------------- item 3: damaged weights files


@pytest.mark.parametrize("damage", ["flipped", "truncated", "text"])
@pytest.mark.parametrize("command", ["predict", "export"])
def test_a_damaged_checkpoint_is_refused_in_one_line_naming_it(damage, command, tiny_run, crema_dir, tmp_path,
                                                                 monkeypatch, capsys):
    for k in (0, 1):  # whichever fold the command picks
        weights = tiny_run / f"fold_{k}" / "cfn_sr" / "best.safetensors"
        if damage == "flipped":
            flip_bytes(weights)
        elif damage == "truncated":
            weights.write_bytes(weights.read_bytes()[:100])
        else:
            weights.write_text("hello\n")
    before = snapshot(tiny_run)
    clip = sorted(crema_dir.glob("*.flv"))[0]
    args = (("predict", clip, "--run", tiny_run, "--pad-short") if command == "predict"
            else ("export", tiny_run, "--out", tmp_path / "m.onnx"))
    code, said = run_cli(monkeypatch, capsys, *args)
    assert code == 2, said
    line = one_line(said)
    assert "best.safetensors" in line and "checksum mismatch" in line, line
    assert snapshot(tiny_run) == before and not (tmp_path / "m.onnx").exists()


def test_a_checkpoint_without_a_recorded_digest_is_refused(tiny_run, crema_dir, monkeypatch, capsys):
    for k in (0, 1):
        meta_path = tiny_run / f"fold_{k}" / "cfn_sr" / "best.json"
        meta = read_json(meta_path)
        del meta["sha256"]
        meta_path.write_text(json.dumps(meta))
    code, said = run_cli(monkeypatch, capsys, "predict", sorted(crema_dir.glob("*.flv"))[0], "--run", tiny_run, "--pad-short")
    assert code == 2 and "records no SHA-256" in one_line(said), said


def test_a_damaged_onnx_export_is_refused_by_predict(tiny_run, crema_dir, tmp_path, monkeypatch, capsys):
    onnx = tmp_path / "m.onnx"
    code, said = run_cli(monkeypatch, capsys, "export", tiny_run, "--out", onnx)
    assert code == 0, said
    assert read_json(str(onnx) + ".json")["sha256"]
    flip_bytes(onnx, 200)
    code, said = run_cli(monkeypatch, capsys, "predict", sorted(crema_dir.glob("*.flv"))[0], "--run", tiny_run,
                         "--pad-short", "--onnx", onnx)
    assert code == 2, said
    assert str(onnx) in one_line(said) and "checksum mismatch" in said


# ------------------------------------------------------------------ item 4: long derived names


def test_long_ids_and_huge_spans_are_refused_or_prepared_alone(emodb_dir, tmp_path, monkeypatch, capsys):
    files = sorted(emodb_dir.glob("*.flac"))[:3]
    long_id = "x" * 300
    manifest = tmp_path / "corpus.csv"
    manifest.write_text("path,label,speaker,id,start,end\n"
                        f"{files[0]},angry,a,{long_id},,\n"
                        f"{files[1]},happy,a,,0,1e308\n"
                        f"{files[2]},sad,b,plain,,\n")
    code, said = run_cli(monkeypatch, capsys, "prepare", "--manifest", manifest, "--out", tmp_path / "cache")
    assert code in (0, 3), said
    assert "Traceback" not in said and "too long" not in said.lower(), said
    from avemotion.data.cache import open_cache

    cache = open_cache(tmp_path / "cache")
    assert {long_id, "plain"} <= set(cache.clip_ids())  # the long id is kept as the clip's id
    assert all(len(p.name) < 100 for p in cache.clips.iterdir())  # ... but not as a file name
    frames, mfcc = cache.load(long_id)
    assert mfcc.size > 0


# ---------------------------------------------------------------------- item 6: one training per run


TRAIN = ("train", "--model", "audio", "--preset", "small", "--folds", "0", "--n-folds", "2", "--n-val", "1",
         "--epochs", "1", "--unimodal-epochs", "1")


def test_a_second_training_into_a_running_run_is_refused(prepared_cache, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    run.mkdir()
    lock = run / "train.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))  # a live holder
    code, said = run_cli(monkeypatch, capsys, *TRAIN, "--data", prepared_cache.path, "--out", run)
    assert code == 2, said
    assert "another training into" in one_line(said) and str(os.getpid()) in said
    assert sorted(p.name for p in run.iterdir()) == ["train.lock"]  # nothing else written


def test_a_stale_training_lock_is_taken_over_and_released(prepared_cache, tmp_path, monkeypatch, capsys):
    import avemotion.training.api as api

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    trained = []
    monkeypatch.setattr(api, "train_model", lambda ctx, name, folds: trained.append(name))
    code, said = run_cli(monkeypatch, capsys, *TRAIN, "--data", prepared_cache.path, "--out", run)
    assert trained == ["audio"], said
    assert not (run / "train.lock").exists()


# -------------------------------------------------- item 7: evaluate binds to content, not names


def _renamed_copy(cache_path, out, dataset: str):
    """The same clips (same arrays) under other ids and another dataset name."""
    shutil.copytree(cache_path, out)
    from avemotion.data.cache import open_cache

    cache = open_cache(out)
    for clip in cache.clip_ids():
        rec = read_json(cache._file(clip, "json"))
        new = f"other-{clip}"
        for kind in ("json", "mfcc.npy", "video.npy"):
            if cache._file(clip, kind).exists():
                cache._file(clip, kind).rename(cache._file(new, kind))
        rec.update(clip_id=new, dataset=dataset)
        cache._file(new, "json").write_text(json.dumps(rec))
    (cache.path / "index.jsonl").unlink(missing_ok=True)
    return cache.path


def test_evaluate_corpus_detects_the_runs_own_clips_by_content_whatever_their_name(speech_run, tmp_path,
                                                                                  monkeypatch, capsys):
    _, run = speech_run
    copy = _renamed_copy(read_json(run / "run.json")["cache"], tmp_path / "copy", "manifest")
    before = snapshot(run)
    code, said = run_cli(monkeypatch, capsys, "evaluate", run, "--corpus", copy)
    assert code == 2, said
    assert "every clip is one of the run's own" in one_line(said)
    assert snapshot(run) == before


def test_evaluate_data_refuses_a_cache_the_run_was_not_trained_on(speech_run, tmp_path, monkeypatch, capsys):
    import numpy as np

    from avemotion.data.cache import open_cache

    _, run = speech_run
    copy = tmp_path / "other"
    shutil.copytree(read_json(run / "run.json")["cache"], copy)
    cache = open_cache(copy)
    clip = cache.clip_ids()[0]  # same ids, one clip's content replaced
    rec = read_json(cache._file(clip, "json"))
    rec["prep"]["mfcc_sha1"] = "0" * 40
    cache._file(clip, "json").write_text(json.dumps(rec))
    np.save(cache._file(clip, "mfcc.npy"), np.zeros_like(np.load(cache._file(clip, "mfcc.npy"))))
    (cache.path / "index.jsonl").unlink(missing_ok=True)
    before = snapshot(run)
    code, said = run_cli(monkeypatch, capsys, "evaluate", run, "--data", cache.path)
    assert code == 2, said
    assert "not the cache this run was trained on" in one_line(said)
    assert snapshot(run) == before


# -------------------------------------------------------------- item 8: never over an input


@pytest.mark.parametrize("target", ["fold_1/cfn_sr/best.safetensors", "fold_0/cfn_sr/best.json", "run.json"])
def test_export_never_writes_over_the_run_it_reads(target, tiny_run, monkeypatch, capsys):
    before = snapshot(tiny_run)
    code, said = run_cli(monkeypatch, capsys, "export", tiny_run, "--out", tiny_run / target, "--overwrite")
    assert code == 2, said
    assert "is an input of this command" in one_line(said)
    assert snapshot(tiny_run) == before


# ---------------------------------------------------------- tracebacks that are one line now


def _nested(path):
    path.write_text("[" * 100000 + "]" * 100000)


CASES = {
    # name: (set-up of the run folder or None, arguments after the set-up, what the line says)
    "run.json is a list": (lambda run: (run / "run.json").write_text("[1, 2]"), ("predict", "{clip}", "--run", "{run}"),
                           "holds a JSON list"),
    "run.json nested deeply": (lambda run: _nested(run / "run.json"), ("predict", "{clip}", "--run", "{run}"),
                               "nested too deeply"),
    "--hop nan": (None, ("predict", "{clip}", "--run", "{run}", "--hop", "nan"), "finite positive seconds"),
    "--window 1e9": (None, ("predict", "{clip}", "--run", "{run}", "--window", "1e9"), "longer than"),
    "export --out DIR": (None, ("export", "{run}", "--out", "{tmp}"), "not a regular file"),
    "--folds a,,1": (None, ("train", "--model", "audio", "--preset", "small", "--data", "{cache}", "--out", "{tmp}/r", "--folds", "a,,1"),
                     "--folds must be"),
    "--lr nan": (None, ("train", "--model", "audio", "--preset", "small", "--data", "{cache}", "--out", "{tmp}/r", "--lr", "nan"),
                 "lr must be a finite number > 0"),
    "--lr -1": (None, ("train", "--model", "audio", "--preset", "small", "--data", "{cache}", "--out", "{tmp}/r", "--lr", "-1"),
                "lr must be a finite number > 0"),
    "--set scale=huge": (None, ("train", "--model", "cfn_sr", "--preset", "small", "--data", "{cache}", "--out", "{tmp}/r", "--set", "scale=huge"),
                         "scale must be one of full, tiny; got 'huge'"),
    "prepare --out FILE": (None, ("prepare", "{corpus}", "--out", "{clip}", "--frames", "4", "--size", "32"),
                           "not a folder"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_expected_failures_are_one_line_and_exit_2(case, tiny_run, prepared_cache, synth_corpus, crema_dir, tmp_path,
                                                    monkeypatch, capsys):
    setup, args, expected = CASES[case]
    if setup:
        setup(tiny_run)
    clip = tmp_path / "clip.flv"
    shutil.copy(sorted(crema_dir.glob("*.flv"))[0], clip)
    values = {"clip": clip, "run": tiny_run, "tmp": tmp_path, "cache": prepared_cache.path, "corpus": synth_corpus}
    before = snapshot(tiny_run)
    code, said = run_cli(monkeypatch, capsys, *(a.format(**values) for a in args))
    assert code == 2, said
    assert expected in one_line(said), said
    assert snapshot(tiny_run) == before and not (tmp_path / "r" / "run.json").exists()


def test_os_errors_become_one_line_naming_the_file():
    from avemotion.cli.failures import one_line as line_for

    full = line_for(OSError(errno.ENOSPC, "No space left on device", "runs/x/fold_0/audio/last.ckpt"))
    assert full[1] == 2 and "runs/x/fold_0/audio/last.ckpt: no space left" in full[0] and "run the same command again" in full[0]
    assert line_for(MemoryError())[1] == 2
    assert line_for(PermissionError(errno.EACCES, "Permission denied", "/x"))[0] == "error: /x: permission denied"


def test_a_bug_is_one_line_and_its_traceback_only_with_debug(tiny_run, crema_dir, monkeypatch, capsys):
    import avemotion.inference.recognizer as recognizer

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(recognizer.Recognizer, "predict_many", broken)
    clip = sorted(crema_dir.glob("*.flv"))[0]
    code, said = run_cli(monkeypatch, capsys, "predict", clip, "--run", tiny_run, "--pad-short")
    assert code == 1 and len(said.strip().splitlines()) == 1, said
    assert said.startswith("internal error: ValueError: a bug") and "--debug" in said
    code, said = run_cli(monkeypatch, capsys, "predict", clip, "--run", tiny_run, "--pad-short", "--debug")
    assert code == 1 and "Traceback" in said and "ValueError: a bug" in said


def test_ctrl_c_in_predict_says_nothing_was_written(tiny_run, crema_dir, tmp_path, monkeypatch, capsys):
    import avemotion.inference.recognizer as recognizer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(recognizer.Recognizer, "predict_many", interrupted)
    out = tmp_path / "out.json"
    code, said = run_cli(monkeypatch, capsys, "predict", sorted(crema_dir.glob("*.flv"))[0], "--run", tiny_run,
                         "--pad-short", "-o", out)
    assert code == 130
    assert one_line(said).startswith("interrupted: no output was written") and not out.exists()


def test_ctrl_c_in_train_says_what_is_kept_and_how_to_resume(prepared_cache, tmp_path, monkeypatch, capsys):
    import avemotion.training.api as api

    def interrupted(ctx, name, folds):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "train_model", interrupted)
    run = tmp_path / "run"
    code, said = run_cli(monkeypatch, capsys, *TRAIN, "--data", prepared_cache.path, "--out", run)
    assert code == 130
    line = one_line(said.split("\n", 1)[-1] if said.startswith("folds:") else said)
    assert line.startswith("interrupted: finished stages") and "run the same command again" in line
    assert not (run / "train.lock").exists()  # the lock goes with the process


def test_a_diverging_training_says_so_and_at_which_epoch(prepared_cache, tmp_path, monkeypatch, capsys):
    import torch

    from avemotion.training.module import AVLightningModule as TrainModule

    step = TrainModule._step

    def nan_loss(self, batch):
        loss, logits = step(self, batch)
        return loss * torch.nan, logits

    monkeypatch.setattr(TrainModule, "_step", nan_loss)
    run = tmp_path / "run"
    code, said = run_cli(monkeypatch, capsys, *TRAIN, "--data", prepared_cache.path, "--out", run)
    assert code == 2, said
    errors = [line for line in said.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "training diverged" in errors[0] and "epoch 0" in errors[0], said
    assert "Traceback" not in said and not (run / "fold_0" / "audio" / "metrics.json").exists()
