"""Preprocessing throughput on RAVDESS-sized frames (1280x720), per core, at the paper settings.

    python bench/bench_prepare.py --clips 15                       # landmark CSVs, then dlib and haar
    python bench/bench_prepare.py --clips 15 --faces csv

`csv`: synthetic clips at 1280x720 with landmark CSVs (as RAVDESS has). `dlib`, `haar` (and
`dlib68`): the real RAVDESS-format clip of ../shared/data/ravdess-samples (1280x720, 3.47 s, a real
face) copied under --clips RAVDESS names, without CSVs, so each detector finds the face itself.
Each is prepared at 30x224x224 with 1 worker and with every core, into a fresh cache, in this run.
Prints clips/s, clips/s per core, what that means for the 1440 RAVDESS clips on a 16-core machine,
and each detector's per-core rate against haar's.
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


REAL_CLIP = (Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess-samples" / "Actor_01"
             / "01-01-03-02-02-01-01.mp4")


def real_corpus(out: Path, clips: int) -> Path:
    """`clips` links to the real 1280x720 clip, named as RAVDESS clips of actors 1 and 2, no CSVs."""
    assert clips <= 56, "56 distinct names at most"
    for i in range(clips):  # emotions 02-08 (neutral has no strong intensity), two intensities, ...
        actor = 1 + i % 2
        name = f"01-01-{2 + i % 7:02d}-{1 + (i // 7) % 2:02d}-{1 + (i // 14) % 2:02d}-{1 + (i // 28) % 2:02d}-{actor:02d}.mp4"
        target = out / f"Actor_{actor:02d}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(REAL_CLIP)
    return out


def rate(corpus: Path, cache: Path, workers: int, detector: str | None = None) -> float:
    start = time.perf_counter()
    cfg = PreprocessConfig() if detector is None else PreprocessConfig(detector=detector)
    report = prepare(corpus, cache, cfg, workers=workers)
    assert not report.failed, report.failed
    return report.prepared / (time.perf_counter() - start)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=15, help="clips per face source (synthetic: 15 per actor)")
    ap.add_argument("--faces", default="csv,dlib,haar", help="comma-separated: csv, dlib, dlib68, haar")
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for source in args.faces.split(","):
            if source == "csv":
                corpus = tmp / "synth"
                opts = SynthOptions(actors=max(1, args.clips // 15), width=1280, height=720, statements=1, repetitions=1)
                synth_corpus(corpus, opts, workers=cores)
            else:
                corpus = real_corpus(tmp / f"real_{source}", args.clips)
            detector = None if source == "csv" else source
            rows[source] = {w: rate(corpus, tmp / f"cache_{source}_{w}", w, detector) for w in sorted({1, cores})}
    print(f"# bench_prepare {date.today()} | {platform.machine()} {cores} cores | command: python {' '.join(sys.argv)}")
    print("| faces | workers | clips/s | clips/s per core | 1440 clips on 16 such cores |")
    print("|---|---|---|---|---|")
    for source, by_workers in rows.items():
        for workers, r in by_workers.items():
            per_core = r / workers
            print(f"| {source} | {workers} | {r:.2f} | {per_core:.2f} | {1440 / (16 * per_core) / 60:.1f} min |")
    if "haar" in rows:
        for source in rows:
            if source not in ("haar", "csv"):
                print(f"{source} / haar, 1 worker: {rows[source][1] / rows['haar'][1]:.2f}x")


if __name__ == "__main__":
    main()
