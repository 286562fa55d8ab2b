"""Audio-model training throughput: our engine (Lightning, `avemotion train`) against a plain PyTorch loop.

    python bench/bench_audio_train.py --data CACHE            # a prepared audio (or audio-video) cache
    python bench/bench_audio_train.py                         # a random MFCC-only cache of RAVDESS size

Both train the same 34k-parameter audio CNN with Adam 1e-3 and batch 16 on the same 960 cached
clips, one epoch at a time, on the CPU:
  plain       torch DataLoader over our ClipDataset (same cache reads), forward, backward, step; nothing else
  plain_mem   the same loop over MFCCs already in memory (no cache reads: the compute floor)
  engine      `avemotion.training.train` (Lightning, loggers, selection callback, validation excluded:
              only the training epochs are timed, by a callback)
Printed: clips/s of each, and engine / plain (the engine's overhead; the target is below 1.5x).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, help="prepared cache (default: a random MFCC-only cache)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs of each (after one warm-up epoch)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads of the plain loops "
                   "(the engine picks 1 for audio models on the CPU)")
    return p.parse_args(argv)


def random_cache(root: Path, actors: int = 24, per_actor: int = 60):
    """An MFCC-only cache of RAVDESS size (random features, real layout), written through ClipCache."""
    from avemotion.config import PreprocessConfig
    from avemotion.data.cache import ClipCache
    from avemotion.data.preprocess import ClipArrays

    cache = ClipCache.create(root, PreprocessConfig(modalities=("audio",)))
    rng = np.random.default_rng(0)
    for actor in range(1, actors + 1):
        for k in range(per_actor):
            clip = f"03-01-{k % 8 + 1:02d}-01-01-01-{actor:02d}-{k:02d}"
            record = {"clip_id": clip, "path": clip, "dataset": "ravdess", "label": k % 8, "emotion": "x",
                      "actor": actor, "gender": "male" if actor % 2 else "female", "intensity": 1}
            mfcc = (rng.standard_normal((13, 212)) * 20).astype(np.float32)
            cache.write(record, ClipArrays(None, mfcc, None, 0.0, 3.0, "none"))
    cache.write_index()
    return cache


def train_ids(cache, n: int = 960) -> list[str]:
    return [r["clip_id"] for r in cache.records()][:n]


def plain_epochs(cache, ids, args, in_memory: bool) -> float:
    """Seconds per epoch of the plainest loop that trains the same model the same way."""
    from torch.utils.data import DataLoader

    from avemotion.data.dataset import ClipDataset
    from avemotion.models import create_model

    torch.manual_seed(0)
    model = create_model("audio", scale="full").train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    dataset = ClipDataset(cache, ids, augment="none", video=False)
    if in_memory:
        items = [dataset[i] for i in range(len(dataset))]
        mfcc = torch.stack([it["audio"] for it in items])
        labels = torch.stack([it["label"] for it in items])

        def batches():
            order = torch.randperm(len(ids))
            for i in range(0, len(ids), args.batch):
                rows = order[i : i + args.batch]
                yield mfcc[rows], labels[rows]
    else:
        loader = DataLoader(dataset, batch_size=args.batch, shuffle=True)

        def batches():
            for batch in loader:
                yield batch["audio"], batch["label"]

    times = []
    for epoch in range(args.epochs + 1):
        start = time.perf_counter()
        for audio, label in batches():
            loss, _ = model.loss(None, audio, label)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def engine_epochs(cache, ids, args) -> float:
    """Seconds per training epoch of `avemotion train` (validation and scoring not timed)."""
    import lightning as L

    from avemotion.training import train

    class EpochTimer(L.Callback):
        def __init__(self):
            self.times = []

        def on_train_epoch_start(self, trainer, module):
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.times.append(time.perf_counter() - self.start)

    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as out:
        # 6 folds of 4 actors, 4 validation actors: fold 0 trains on 16 actors (960 clips)
        train("audio", cache.path, out, preset="paper", folds=[0], epochs=args.epochs + 1, batch_size=args.batch,
              num_workers=0, callbacks=[timer])
    return float(np.median(timer.times[1:]))


def main(argv=None) -> None:
    args = parse_args(argv)
    from avemotion.data.cache import open_cache

    print(f"# {date.today()}  {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        cache = open_cache(args.data) if args.data else random_cache(Path(tmp))
        ids = train_ids(cache)
        torch.set_num_threads(args.threads)
        plain = plain_epochs(cache, ids, args, in_memory=False)
        memory = plain_epochs(cache, ids, args, in_memory=True)
        engine = engine_epochs(cache, ids, args)
    n = len(ids)
    print(f"{'loop':<10} {'s/epoch':>8} {'clips/s':>9}")
    for name, sec in (("plain", plain), ("plain_mem", memory), ("engine", engine)):
        print(f"{name:<10} {sec:8.3f} {n / sec:9.0f}")
    print(f"engine / plain = {engine / plain:.2f}x (target < 1.5x); engine / plain_mem = {engine / memory:.2f}x")


if __name__ == "__main__":
    main()
