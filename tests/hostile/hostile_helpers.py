"""What every hostile case checks: a refusal is one line without a traceback, and a folder's bytes."""

from __future__ import annotations

import re


def one_line_refusal(said: str) -> str:
    """The single error line of a refusal; fails on a traceback or a class name in what was said."""
    assert "Traceback" not in said, said
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\b", said), said
    lines = [line for line in said.splitlines() if line.strip()]
    assert len(lines) == 1, said
    return lines[0]


def snapshot(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
