"""`avemotion voice ...`: bad input is one line naming what is wrong, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def avemotion(*args):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "avemotion.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_train_on_a_folder_that_is_not_a_store(tmp_path):
    one_line_error(avemotion("voice", "train", "--data", str(tmp_path), "--out", str(tmp_path / "run")), "not a voice store")


@pytest.mark.parametrize("option,value,words", [
    ("--seeds", "a,1", ("--seeds",)), ("--epochs", "100000", ("--epochs",)), ("--lr", "nan", ("--lr",)),
    ("--protocol", "nope", ("protocol",)),
])
def test_train_options_are_checked_before_any_work(tmp_path, option, value, words):
    one_line_error(avemotion("voice", "train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), option, value), *words)


def test_prepare_refuses_a_folder_holding_something_else(tmp_path, emodb_dir):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "precious.txt").write_text("keep me")
    one_line_error(avemotion("voice", "prepare", str(emodb_dir), "--out", str(tmp_path / "store")), "not empty")
    assert (tmp_path / "store" / "precious.txt").read_text() == "keep me"


def test_export_of_a_folder_that_is_not_a_run(tmp_path):
    result = avemotion("voice", "export", str(tmp_path), "--out", str(tmp_path / "w"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
