"""How avemotion speaks: the standard `logging` module, one logger per module under "avemotion"
(`logging.getLogger(__name__)`), and one process speaking for a distributed run.

The CLI calls `setup_cli_logging()` once: one handler on the "avemotion" logger writing the
message alone (no level or name) to stdout, where the lines went before, at INFO, behind a
`RankZeroFilter`, and not propagated to the root logger. Used as a library, without the CLI, the
lines stay silent at INFO (standard logging: no handler is configured; warnings reach stderr through
logging's last resort, as for any library); attach a handler to "avemotion" to see them.

A grid cell writes its lines to its own log file (`to_file`), and planning a grid opens its runs
without a word (`muted`).

Which process is rank zero is read here (`is_global_zero`) so that training's file guards and the
log filter agree; utils imports nothing from training.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

ROOT = "avemotion"
MUTED = logging.CRITICAL + 1


def is_global_zero() -> bool:
    """Whether this process speaks and writes for the run. Before the Trainer exists: torchrun /
    SLURM set RANK; a single process has none."""
    for var in ("RANK", "SLURM_PROCID"):
        if var in os.environ:
            return int(os.environ[var]) == 0
    return True


def speaks() -> bool:
    """Whether this process's lines are shown: rank zero of torch.distributed once it is set up,
    else `is_global_zero()` and local rank zero (Lightning's own launcher sets only LOCAL_RANK)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return is_global_zero() and os.environ.get("LOCAL_RANK", "0") == "0"


class RankZeroFilter(logging.Filter):
    """Passes records only in the process that speaks for a distributed run (`speaks`), read at
    each record: the rank is known only once the launcher has set it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return speaks()


class _Stdout(logging.StreamHandler):
    """A handler on whatever sys.stdout is when a line is written (as print and typer.echo do), so
    that a redirected or captured stdout receives it."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ sets it; the live sys.stdout wins
        pass


def _message_only(handler: logging.Handler) -> logging.Handler:
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RankZeroFilter())
    return handler


def setup_cli_logging(level: int = logging.INFO) -> logging.Logger:
    """The CLI's logging: the message alone on stdout, rank zero only, at `level`, not propagated.
    Calling it again replaces its handler (never a second copy of each line)."""
    logger = logging.getLogger(ROOT)
    for old in [h for h in logger.handlers if isinstance(h, _Stdout)]:
        logger.removeHandler(old)
    logger.addHandler(_message_only(_Stdout()))
    logger.setLevel(level)
    logger.propagate = False
    return logger


@contextlib.contextmanager
def _swapped(handlers: list, level: int, propagate: bool):
    logger = logging.getLogger(ROOT)
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate
    try:
        yield logger
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


@contextlib.contextmanager
def to_file(path: str | Path):
    """Every avemotion line goes to `path` alone (appended) for the duration, at INFO: a grid cell's
    log; nothing of it reaches the CLI's stdout."""
    handler = _message_only(logging.FileHandler(path, mode="a", encoding="utf-8"))
    try:
        with _swapped([handler], logging.INFO, False):
            yield
    finally:
        handler.close()


@contextlib.contextmanager
def muted():
    """No avemotion line at all for the duration (e.g. a grid planning its runs: said once, not per seed)."""
    logger = logging.getLogger(ROOT)
    with _swapped(logger.handlers[:], MUTED, logger.propagate):
        yield
