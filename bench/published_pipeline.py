"""A faithful re-creation of the published CFN-SR/MSAF data path, used only as a benchmark baseline.

What it reproduces (SPEC sections 2 and 5): 30 JPEG files per clip on disk, each opened with PIL,
augmented per frame (random resized crop of scale 0.8-1.4 and a horizontal flip drawn for every
frame), converted to a float tensor and normalised frame by frame, then stacked. Training runs in
fp32 with cuDNN disabled (see bench_train.py). It is written from the description, not copied.
"""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def write_jpeg_layout(cache, clip_ids, out_dir: Path) -> Path:
    """Write each cached clip as `out_dir/<clip_id>/frame_XX.jpg` (what the published prep saved)."""
    out_dir = Path(out_dir)
    for clip_id in clip_ids:
        folder = out_dir / clip_id
        if folder.exists():
            continue
        folder.mkdir(parents=True)
        video, _ = cache.load(clip_id)
        for i, frame in enumerate(np.asarray(video)):
            cv2.imwrite(str(folder / f"frame_{i:02d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return out_dir


def _random_resized_crop(img: Image.Image, size: int) -> Image.Image:
    # Scale 0.8-1.4 of the area as in the published transform; a box larger than the image is clipped.
    w, h = img.size
    area = w * h * random.uniform(0.8, 1.4)
    side = min(int(round(area**0.5)), w, h)
    x0 = random.randint(0, w - side)
    y0 = random.randint(0, h - side)
    return img.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side))


class PublishedJpegDataset(torch.utils.data.Dataset):
    """30 JPEGs per clip, per-frame PIL transforms, per-frame normalisation."""

    def __init__(self, jpeg_dir: Path, cache, clip_ids, frame_size: int, train: bool = True):
        self.jpeg_dir = Path(jpeg_dir)
        self.cache = cache
        self.clip_ids = list(clip_ids)
        self.frame_size = frame_size
        self.train = train
        self.labels = {r["clip_id"]: r["label"] for r in cache.records()}

    def __len__(self) -> int:
        return len(self.clip_ids)

    def _frame(self, path: Path) -> torch.Tensor:
        img = Image.open(path).convert("RGB")
        if self.train:
            img = _random_resized_crop(img, self.frame_size)
            if random.random() < 0.5:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
        else:
            img = img.resize((self.frame_size, self.frame_size), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (x - MEAN) / STD

    def __getitem__(self, i: int):
        clip_id = self.clip_ids[i]
        frames = sorted((self.jpeg_dir / clip_id).glob("*.jpg"))
        video = torch.stack([self._frame(p) for p in frames], dim=1)  # (3, T, H, W)
        _, mfcc = self.cache.load(clip_id)
        return {"video": video, "audio": torch.from_numpy(np.array(mfcc)), "label": self.labels[clip_id]}
