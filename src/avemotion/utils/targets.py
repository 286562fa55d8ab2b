"""The one check every writing command makes before any work: its outputs are distinct, none is one
of its inputs (a file it reads, or any existing file inside a folder it reads, such as a run), each
can be written, and none exists unless the user said --overwrite. A refusal is one line."""

from __future__ import annotations

import os
from pathlib import Path

from avemotion.errors import ConfigError


def check_targets(targets: list[tuple[str, Path]], inputs: list[Path], overwrite: bool,
                  read_folders: list[Path] = ()) -> None:
    """ConfigError (one line) unless every (option, path) output is distinct, none is an input
    (nor an existing file inside a folder the command reads), each can be written, and none exists
    unless `overwrite`."""
    _check_distinct(targets)
    for option, path in targets:
        if _is_input(Path(path), inputs, read_folders):
            raise ConfigError(f"{option} {path} is an input of this command; avemotion never writes over its inputs")
        _check_writable(option, Path(path))
    existing = [str(path) for _, path in targets if os.path.lexists(path)]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more outputs already exist" if len(existing) > 1 else " already exists"
        raise ConfigError(f"{existing[0]}{more} (--overwrite replaces {'them' if len(existing) > 1 else 'it'})")


def _check_distinct(targets: list[tuple[str, Path]]) -> None:
    seen: dict[Path, str] = {}
    for option, path in targets:
        key = Path(path).resolve()
        if key in seen:
            raise ConfigError(f"{seen[key]} and {option} {path} would write the same file")
        seen[key] = f"{option} {path}"


def _is_input(path: Path, inputs: list[Path], read_folders: list[Path]) -> bool:
    if os.path.exists(path) and any(path.resolve().is_relative_to(Path(f).resolve()) for f in read_folders):
        return True
    for source in inputs:
        if path.resolve() == Path(source).resolve():
            return True
        if os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):  # a hard link
            return True
    return False


def _check_writable(option: str, path: Path) -> None:
    # the atomic rename would replace a link itself (/dev/stdout!), and cannot replace a folder or a device
    # (os.path's tests, unlike Path's, answer False instead of raising where a folder denies access)
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isfile(path)):
        hint = " (omit -o to write to stdout)" if option == "--output" else ""
        kind = "a symbolic link" if os.path.islink(path) else "not a regular file"
        raise ConfigError(f"{option} {path}: exists and is {kind}; only regular files are replaced{hint}")
    folder = next(p for p in Path(os.path.abspath(path)).parents if os.path.exists(p))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: cannot create files in {folder}")
