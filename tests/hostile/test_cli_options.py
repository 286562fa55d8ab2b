"""Issue 29, items 9-13: options are what they say. A `--set` value is parsed against the declared
type of the model's argument; `synth` never writes into a non-empty folder unless asked; options that
size work are bounded before any work starts; `--allow-partial` checks only the requested folds;
loader workers are capped at the cores available. Each refusal is one line, exit 2, nothing written."""

from __future__ import annotations

import os
import shutil

import pytest
from cli_run import run_cli
from hostile_helpers import one_line_refusal, snapshot

from avemotion.data.cache import open_cache
from avemotion.utils.io import read_json


class Stop(Exception):
    """Raised instead of training: what open_run decided is then inspected."""


def stop_before_training(monkeypatch) -> list:
    """Replace the training of each model by a record of (model, its factory arguments, workers)."""
    import avemotion.training.api as api
    from avemotion.training.presets import model_config_for

    seen = []

    def record(ctx, name, folds):
        seen.append((name, model_config_for(ctx.cfg, name), ctx.cfg.num_workers, [f.index for f in folds]))
        raise SystemExit(0)

    monkeypatch.setattr(api, "train_model", record)
    return seen


TRAIN = ("train", "--model", "cfn_sr", "--preset", "small", "--folds", "0", "--n-folds", "2", "--n-val", "1",
         "--epochs", "1", "--unimodal-epochs", "1")


# ----------------------------------------------------------------------------- item 9: typed --set


@pytest.mark.parametrize(("given", "expected"), [("no", False), ("NO", False), ("false", False), ("0", False),
                                                 ("Yes", True), ("true", True), ("1", True)])
def test_set_parses_a_bool_against_the_declared_type(given, expected, prepared_cache, tmp_path, monkeypatch, capsys):
    seen = stop_before_training(monkeypatch)
    run = tmp_path / "run"
    code, said = run_cli(monkeypatch, capsys, *TRAIN, "--data", prepared_cache.path, "--out", run,
                         "--set", f"stem_relu={given}", "--set", "attention_multiplier=2")
    assert code == 0, said
    assert seen and seen[0][1]["stem_relu"] is expected, seen
    assert seen[0][1]["attention_multiplier"] == 2.0 and isinstance(seen[0][1]["attention_multiplier"], float)


@pytest.mark.parametrize(("item", "accepted"), [("stem_relu=maybe", "true/false"), ("stem_relu=", "true/false"),
                                                ("attention_multiplier=big", "number"),
                                                ("attention_multiplier=nan", "number"),
                                                ("audio_dropout=inf", "number")])
def test_set_refuses_a_value_of_the_wrong_type_in_one_line(item, accepted, prepared_cache, tmp_path, monkeypatch, capsys):
    seen = stop_before_training(monkeypatch)
    run = tmp_path / "run"
    code, said = run_cli(monkeypatch, capsys, *TRAIN, "--data", prepared_cache.path, "--out", run, "--set", item)
    assert code == 2, said
    line = one_line_refusal(said)
    key = item.split("=")[0]
    assert key in line and accepted in line, line
    assert not seen and not run.exists()  # refused before anything was written


# --------------------------------------------------------------- item 10: synth into a non-empty OUT


def a_ravdess_copy(root):
    """A folder holding what looks like real RAVDESS recordings (the names synth writes)."""
    actor = root / "Actor_01"
    actor.mkdir(parents=True)
    (actor / "01-01-01-01-01-01-01.mp4").write_bytes(b"a real recording")
    (root / "notes.txt").write_text("mine")
    return snapshot(root)


@pytest.mark.parametrize("extra", [(), ("--iemocap",)])
def test_synth_refuses_a_non_empty_out_and_changes_nothing(extra, tmp_path, monkeypatch, capsys):
    out = tmp_path / "RAVDESS"
    before = a_ravdess_copy(out)
    code, said = run_cli(monkeypatch, capsys, "synth", out, "--actors", "1", "--size", "64x48", *extra)
    assert code == 2, said
    line = one_line_refusal(said)
    assert str(out) in line and "--overwrite" in line, line
    assert snapshot(out) == before


def test_synth_refuses_a_file_as_out(tmp_path, monkeypatch, capsys):
    out = tmp_path / "file.mp4"
    out.write_bytes(b"keep")
    code, said = run_cli(monkeypatch, capsys, "synth", out, "--actors", "1", "--size", "64x48")
    assert code == 2, said
    assert str(out) in one_line_refusal(said)
    assert out.read_bytes() == b"keep"


def test_synth_overwrite_writes_into_a_non_empty_out(tmp_path, monkeypatch, capsys):
    out = tmp_path / "work"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, said = run_cli(monkeypatch, capsys, "synth", out, "--actors", "1", "--size", "64x48", "--statements", "1",
                         "--repetitions", "1", "--overwrite")
    assert code == 0, said
    assert len(list((out / "Actor_01").glob("*.mp4"))) == 15 and (out / "notes.txt").read_text() == "mine"


# ----------------------------------------------------------------- item 11: options that size work


@pytest.mark.parametrize(("args", "option"), [
    (("synth", "{out}", "--size", "8000x6000"), "--size"),
    (("synth", "{out}", "--size", "1922x1080"), "--size"),
    (("synth", "{out}", "--iemocap", "--utterances", "100000"), "--utterances"),
    (("prepare", "{corpus}", "--out", "{out}", "--frames", "100000"), "--frames"),
    (("prepare", "{corpus}", "--out", "{out}", "--size", "30000"), "--size"),
])
def test_options_that_size_work_are_bounded_before_any_work(args, option, tmp_path, monkeypatch, capsys):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    before = a_ravdess_copy(corpus)
    args = [a.format(out=out, corpus=corpus) for a in args]
    code, said = run_cli(monkeypatch, capsys, *args)
    assert code == 2, said
    line = one_line_refusal(said)
    assert option in line and "--allow-large" in line, line
    assert not out.exists() and snapshot(corpus) == before


# ------------------------------------------------- item 12: --allow-partial checks the requested folds


def without_actor(cache, tmp_path, actor: int):
    """A copy of `cache` lacking every clip of `actor` (a partial cache)."""
    copy = shutil.copytree(cache.path, tmp_path / "cache" / cache.path.name)
    for record in cache.records():
        if record["actor"] == actor:
            for path in (copy / "clips").glob(f"{record['clip_id']}.*"):
                path.unlink()
    return open_cache(copy)


PARTIAL = ("train", "--model", "audio", "--preset", "small", "--n-folds", "4", "--n-val", "1", "--epochs", "1",
           "--allow-partial")  # 4 folds of one actor: fold 0 tests actor 1, which the copy lacks


def test_allow_partial_checks_only_the_requested_folds(prepared_cache, tmp_path, monkeypatch, capsys):
    partial = without_actor(prepared_cache, tmp_path, actor=1)
    seen = stop_before_training(monkeypatch)
    run = tmp_path / "run"
    code, said = run_cli(monkeypatch, capsys, *PARTIAL, "--data", partial.path, "--folds", "1,2", "--out", run)
    assert code == 0, said
    assert seen and seen[0][0] == "audio" and seen[0][3] == [1], seen
    assert read_json(run / "run.json")["partial"]["missing_actors"] == [1]


@pytest.mark.parametrize("folds", ["0", "0,1", "all"])
def test_allow_partial_refuses_a_requested_fold_without_test_actors(folds, prepared_cache, tmp_path, monkeypatch, capsys):
    partial = without_actor(prepared_cache, tmp_path, actor=1)
    seen = stop_before_training(monkeypatch)
    run = tmp_path / "run"
    code, said = run_cli(monkeypatch, capsys, *PARTIAL, "--data", partial.path, "--folds", folds, "--out", run)
    assert code == 2, said
    said = "\n".join(line for line in said.splitlines() if not line.startswith("PARTIAL corpus"))  # the notice
    line = one_line_refusal(said)
    assert "fold 0" in line and "test actors" in line, line
    assert not seen and not (run / "run.json").exists()


# ------------------------------------------------------------- item 13: loader workers above the cores


@pytest.mark.parametrize(("asked", "used"), [("4", 2), ("2", 2), ("0", 0)])
def test_loader_workers_are_capped_at_the_cores_available(asked, used, prepared_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)  # a 2-core share
    seen = stop_before_training(monkeypatch)
    run = tmp_path / "run"
    code, said = run_cli(monkeypatch, capsys, *TRAIN, "--data", prepared_cache.path, "--out", run, "--workers", asked)
    assert code == 0, said
    assert seen and seen[0][2] == used, seen
    notes = [line for line in said.splitlines() if "workers" in line]
    if used < int(asked):
        assert notes == ["loader workers: 4 asked, 2 cores available; using 2"], said
    else:
        assert not notes, said
    assert "Traceback" not in said and (run / "run.json").exists()
