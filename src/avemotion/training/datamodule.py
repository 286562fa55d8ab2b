"""LightningDataModule over a ClipCache and one fold's clip ids.

Shuffling is a function of (seed, epoch) only, so a run resumed from last.ckpt sees the same batches
as an uninterrupted one. Under DDP Lightning swaps in its DistributedSampler, which is seeded the same
way (seed + epoch).
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler


class EpochShuffleSampler(Sampler[int]):
    """A permutation drawn from seed + epoch; Lightning calls set_epoch before every epoch."""

    def __init__(self, n: int, seed: int = 0):
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=gen).tolist())

    def __len__(self) -> int:
        return self.n


class FoldDataModule(L.LightningDataModule):
    def __init__(
        self,
        cache,
        train_ids: list[str],
        val_ids: list[str],
        *,
        batch_size: int,
        num_workers: int = 0,
        augment: str = "clip",
        seed: int = 0,
        crop_on_device: bool = False,
    ):
        super().__init__()
        self.cache = cache
        self.train_ids = list(train_ids)
        self.val_ids = list(val_ids)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.augment = augment
        self.seed = seed
        self.crop_on_device = crop_on_device
        self.train_set = None
        self.val_set = None

    def setup(self, stage: str | None = None) -> None:
        from avemotion.data.dataset import ClipDataset

        if self.train_set is None:
            self.train_set = ClipDataset(self.cache, self.train_ids, augment=self.augment, seed=self.seed,
                                         defer_crop=self.crop_on_device)
            self.val_set = ClipDataset(self.cache, self.val_ids, augment="none", seed=self.seed)

    def _loader(self, dataset, sampler=None, shuffle=False, train=False) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            shuffle=shuffle,
            # BatchNorm cannot train on a batch of one clip: drop such a last batch (only then).
            drop_last=train and len(dataset) % self.batch_size == 1,
            num_workers=self.num_workers,
            persistent_workers=False,  # workers are re-seeded from the epoch seed each epoch
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        if _distributed():
            # Lightning replaces this with a DistributedSampler(shuffle=True, seed) and sets its epoch.
            return self._loader(self.train_set, shuffle=True, train=True)
        return self._loader(self.train_set, sampler=EpochShuffleSampler(len(self.train_set), self.seed), train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def eval_loader(cache, clip_ids: list[str], batch_size: int, num_workers: int = 0) -> DataLoader:
    from avemotion.data.dataset import ClipDataset

    dataset = ClipDataset(cache, list(clip_ids), augment="none", seed=0)
    return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
