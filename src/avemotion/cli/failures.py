"""The one place where an error becomes what the user reads: one line and an exit code.

Exit codes: 2 = the input or the settings cannot be used (the line says which file or option and
why); 1 = a bug in avemotion (the line says so; `--debug` shows the traceback). Commands that go on
after a bad file (prepare, predict) report it themselves and exit 3 at the end."""

from __future__ import annotations

import errno

from avemotion.errors import AvemotionError

BAD_INPUT = 2
BUG = 1


def one_line(err: BaseException) -> tuple[str, int]:
    """(the line to print, the exit code) for an error that reached the entry point."""
    if isinstance(err, AvemotionError):
        return f"error: {err}", BAD_INPUT
    if isinstance(err, MemoryError):
        return ("error: out of memory (the inputs or the options ask for more than this machine has; "
                "smaller sizes, fewer workers or a smaller batch)"), BAD_INPUT
    if isinstance(err, OSError):
        return f"error: {_os_line(err)}", BAD_INPUT
    if isinstance(err, RecursionError):
        return "error: an input is nested too deeply to be read", BAD_INPUT
    return (f"internal error: {type(err).__name__}: {_first_line(err)} (a bug in avemotion: run again with "
            f"--debug for the traceback, and report it)"), BUG


def _os_line(err: OSError) -> str:
    name = err.filename if err.filename is not None else "a file"
    if err.errno == errno.ENOSPC:
        return (f"{name}: no space left on the device; finished work is kept (written atomically): free some "
                "space and run the same command again")
    if err.errno == errno.ENAMETOOLONG:
        return f"{name}: file name too long"
    reason = {errno.ENOENT: "no such file or directory", errno.ENOTDIR: "a path component is not a folder",
              errno.EISDIR: "is a folder, a file was expected", errno.EACCES: "permission denied",
              errno.EPERM: "operation not permitted", errno.EROFS: "read-only file system"}.get(err.errno)
    return f"{name}: {reason or err.strerror or _first_line(err)}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "(no message)"
