"""The `avemotion` entry point: every command is listed, user errors are one line without a traceback."""

import subprocess
import sys

import pytest

COMMANDS = ("synth", "prepare", "models", "train", "evaluate", "reproduce", "predict")


def avemotion(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "avemotion.cli.main", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_help_lists_every_command():
    result = avemotion("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help(name):
    result = avemotion(name, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_missing_corpus_is_one_line_error(tmp_path):
    result = avemotion("prepare", str(tmp_path / "nowhere"), "--out", str(tmp_path / "cache"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "nowhere" in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_model_is_one_line_error(tmp_path):
    result = avemotion("train", "--model", "no_such_model", "--data", str(tmp_path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
