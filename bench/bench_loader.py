"""Cache-to-batch loader throughput (clips/s) for 0..N workers, against the published JPEG loader.

    python bench/bench_loader.py                       # synthesises and prepares 32 clips at 30x224x224
    python bench/bench_loader.py --cache work/cache    # an existing cache

Ours: ClipDataset over the uint8 .npy cache with clip-consistent augmentation; video stays uint8 to
the device (normalisation happens there). "Deferred": the loader only draws the crop box and the
training device applies it (`crop_on_device`, the default on CUDA); the device's cost is not counted. Baseline: 30 JPEGs per clip, PIL, per-frame augmentation
and normalisation (bench/published_pipeline.py). Both run in this process, same clips, same batch.
"Preloaded" (`preload`, the default on CUDA when the fold fits): every clip read once into one tensor
on --device, batches gathered and cropped there (PreloadedClips); the crop is counted, the one-off
read is reported apart.
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

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).parent))
from common import sync  # noqa: E402
from published_pipeline import PublishedJpegDataset, write_jpeg_layout  # noqa: E402

from avemotion.config import PreprocessConfig  # noqa: E402
from avemotion.data.cache import open_cache  # noqa: E402
from avemotion.data.dataset import ClipDataset, PreloadedClips, load_store, pass_batch  # noqa: E402
from avemotion.data.prepare import prepare  # noqa: E402
from avemotion.data.synth import SynthOptions, synth_corpus  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", type=Path, help="an existing cache; otherwise one is synthesised")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--max-workers", type=int, default=os.cpu_count())
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="where the preloaded clips live and are cropped")
    return p.parse_args(argv)


def build_cache(args, tmp: Path):
    if args.cache:
        return open_cache(args.cache)
    opts = SynthOptions(actors=2, statements=1, repetitions=1)
    synth_corpus(tmp / "synth", opts, workers=os.cpu_count())
    cfg = PreprocessConfig(num_frames=args.frames, frame_size=args.size)
    report = prepare(tmp / "synth", tmp / "cache", cfg)
    return open_cache(report.cache)


def clips_per_second(dataset, batch: int, workers: int) -> float:
    loader = DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=workers,
                        persistent_workers=False, drop_last=False)
    start = time.perf_counter()
    n = 0
    for item in loader:
        n += item["video"].shape[0]
    return n / (time.perf_counter() - start)


def preloaded_clips_per_second(cache, ids, batch: int, device: torch.device) -> tuple[float, float]:
    """(clips/s of gathering + cropping batches on the device, seconds the one-off read took)."""
    start = time.perf_counter()
    store = load_store(cache, ids, device)
    sync(device)
    read_s = time.perf_counter() - start
    dataset = PreloadedClips(store, ids, augment="clip")
    loader = DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=0, collate_fn=pass_batch)
    next(iter(loader))  # warm-up: CUDA context and kernels
    sync(device)
    start = time.perf_counter()
    n = sum(item["video"].shape[0] for item in loader)
    sync(device)
    return n / (time.perf_counter() - start), read_s


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)  # loader work is per-sample; threads would hide the per-core figure
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = build_cache(args, tmp)
        ids = cache.clip_ids()[: args.clips]
        jpegs = write_jpeg_layout(cache, ids, tmp / "jpeg")
        size = cache.config.frame_size
        ours = ClipDataset(cache, ids, augment="clip")
        deferred = ClipDataset(cache, ids, augment="clip", defer_crop=True)  # crop/flip on the device
        published = PublishedJpegDataset(jpegs, cache, ids, frame_size=size, train=True)
        print(f"# bench_loader {date.today()} | {platform.machine()} {os.cpu_count()} cores | "
              f"torch {torch.__version__}")
        print(f"# command: python {' '.join(sys.argv)}")
        print(f"# {len(ids)} clips of {cache.config.num_frames}x{size}x{size}, batch {args.batch}")
        print("| workers | ours, crop in loader | ours, crop deferred to device | published | ratios to published |")
        print("|---|---|---|---|---|")
        published_rates = {}
        for workers in range(0, args.max_workers + 1):
            a = clips_per_second(ours, args.batch, workers)
            d = clips_per_second(deferred, args.batch, workers)
            b = published_rates[workers] = clips_per_second(published, args.batch, workers)
            print(f"| {workers} | {a:.1f} | {d:.1f} | {b:.1f} | {a / b:.1f}x, {d / b:.1f}x |", flush=True)
        device = torch.device(args.device)
        rate, read_s = preloaded_clips_per_second(cache, ids, args.batch, device)
        best = max(published_rates.values())
        print(f"\n| preloaded on {device} (no workers) | clips/s | ratio to published, 0 workers | ratio to published, best |")
        print("|---|---|---|---|")
        print(f"| gather + crop | {rate:.1f} | {rate / published_rates[0]:.1f}x | {rate / best:.1f}x |")
        print(f"# one-off read of {len(ids)} clips onto {device}: {read_s:.2f} s", flush=True)


if __name__ == "__main__":
    main()
