"""Predictions of a model on cached clips: what test scoring (training), `evaluate` and the
benchmarks share. Training imports this; nothing here imports training."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from avemotion.data.dataset import ClipDataset
from avemotion.data.transforms import normalize_video


def cached_clip_loader(cache, clip_ids, batch_size: int, num_workers: int = 0, video: bool = True,
                       speaker_norm: dict | None = None) -> DataLoader:
    """Un-augmented, unshuffled batches of these cached clips (`video=False`: none read)."""
    dataset = ClipDataset(cache, list(clip_ids), augment="none", seed=0, video=video, speaker_norm=speaker_norm)
    return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)


@torch.no_grad()
def predict_cached(model: torch.nn.Module, loader, device: torch.device | str = "cpu") -> list[dict]:
    """Per-clip predictions of `model` (eval mode) over a `cached_clip_loader`: clip id, label,
    predicted class, actor, gender, intensity and the class probabilities."""
    model = model.to(device).eval()
    rows = []
    for batch in loader:
        video = normalize_video(batch["video"].to(device))
        probs = model(video, batch["audio"].to(device)).float().softmax(1).cpu()
        rows += [_row(batch, i, probs[i]) for i in range(len(batch["clip_id"]))]
    return rows


def _row(batch: dict, i: int, probs: torch.Tensor) -> dict:
    return {
        "clip_id": batch["clip_id"][i],
        "label": int(batch["label"][i]),
        "pred": int(probs.argmax()),
        "actor": _plain(batch["actor"][i]),
        "gender": batch["gender"][i],
        "intensity": _plain(batch["intensity"][i]),
        "probs": [round(float(p), 6) for p in probs],
    }


def _plain(value):
    return int(value) if isinstance(value, torch.Tensor) else value
