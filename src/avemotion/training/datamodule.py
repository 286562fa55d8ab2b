"""LightningDataModule over a ClipCache and one fold's clip ids.

Shuffling is a function of (seed, epoch) only, so a run resumed from last.ckpt sees the same batches
as an uninterrupted one. Under DDP Lightning swaps in its DistributedSampler, which is seeded the same
way (seed + epoch).

With `preload` the fold's clips (train and validation) are read once onto the training device and
batches are gathered there (data.dataset.PreloadedClips): no worker, no copy per batch.
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler

from avemotion.data.dataset import ClipDataset, PreloadedClips, load_store, normalise_store_audio, pass_batch, store_bytes
from avemotion.evaluation.scoring import shuffled_order

# "auto" preloads when the fold takes at most this share of the device's free memory: the rest is
# for the model, its activations and cuDNN's workspaces.
PRELOAD_SHARE = 0.4
# On the CPU "auto" preloads folds up to this size (bench/bench_audio_train.py: reading 960 MFCC
# files per epoch cost a third of the audio model's epoch).
CPU_PRELOAD_BYTES = 64 * 2**20


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


class EvalOrderSampler(EpochShuffleSampler):
    """Validation batches of a batch-pooled model, drawn as the published shuffled loader did: the
    order scoring.shuffled_order gives for (seed, epoch); Lightning sets the epoch before each
    validation run."""

    def __iter__(self):
        return iter(shuffled_order(self.n, self.seed, self.epoch))


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
        preload: str = "off",
        video: bool = True,
        audio_augment: str = "none",
        speaker_norm: dict | None = None,
        pooled_eval: bool = False,
    ):
        super().__init__()
        # the model pools over its batch (scoring.pools_over_batch): validation batches are shuffled
        # per epoch, else they keep the given order (no prediction depends on it)
        self.pooled_eval = pooled_eval
        self.speaker_norm = speaker_norm  # per-speaker MFCC statistics (dataset.speaker_mfcc_stats)
        self.cache = cache
        self.video = video and "video" in cache.modalities  # False: the model needs no video, none is read
        self.audio_augment = audio_augment  # training clips only
        self.train_ids = list(train_ids)
        self.val_ids = list(val_ids)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.augment = augment
        self.seed = seed
        self.crop_on_device = crop_on_device
        self.preload = preload  # "auto" | "on" | "off", resolved in setup() once the device is known
        self.preloaded: bool | None = None
        self.train_set = None
        self.val_set = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        device = self.device()
        ids = list(dict.fromkeys(self.train_ids + self.val_ids))
        nbytes = store_bytes(self.cache, ids, self.video) if ids else 0
        self.preloaded = resolve_preload(self.preload, device, nbytes)
        if self.preloaded:
            self._setup_preloaded(ids, device)
        else:
            self._setup_cached()

    def device(self) -> torch.device:
        """The device the Trainer trains on (under DDP: this rank's); the CPU without a Trainer."""
        return self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")

    def _setup_cached(self) -> None:
        self.train_set = ClipDataset(self.cache, self.train_ids, augment=self.augment, seed=self.seed,
                                     defer_crop=self.crop_on_device and self.video, video=self.video,
                                     audio_augment=self.audio_augment, speaker_norm=self.speaker_norm)
        self.val_set = ClipDataset(self.cache, self.val_ids, augment="none", seed=self.seed, video=self.video,
                                   speaker_norm=self.speaker_norm)

    def _setup_preloaded(self, ids: list[str], device: torch.device) -> None:
        store = load_store(self.cache, ids, device, self.video)
        if self.speaker_norm is not None:
            normalise_store_audio(store, self.speaker_norm)
        self.train_set = PreloadedClips(store, self.train_ids, augment=self.augment, seed=self.seed,
                                        audio_augment=self.audio_augment)
        self.val_set = PreloadedClips(store, self.val_ids, augment="none", seed=self.seed)

    def teardown(self, stage: str | None = None) -> None:
        if self.preloaded:  # give the device memory back before the next stage preloads its fold
            self.train_set = self.val_set = None

    def _loader(self, dataset, sampler=None, shuffle=False, train=False) -> DataLoader:
        extra = dict(num_workers=0, collate_fn=pass_batch) if self.preloaded else dict(
            num_workers=self.num_workers,
            persistent_workers=False,  # workers are re-seeded from the epoch seed each epoch
            pin_memory=torch.cuda.is_available(),
        )
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            shuffle=shuffle,
            # BatchNorm cannot train on a batch of one clip: drop such a last batch (only then).
            drop_last=train and len(dataset) % self.batch_size == 1,
            **extra,
        )

    def train_dataloader(self) -> DataLoader:
        if _distributed():
            # Lightning replaces this with a DistributedSampler(shuffle=True, seed) and sets its epoch.
            return self._loader(self.train_set, shuffle=True, train=True)
        return self._loader(self.train_set, sampler=EpochShuffleSampler(len(self.train_set), self.seed), train=True)

    def val_dataloader(self) -> DataLoader:
        if self.pooled_eval:
            return self._loader(self.val_set, sampler=EvalOrderSampler(len(self.val_set), self.seed))
        return self._loader(self.val_set)


def resolve_preload(setting: str, device: torch.device, nbytes: int) -> bool:
    """"on"/"off" as given; "auto": on a CUDA device whose free memory holds the fold comfortably."""
    if setting != "auto":
        return setting == "on"
    if device.type != "cuda":
        # the page cache already holds large folds; a small one (MFCCs only: 16 MB for all of
        # RAVDESS) is cheaper to gather from one tensor than to read clip by clip from files
        return nbytes <= CPU_PRELOAD_BYTES
    return nbytes <= PRELOAD_SHARE * free_device_memory(device)


def free_device_memory(device: torch.device) -> int:
    free, _ = torch.cuda.mem_get_info(device)
    # Blocks torch's caching allocator holds but no tensor uses (an earlier stage's) are free to us.
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()
