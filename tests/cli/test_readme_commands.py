"""The README and docs/ state only what the current code does: every `avemotion ...` command they show
(in code blocks and inline code) names a command that exists, with options that command has; the
README's cheap ones (no corpus, no trained run) are run as written, on a real voice where they name a
file."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import typer
import typer.core
from cli_run import run_cli

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def readme_commands(path: Path = README) -> list[str]:
    """Every `avemotion ...` command line of a Markdown file: code-block lines (continuations joined,
    comments cut, `VAR=x;` prefixes dropped) and inline code spans."""
    text = path.read_text()
    found = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if "avemotion " in line:
                found.append(line[line.index("avemotion "):])
    found += [m.replace("\\|", "|") for m in re.findall(r"`(avemotion [^`]*)`", text)]
    return found


def resolve(words: list[str]):
    """(click command, the words naming it) for `avemotion WORDS...`, descending into groups."""
    from avemotion.cli.main import app

    command, path = typer.main.get_command(app), []
    for word in words:
        if not isinstance(command, typer.core.TyperGroup) or word.startswith("-"):
            break
        sub = command.commands.get(word.split("|")[0])
        assert sub is not None, f"README names `avemotion {' '.join(path + [word])}`, which does not exist"
        command, path = sub, path + [word]
    return command, path


def options_of(command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}


def test_the_readme_shows_commands():
    commands = readme_commands()
    assert len(commands) >= 20 and any(c.startswith("avemotion predict") for c in commands), commands


def test_every_documented_command_exists_with_its_options():
    wrong = []
    for line in (line for doc in DOCS for line in readme_commands(doc)):
        words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " | "))[1:]
        command, path = resolve(words)
        known = options_of(command)
        for word in words[len(path):]:
            if word.startswith("-") and word != "-" and word.split("=")[0] not in known:
                wrong.append(f"{line}: {word} is not an option of `avemotion {' '.join(path)}`")
    assert not wrong, "\n".join(wrong)


def test_the_cheap_readme_commands_run_as_written(emodb_dir, tmp_path, monkeypatch, capsys):
    """`avemotion predict voice.wav` (a real EmoDB utterance under that name) and `avemotion weights
    voice-v1 --card`, exactly as the README writes them."""
    lines = {line for line in readme_commands()}
    assert {"avemotion predict voice.wav", "avemotion weights voice-v1 --card"} <= lines, sorted(lines)
    shutil.copy(sorted(emodb_dir.glob("*.flac"))[0], tmp_path / "voice.wav")  # the decoder reads the content
    monkeypatch.chdir(tmp_path)
    code, said = run_cli(monkeypatch, capsys, "predict", "voice.wav")
    assert code == 0 and "voice.wav" in said and "voice-v1" in said, said
    code, said = run_cli(monkeypatch, capsys, "weights", "voice-v1", "--card")
    assert code == 0 and "licen" in said.lower(), said
