"""Running the real `avemotion` entry point in-process (faster than a subprocess per case)."""

from __future__ import annotations

import sys
import traceback


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str]:
    """`avemotion ARGS` in this process through the real entry point: (exit code, stdout + stderr);
    an exception that escapes it is what the user would see as a traceback (exit 1)."""
    from avemotion.cli.main import run

    monkeypatch.setattr(sys, "argv", ["avemotion", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "200")
    escaped = ""
    try:
        run()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except Exception:
        code, escaped = 1, traceback.format_exc()
    out, err = capsys.readouterr()
    return code, out + err + escaped
