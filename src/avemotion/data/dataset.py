"""PyTorch Dataset over a prepared cache (docs/architecture.md, Torch data)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from avemotion.data.cache import ClipCache
from avemotion.data.transforms import audio_augment_parts, augment_mfcc, augment_video, crop_batch, draw_crop

AUGMENTS = ("clip", "frame", "none")
NO_VIDEO = torch.zeros((3, 0, 0, 0), dtype=torch.uint8)  # the "video" of a clip loaded without one


class _EpochDraws(Dataset):
    """Clips by id whose augmentation draws depend on (seed, epoch, index): the trainer calls
    `set_epoch` before every epoch (callbacks.EpochSeed)."""

    clip_ids: list[str]
    epoch: int = 0
    seed: int = 0
    audio_augment: str = "none"

    def _audio(self, mfcc: torch.Tensor, i: int) -> torch.Tensor:
        """One clip's MFCC, augmented from its own stream (seed, epoch, index, 1): the video's
        draws are the same with or without audio augmentation."""
        if self.audio_augment == "none":
            return mfcc
        rng = np.random.default_rng([self.seed, self.epoch, i, 1])
        return augment_mfcc(mfcc, rng, audio_augment_parts(self.audio_augment))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clip_ids)


class ClipDataset(_EpochDraws):
    """Items: video uint8 (3, T, S, S), audio float32 (13, 212), label int64, clip_id, actor, gender,
    intensity (-1 if unknown). Augmentation draws are a function of (seed, epoch, index), so a run is
    reproducible whatever the number of loader workers; call `set_epoch` each epoch.

    `defer_crop=True` (clip mode only) draws the same crop but leaves the pixels alone and returns the
    box as `crop`; `transforms.crop_batch` applies it on the device, which keeps the loader's CPU
    work to reading arrays (the crop/resize of 30 frames is most of a loader's time)."""

    def __init__(self, cache: ClipCache, clip_ids=None, *, augment: str = "clip", seed: int = 0,
                 defer_crop: bool = False, video: bool = True, audio_augment: str = "none",
                 speaker_norm: dict | None = None):
        _check_augment(augment)
        self.speaker_norm = speaker_norm  # actor -> (mean, std) of shape (13, 1): see speaker_mfcc_stats
        self.audio_augment = _checked_audio_augment(audio_augment)
        self.cache = cache
        # No video (an audio-only cache, or a model that needs none): "video" is an empty
        # (3, 0, 0, 0) tensor, which collates and moves like a real one, and nothing is read.
        self.video = video and "video" in cache.modalities
        self.records = _records(cache, clip_ids)
        self.clip_ids = [r["clip_id"] for r in self.records]
        self.augment = augment
        self.defer_crop = defer_crop and augment == "clip"
        self.seed = seed
        self.epoch = 0

    @property
    def labels(self) -> list[int]:
        return [r["label"] for r in self.records]

    def __getitem__(self, i: int) -> dict:
        rec = self.records[i]
        video, mfcc = self.cache.load(rec["clip_id"], video=self.video)
        extra = {}
        if video is None:
            video = NO_VIDEO
        else:
            video = torch.from_numpy(np.array(video)).permute(3, 0, 1, 2)  # copy out of the mmap; (3, T, S, S)
            rng = np.random.default_rng([self.seed, self.epoch, i])
            if self.defer_crop:
                extra["crop"] = torch.tensor(draw_crop(video.shape[-1], rng), dtype=torch.int64)
            else:
                video = augment_video(video, self.augment, rng).contiguous()
        audio = torch.from_numpy(np.asarray(mfcc, dtype=np.float32))
        if self.speaker_norm is not None:
            mean, std = self.speaker_norm[int(rec["actor"])]
            audio = (audio - mean) / std
        return {
            **extra,
            "video": video,
            "audio": self._audio(audio, i),
            "label": torch.tensor(rec["label"], dtype=torch.int64),
            "clip_id": rec["clip_id"],
            "actor": rec["actor"],
            "gender": rec["gender"],
            "intensity": -1 if rec.get("intensity") is None else rec["intensity"],
        }


def _checked_audio_augment(audio_augment: str) -> str:
    audio_augment_parts(audio_augment)  # ValueError naming an unknown part
    return audio_augment


def _check_augment(augment: str) -> None:
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be 'clip', 'frame' or 'none', got {augment!r}")


def _records(cache: ClipCache, clip_ids) -> list[dict]:
    """The cached records of `clip_ids`, in that order (all of them, sorted, for None); only these
    clips' JSONs are read, not the whole cache's."""
    if clip_ids is None:
        return cache.records()
    clip_ids = list(clip_ids)
    missing = [c for c in clip_ids if not cache.has(c)]
    if missing:
        raise KeyError(f"{len(missing)} clips not in the cache, e.g. {missing[0]}")
    return [cache.record(c) for c in clip_ids]


# ------------------------------------------------------------------------------ preloaded clips


@dataclass
class ClipStore:
    """Clips read once from the cache into tensors on one device (row k = `records[k]`)."""

    video: torch.Tensor  # uint8 (N, 3, T, S, S)
    audio: torch.Tensor  # float32 (N, 13, F)
    label: torch.Tensor  # int64 (N,), as are actor and intensity (-1 if unknown)
    actor: torch.Tensor
    intensity: torch.Tensor
    records: list[dict]

    def rows(self, clip_ids) -> list[int]:
        row = {r["clip_id"]: k for k, r in enumerate(self.records)}
        missing = [c for c in clip_ids if c not in row]
        if missing:
            raise KeyError(f"{len(missing)} clips not preloaded, e.g. {missing[0]}")
        return [row[c] for c in clip_ids]


def store_bytes(cache: ClipCache, clip_ids, video: bool = True) -> int:
    """Device memory a ClipStore of these clips takes (every clip has the cache's shapes)."""
    frames, mfcc = cache.load(clip_ids[0], video=video)
    return len(clip_ids) * ((0 if frames is None else frames.nbytes) + mfcc.size * 4)


def load_store(cache: ClipCache, clip_ids, device: torch.device | str = "cpu", video: bool = True) -> ClipStore:
    """Read every clip once into one uint8 video tensor and one float32 MFCC tensor on `device`.
    Clips are copied one at a time, so host memory never holds more than one clip. Without video
    (audio-only cache or model) the video tensor is (N, 3, 0, 0, 0)."""
    records = _records(cache, clip_ids)
    first, _ = cache.load(records[0]["clip_id"], video=video)
    t, s, _, c = (0, 0, 0, 3) if first is None else first.shape
    video = torch.empty((len(records), c, t, s, s), dtype=torch.uint8, device=device)
    mfccs = []
    for k, rec in enumerate(records):
        clip, mfcc = cache.load(rec["clip_id"], video=first is not None)
        if clip is not None:
            video[k].copy_(torch.from_numpy(np.array(clip)).permute(3, 0, 1, 2))
        mfccs.append(np.asarray(mfcc, dtype=np.float32))

    def ints(values):
        return torch.tensor(values, dtype=torch.int64, device=device)

    return ClipStore(
        video=video,
        audio=torch.from_numpy(np.stack(mfccs)).to(device),
        label=ints([r["label"] for r in records]),
        actor=ints([r["actor"] for r in records]),
        intensity=ints([-1 if r.get("intensity") is None else r["intensity"] for r in records]),
        records=records,
    )


class PreloadedClips(_EpochDraws):
    """ClipDataset's batches, gathered by index from a ClipStore on its device.

    `__getitems__` (what torch's DataLoader calls with a batch's indices) returns the collated
    batch, with the same keys and types as a collated ClipDataset batch; use it with
    `num_workers=0` and `collate_fn=pass_batch`. Augmentation is drawn exactly as ClipDataset
    draws it (rng of (seed, epoch, index), same `draw_crop`) and applied on the store's device."""

    def __init__(self, store: ClipStore, clip_ids, *, augment: str = "clip", seed: int = 0, audio_augment: str = "none"):
        _check_augment(augment)
        self.audio_augment = _checked_audio_augment(audio_augment)
        self.store = store
        self.clip_ids = list(clip_ids)
        self.rows = store.rows(self.clip_ids)
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def __getitem__(self, i: int) -> dict:
        """One clip, keyed and typed as a ClipDataset item (the DataLoader calls __getitems__)."""
        batch = self.__getitems__([i])
        return {k: v[0] for k, v in batch.items()}

    def __getitems__(self, indices: list[int]) -> dict:
        s = self.store
        rows = _index_tensor([self.rows[i] for i in indices], s.video.device)
        records = [s.records[self.rows[i]] for i in indices]
        return {
            "video": self._augment(s.video.index_select(0, rows), indices),
            "audio": self._audio_batch(s.audio.index_select(0, rows), indices),
            "label": s.label.index_select(0, rows),
            "clip_id": [r["clip_id"] for r in records],
            "actor": s.actor.index_select(0, rows),
            "gender": [r["gender"] for r in records],
            "intensity": s.intensity.index_select(0, rows),
        }

    def _audio_batch(self, audio: torch.Tensor, indices: list[int]) -> torch.Tensor:
        if self.audio_augment == "none":
            return audio
        return torch.stack([self._audio(a.cpu(), i) for a, i in zip(audio, indices)]).to(audio.device)

    def _augment(self, video: torch.Tensor, indices: list[int]) -> torch.Tensor:
        if self.augment == "none" or video.shape[2] == 0:  # no video stored
            return video
        rngs = [np.random.default_rng([self.seed, self.epoch, i]) for i in indices]
        if self.augment == "clip":
            return crop_batch(video, [draw_crop(video.shape[-1], rng) for rng in rngs])
        return torch.stack([augment_video(v, "frame", rng) for v, rng in zip(video, rngs)])


def speaker_mfcc_stats(cache: ClipCache) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Per-speaker normalisation statistics: for every actor of the cache, the per-coefficient mean
    and std over all frames of all its clips, labels unused. For a test actor these come from the
    test clips themselves (unlabelled): transductive, reported apart from inductive figures."""
    sums: dict[int, list] = {}
    for rec in cache.records():
        mfcc = np.asarray(cache.load(rec["clip_id"], video=False)[1], dtype=np.float64)
        acc = sums.setdefault(int(rec["actor"]), [0, 0.0, 0.0])
        acc[0] += mfcc.shape[1]
        acc[1] = acc[1] + mfcc.sum(axis=1)
        acc[2] = acc[2] + (mfcc ** 2).sum(axis=1)
    stats = {}
    for actor, (n, s1, s2) in sums.items():
        mean = s1 / n
        std = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0)).clip(min=1e-6)
        stats[actor] = (torch.tensor(mean, dtype=torch.float32)[:, None], torch.tensor(std, dtype=torch.float32)[:, None])
    return stats


def normalise_store_audio(store: ClipStore, stats: dict) -> None:
    """Apply `speaker_mfcc_stats` to a preloaded store in place (each row by its actor's)."""
    actors = store.actor.tolist()
    mean = torch.stack([stats[a][0] for a in actors]).to(store.audio.device)
    std = torch.stack([stats[a][1] for a in actors]).to(store.audio.device)
    store.audio = (store.audio - mean) / std


def pass_batch(batch: dict) -> dict:
    """collate_fn for PreloadedClips: its batches arrive collated."""
    return batch


def _index_tensor(rows: list[int], device: torch.device) -> torch.Tensor:
    index = torch.tensor(rows, dtype=torch.int64)
    if device.type != "cuda":
        return index.to(device)
    # Pinned + non_blocking: a pageable copy would wait for every queued training kernel.
    return index.pin_memory().to(device, non_blocking=True)
