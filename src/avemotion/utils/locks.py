"""Lock files: created with O_EXCL, holding the owner's pid and host, removed after. One process
at a time prepares a clip (data.cache) or trains into a run folder (training.api). A lock whose
process is dead (same host) is stale and taken over; on another host it is reported, never broken."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from avemotion.errors import ConfigError

# A lock file without a readable owner (its writer was killed between creating and filling it) is
# stale after this many seconds.
LOCK_GRACE = 10.0


def take_lock(path: Path) -> str | None:
    """None once `path` is created by this process (pid and host written in it), else who holds it
    ('process PID on HOST')."""
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            holder = live_holder(path)
            if holder:
                return holder
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname()}, f)
        return None
    return "other processes (the lock is taken over and over)"


@contextlib.contextmanager
def holding(path: str | Path, what: str):
    """Hold the lock `path` for the block, or refuse in one line naming who holds it; `what` is what
    the lock guards ("a training into runs/x")."""
    path = Path(path)
    created = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = take_lock(path)
    if holder is not None:
        raise ConfigError(f"{path}: {what} is running in {holder}; wait for it, or delete the lock if it is not running")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        if created:  # a folder made only to hold the lock (the work was refused) is not left behind
            with contextlib.suppress(OSError):
                path.parent.rmdir()


def live_holder(path: Path) -> str | None:
    """'process PID on HOST' while the lock's owner may still run; None when it is stale."""
    try:
        owner = json.loads(path.read_text())
        pid, host = int(owner["pid"]), str(owner["host"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):  # being written, or its writer died meanwhile
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return None
        return None if age > LOCK_GRACE else "another process"
    if host == socket.gethostname() and not _alive(pid):
        return None
    return f"process {pid} on {host}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
