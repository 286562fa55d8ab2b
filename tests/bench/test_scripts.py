"""Every bench script still runs against the package: `--help` imports it and parses its options.

Benchmarks are not timed here (docs/benchmarks.md holds the figures); this only catches a script
left behind by a change of the package's API, which would otherwise surface when someone is lent a
GPU for an hour.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("bench_*.py"))


def test_every_bench_script_is_checked():
    assert len(SCRIPTS) >= 7  # the figures in docs/benchmarks.md come from these


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_bench_script_imports_and_parses_its_options(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
