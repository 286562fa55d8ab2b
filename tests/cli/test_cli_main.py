"""The `avemotion` entry point: every command is listed, user errors are one line without a traceback."""

import os
import subprocess
import sys

import pytest

def registered_commands() -> list[str]:
    """Every command the entry point registers (each cli module's register(app)), hidden ones aside."""
    import typer

    from avemotion.cli.main import app

    group = typer.main.get_command(app)
    return [name for name, command in group.commands.items() if not command.hidden]


COMMANDS = registered_commands()


def avemotion(*args, cwd=None):
    env = dict(os.environ, COLUMNS="200")  # wide enough that no command name is cut
    return subprocess.run([sys.executable, "-m", "avemotion.cli.main", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env=env)


def test_help_lists_every_command():
    assert {"synth", "prepare", "models", "train", "evaluate", "reproduce", "predict", "import-unimodal",
            "export"} <= set(COMMANDS)  # the registry is read, not empty
    result = avemotion("--help")
    assert result.returncode == 0
    listed = {line.split()[1] for line in result.stdout.splitlines() if line.strip().startswith("│") and len(line.split()) > 1}
    missing = [name for name in COMMANDS if name not in listed]
    assert not missing, result.stdout


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
