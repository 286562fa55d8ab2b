"""Every option of every `avemotion` command says what it does and what it defaults to.

The rule, checked on each option (not `--help`, not hidden ones) of every command and subcommand
(groups such as `voice` are walked):

1. its description is not empty;
2. the text `--help` prints for it (its click help record: the description plus the bracketed
   extras click adds) names its default, which means it contains one of
   - ``[default: ...]`` (click's show_default),
   - the word "default" in the description itself (e.g. "(default: the preset's value)"),
   - ``[required]`` (there is no default to name);
   or it is a one-name boolean flag (e.g. ``--overwrite``): off unless given, which its being a
   flag says. An on/off pair (``--progress/--no-progress``) is not exempt: click shows which one
   is the default.
"""

from __future__ import annotations

import pytest
import typer
import typer.core


def _commands():
    """(command path, click command, its context) for every leaf command, groups recursed into."""
    from avemotion.cli.main import app

    root = typer.main.get_command(app)
    out = []

    def walk(command, path, parent):
        ctx = command.context_class(command, info_name=path[-1], parent=parent)
        if isinstance(command, typer.core.TyperGroup):
            for name, sub in command.commands.items():
                walk(sub, [*path, name], ctx)
        else:
            out.append((" ".join(path[1:]), command, ctx))

    walk(root, ["avemotion"], None)
    return out


COMMANDS = _commands()


def _options(command):
    return [p for p in command.params
            if isinstance(p, typer.core.TyperOption) and p.name != "help" and not p.hidden]


def test_the_walk_finds_subcommands():
    names = {name for name, _, _ in COMMANDS}
    assert {"train", "predict", "voice train", "voice export"} <= names


def _default_named(option, ctx) -> bool:
    if option.is_flag and not option.secondary_opts:
        return True
    record = option.get_help_record(ctx)
    text = record[1] if record else ""
    return "default" in text.lower() or "[required]" in text


@pytest.mark.parametrize("name,command,ctx", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_option_has_a_description_and_its_default(name, command, ctx):
    undescribed = [option.opts[-1] for option in _options(command) if not (option.help or "").strip()]
    no_default = [option.opts[-1] for option in _options(command) if not _default_named(option, ctx)]
    assert not (undescribed or no_default), (
        f"`avemotion {name}`: options without a description: {undescribed}; "
        f"options whose --help does not name the default: {no_default}")


@pytest.mark.parametrize("name", ["train", "reproduce", "import-unimodal"])
def test_preset_help_lists_the_real_presets(name):
    """--preset names every preset of training/presets.py, and no document the repository lacks."""
    from avemotion.training.presets import PRESETS

    command, ctx = next((c, x) for n, c, x in COMMANDS if n == name)
    option = next(o for o in _options(command) if "--preset" in o.opts)
    text = option.get_help_record(ctx)[1]
    assert all(preset in text for preset in PRESETS), text
    assert "SPEC" not in text
