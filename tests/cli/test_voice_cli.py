"""`avemotion voice ...`: bad input is one line naming what is wrong, never a traceback."""

from __future__ import annotations

import pytest
from cli_run import run_cli


def one_line_error(code, said, *words):
    assert code == 2, said
    lines = [line for line in said.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in said, said
    for word in words:
        assert word in lines[0], lines[0]


def test_train_on_a_folder_that_is_not_a_store(monkeypatch, capsys, tmp_path):
    one_line_error(*run_cli(monkeypatch, capsys, "voice", "train", "--data", tmp_path, "--out", tmp_path / "run"),
                   "not a voice store")


@pytest.mark.parametrize("option,value,words", [
    ("--seeds", "a,1", ("--seeds",)), ("--seeds", "1,1", ("--seeds",)), ("--epochs", "0", ("--epochs",)),
    ("--epochs", "100000", ("--epochs",)), ("--lr", "nan", ("--lr",)), ("--lr", "-1", ("--lr",)),
    ("--protocol", "nope", ("protocol",)),
])
def test_train_options_are_checked_before_any_work(monkeypatch, capsys, tmp_path, option, value, words):
    said = run_cli(monkeypatch, capsys, "voice", "train", "--data", tmp_path, "--out", tmp_path / "run", option, value)
    one_line_error(*said, *words)
    assert not (tmp_path / "run").exists()


def test_prepare_refuses_a_folder_holding_something_else(monkeypatch, capsys, tmp_path, emodb_dir):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "precious.txt").write_text("keep me")
    one_line_error(*run_cli(monkeypatch, capsys, "voice", "prepare", emodb_dir, "--out", tmp_path / "store"), "not empty")
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["precious.txt"]
    assert (tmp_path / "store" / "precious.txt").read_text() == "keep me"


def test_export_of_a_folder_that_is_not_a_run(monkeypatch, capsys, tmp_path):
    code, said = run_cli(monkeypatch, capsys, "voice", "export", tmp_path, "--out", tmp_path / "w")
    assert code == 2 and "Traceback" not in said, said
    assert not list(tmp_path.glob("w.*"))
