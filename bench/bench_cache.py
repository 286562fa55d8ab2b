"""Cache read throughput (per-clip .npy, mmap) against 30 JPEGs per clip (the published layout),
plus prepare throughput, in one run on this machine.

    python bench/bench_cache.py --clips 24 --batch 8
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from published_pipeline import write_jpeg_layout  # noqa: E402

from avemotion.config import PreprocessConfig
from avemotion.data.cache import open_cache
from avemotion.data.prepare import prepare
from avemotion.data.synth import SynthOptions, synth_corpus


def read_npy(cache, ids):
    return np.stack([np.array(cache.load(c)[0]) for c in ids])


def read_jpeg(root: Path, ids):
    # as the published loader: PIL opens every frame file
    return np.stack([np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted((root / c).glob("*.jpg"))])
                     for c in ids])


def clips_per_s(fn, ids, batch, repeats):
    n, start = 0, time.perf_counter()
    for _ in range(repeats):
        for i in range(0, len(ids), batch):
            fn(ids[i:i + batch])
            n += len(ids[i:i + batch])
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=24, help="synthetic clips (3 actors x 8 emotions = 24 when 1 statement)")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        actors = max(1, args.clips // 15)
        synth_corpus(tmp / "corpus", SynthOptions(actors=actors, width=w, height=h, statements=1, repetitions=1))
        cfg = PreprocessConfig()  # full size: 30 x 224 x 224
        t = time.perf_counter()
        report = prepare(tmp / "corpus", tmp / "cache", cfg, workers=args.workers)
        prep = report.prepared / (time.perf_counter() - t)
        cache = open_cache(report.cache)
        write_jpeg_layout(cache, cache.clip_ids(), tmp / "jpeg")
        ids = cache.clip_ids()
        # warm both once (page cache), then time: both layouts read from memory, the fair comparison
        read_npy(cache, ids), read_jpeg(tmp / "jpeg", ids)
        npy = clips_per_s(lambda b: read_npy(cache, b), ids, args.batch, args.repeats)
        jpg = clips_per_s(lambda b: read_jpeg(tmp / "jpeg", b), ids, args.batch, args.repeats)
        size_npy = sum(p.stat().st_size for p in cache.clips.glob("*.video.npy")) / len(ids) / 1e6
        size_jpg = sum(p.stat().st_size for p in (tmp / "jpeg").rglob("*.jpg")) / len(ids) / 1e6
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores")
    print(f"prepare ({len(ids)} synthetic {args.size} clips, 30x224x224, {args.workers} workers): {prep:.2f} clips/s")
    print(f"read npy (mmap, copy) : {npy:8.1f} clips/s  ({size_npy:.2f} MB/clip)")
    print(f"read 30 JPEGs (PIL)   : {jpg:8.1f} clips/s  ({size_jpg:.2f} MB/clip)")
    print(f"ratio npy/jpeg        : {npy / jpg:8.1f}x")


if __name__ == "__main__":
    main()
