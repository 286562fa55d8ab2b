"""PyTorch Dataset over a prepared cache (docs/architecture.md, Torch data)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from avemotion.data.cache import ClipCache
from avemotion.data.transforms import augment_video, draw_crop


class ClipDataset(Dataset):
    """Items: video uint8 (3, T, S, S), audio float32 (13, 212), label int64, clip_id, actor, gender,
    intensity (-1 if unknown). Augmentation draws are a function of (seed, epoch, index), so a run is
    reproducible whatever the number of loader workers; call `set_epoch` each epoch.

    `defer_crop=True` (clip mode only) draws the same crop but leaves the pixels alone and returns the
    box as `crop`; `transforms.crop_batch` applies it on the device, which keeps the loader's CPU
    work to reading arrays (the crop/resize of 30 frames is most of a loader's time)."""

    def __init__(self, cache: ClipCache, clip_ids=None, *, augment: str = "clip", seed: int = 0,
                 defer_crop: bool = False):
        if augment not in ("clip", "frame", "none"):
            raise ValueError(f"augment must be 'clip', 'frame' or 'none', got {augment!r}")
        self.cache = cache
        records = {r["clip_id"]: r for r in cache.records()}
        self.clip_ids = list(records) if clip_ids is None else list(clip_ids)
        missing = [c for c in self.clip_ids if c not in records]
        if missing:
            raise KeyError(f"{len(missing)} clips not in the cache, e.g. {missing[0]}")
        self.records = [records[c] for c in self.clip_ids]
        self.augment = augment
        self.defer_crop = defer_crop and augment == "clip"
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clip_ids)

    @property
    def labels(self) -> list[int]:
        return [r["label"] for r in self.records]

    def __getitem__(self, i: int) -> dict:
        rec = self.records[i]
        video, mfcc = self.cache.load(rec["clip_id"])
        video = torch.from_numpy(np.array(video)).permute(3, 0, 1, 2)  # copy out of the mmap; (3, T, S, S)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        extra = {}
        if self.defer_crop:
            extra["crop"] = torch.tensor(draw_crop(video.shape[-1], rng), dtype=torch.int64)
        else:
            video = augment_video(video, self.augment, rng).contiguous()
        return {
            **extra,
            "video": video,
            "audio": torch.from_numpy(np.asarray(mfcc, dtype=np.float32)),
            "label": torch.tensor(rec["label"], dtype=torch.int64),
            "clip_id": rec["clip_id"],
            "actor": rec["actor"],
            "gender": rec["gender"],
            "intensity": -1 if rec.get("intensity") is None else rec["intensity"],
        }
