"""Hostile inputs for the prepare tests (issue 16), in one place: broken landmark CSVs and CSVs at the
wrong scale, upper-case and unreadable files, bad actor folders, a cache whose recorded settings or
fingerprint changed, stale and live clip locks, concurrent and interrupted `prepare` processes; plus
what every such test checks: the CLI's exit code and one-line messages, and that no earlier file
changed (`stamp`)."""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig, cache_fingerprint

SMALL = PreprocessConfig(num_frames=4, frame_size=32)
AVEMOTION = str(Path(sys.executable).with_name("avemotion"))
X_COLS, Y_COLS = slice(297, 365), slice(365, 433)  # the synthetic CSVs' x_0..x_67 / y_0..y_67


# ------------------------------------------------------------------ corpora

def corpus(src: Path, dst: Path, n: int, actors: tuple[int, ...] = (1,)) -> list[Path]:
    """The first n clips of each of `actors` of the synthetic corpus `src`, with their landmark CSVs, in `dst`."""
    out = []
    (dst / "landmarks").mkdir(parents=True, exist_ok=True)
    for actor in actors:
        folder = f"Actor_{actor:02d}"
        (dst / folder).mkdir(parents=True, exist_ok=True)
        for c in sorted((src / folder).glob("*.mp4"))[:n]:
            shutil.copy(c, dst / folder / c.name)
            shutil.copy(src / "landmarks" / f"{c.stem}.csv", dst / "landmarks" / f"{c.stem}.csv")
            out.append(dst / folder / c.name)
    return out


def free_names(actor: int = 1) -> list[str]:
    """Valid RAVDESS speech stems the synthetic fixture does not use (statement 02)."""
    return [f"01-01-{e:02d}-{i:02d}-02-{r:02d}-{actor:02d}" for e in range(1, 9) for i in ((1,) if e == 1 else (1, 2))
            for r in (1, 2)]


def add_clip(root: Path, video: Path, stem: str, csv_text: str | bytes | None = None, suffix: str = ".mp4",
             csv_suffix: str = ".csv") -> Path:
    """A copy of `video` as Actor_01/<stem><suffix>, with landmarks/<stem><csv_suffix> holding `csv_text`."""
    path = root / "Actor_01" / f"{stem}{suffix}"
    shutil.copy(video, path)
    if csv_text is not None:
        csv = root / "landmarks" / f"{stem}{csv_suffix}"
        csv.write_bytes(csv_text if isinstance(csv_text, bytes) else csv_text.encode())
    return path


# ------------------------------------------------------------------ landmark CSVs

def _table(csv: Path) -> tuple[str, np.ndarray]:
    lines = csv.read_text().splitlines()
    return lines[0], np.loadtxt(lines[1:], delimiter=",", ndmin=2)


def _text(header: str, rows: np.ndarray) -> str:
    return header + "\n" + "".join(", ".join(f"{v:.3f}" for v in row) + "\n" for row in rows)


def scaled(csv: Path, factor: float) -> str:
    """The CSV with every landmark coordinate multiplied: measured on a video of another resolution."""
    header, rows = _table(csv)
    rows[:, X_COLS] *= factor
    rows[:, Y_COLS] *= factor
    return _text(header, rows)


def broken_csv(csv: Path, kind: str) -> str | bytes:
    """A damaged copy of a good OpenFace CSV (see BROKEN for the kinds and why each is refused)."""
    header, rows = _table(csv)
    if kind == "not_utf8":
        data = _text(header, rows).encode()
        return data.replace(b", ", b", \xff\xfe", 1)  # in the header line
    if kind == "not_utf8_row":
        lines = _text(header, rows).encode().split(b"\n")
        lines[3] = lines[3].replace(b", ", b", \xe9", 1)
        return b"\n".join(lines)
    if kind == "no_rows":
        return header + "\n"
    if kind == "x8":
        return scaled(csv, 8)
    if kind == "x0.25":
        return scaled(csv, 0.25)
    if kind == "half_rows":
        return _text(header, rows[::2])
    if kind == "two_rows_short":  # within the tolerance: prepared
        return _text(header, rows[:-2])
    if kind == "zeros":
        rows[:, X_COLS] = rows[:, Y_COLS] = 0
    elif kind == "huge":
        rows[:, X_COLS] = rows[:, Y_COLS] = 1e6
    elif kind == "huge_row":
        rows[7, X_COLS] = 1e6
    elif kind == "inf":
        rows[5, 300] = np.inf
    elif kind == "nan":
        rows[5, 370] = np.nan
    else:
        raise ValueError(kind)
    return _text(header, rows)


# kind -> words the one-line bad_landmarks detail must hold
BROKEN = {
    "zeros": "a face of 0 px, under 15%",
    "huge": "outside the 160x120 frame",
    "huge_row": "line 9: ",
    "inf": "line 7: coordinate inf",
    "nan": "line 7: coordinate nan",
    "not_utf8": "not UTF-8 text",
    "not_utf8_row": "not UTF-8 text",
    "no_rows": "no rows",
    "x8": "outside the 160x120 frame",
    "x0.25": "under 15% of the 160x120 frame",
    "half_rows": "rows for a video of",
}


# ------------------------------------------------------------------ unreadable files

def deny_read(monkeypatch, *paths: Path) -> None:
    """Opening any of `paths` raises PermissionError, as chmod 000 would for a user other than root
    (the tests run as root, which chmod does not stop)."""
    denied = {str(Path(p)) for p in paths}

    def guard(real):
        def open_(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and str(Path(file)) in denied:
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real(file, *args, **kwargs)
        return open_

    monkeypatch.setattr(builtins, "open", guard(builtins.open))
    monkeypatch.setattr(io, "open", guard(io.open))


# ------------------------------------------------------------------ caches

def recorded_elsewhere(cache_path: Path, **fingerprint) -> Path:
    """Rewrite config.json as another installation would have written it: the fingerprint changed
    and a hash consistent with it (so only the fingerprint check can refuse it)."""
    meta = json.loads((cache_path / "config.json").read_text())
    recorded = dict(cache_fingerprint(), **fingerprint)
    meta.update(recorded, hash=PreprocessConfig.from_dict(meta["preprocess"]).hash(recorded))
    (cache_path / "config.json").write_text(json.dumps(meta, indent=2))
    return cache_path


def edited_settings(cache_path: Path, **settings) -> Path:
    """config.json with its settings edited by hand, its hash left as it was."""
    meta = json.loads((cache_path / "config.json").read_text())
    meta["preprocess"].update(settings)
    (cache_path / "config.json").write_text(json.dumps(meta, indent=2))
    return cache_path


def lock_file(cache_path: Path, clip_id: str, pid: int, host: str | None = None) -> Path:
    import socket

    path = cache_path / "clips" / f"{clip_id}.lock"
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname()}))
    return path


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def stamp(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under `folder` (hidden ones too): (mtime_ns, sha1 of its bytes), by relative path."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha1(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def unchanged(before: dict, after: dict) -> list[str]:
    """Files of `before` that are gone or changed in `after`."""
    return [name for name, v in before.items() if after.get(name) != v]


def leftovers(cache_path: Path) -> list[str]:
    """Lock and temporary files: a finished or interrupted prepare leaves none."""
    return sorted(p.name for p in (cache_path / "clips").iterdir() if p.suffix in (".lock", ".tmp"))


# ------------------------------------------------------------------ the command line

def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """`avemotion ARGS` in this process, through the real entry point: (exit code, stdout, stderr)."""
    from avemotion.cli.main import run

    monkeypatch.setattr(sys, "argv", ["avemotion", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "80")
    try:
        run()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def prepare_args(root: Path, out: Path, *extra) -> list[str]:
    return ["prepare", str(root), "--out", str(out), "--frames", str(SMALL.num_frames), "--size",
            str(SMALL.frame_size), *map(str, extra)]


def start_prepares(n: int, root: Path, out: Path, *extra) -> list[subprocess.Popen]:
    """n `avemotion prepare` processes on one cache, started together, each in its own process group
    (so a test can send them Ctrl-C as a terminal would)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="200")
    return [subprocess.Popen([AVEMOTION, *prepare_args(root, out, *extra)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                             preexec_fn=_terminal_sigint)
            for _ in range(n)]


def _terminal_sigint() -> None:
    """In the child before exec: SIGINT as a terminal's shell gives it (default action, not blocked).
    A disposition or mask inherited from the test process (which has run Lightning and pools in
    process by then) would otherwise decide whether the child can be interrupted at all: in the full
    suite on a fresh clone it could not be, and finished every clip with exit 0."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(proc: subprocess.Popen) -> None:
    """Kill a process group started by start_prepares if it still runs (a failed test)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def wait_for(condition, timeout: float = 180.0, every: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(every)
    return False


def no_traceback(text: str) -> None:
    """What a user sees on a refused input: no traceback, no Python exception class names."""
    import re

    assert "Traceback" not in text and not re.search(r"\b[A-Z]\w*(Error|Exception)\b", text), text
