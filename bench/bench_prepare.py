"""Preprocessing throughput on RAVDESS-sized frames (1280x720), per core, at the paper settings.

    python bench/bench_prepare.py --clips 15

Synthesises clips at 1280x720 (landmark CSVs included, as RAVDESS has), then prepares them at
30x224x224 with 1 worker and with every core, each into a fresh cache, in this run. Prints clips/s,
clips/s per core and what that means for the 1440 RAVDESS clips on a 16-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from avemotion.config import PreprocessConfig
from avemotion.data.prepare import prepare
from avemotion.data.synth import SynthOptions, synth_corpus


def rate(corpus: Path, cache: Path, workers: int) -> float:
    start = time.perf_counter()
    report = prepare(corpus, cache, PreprocessConfig(), workers=workers)
    assert not report.failed, report.failed
    return report.prepared / (time.perf_counter() - start)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=15, help="15 clips per synthetic actor")
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        opts = SynthOptions(actors=max(1, args.clips // 15), width=1280, height=720, statements=1, repetitions=1)
        synth_corpus(tmp / "corpus", opts, workers=cores)
        one = rate(tmp / "corpus", tmp / "cache1", 1)
        many = rate(tmp / "corpus", tmp / "cacheN", cores)
    print(f"# bench_prepare {date.today()} | {platform.machine()} {cores} cores | command: python {' '.join(sys.argv)}")
    print("| workers | clips/s | clips/s per core | 1440 clips on 16 such cores |")
    print("|---|---|---|---|")
    for workers, r in ((1, one), (cores, many)):
        per_core = r / workers
        print(f"| {workers} | {r:.2f} | {per_core:.2f} | {1440 / (16 * per_core) / 60:.1f} min |")


if __name__ == "__main__":
    main()
