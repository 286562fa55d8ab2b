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


# settings that may differ between the cache a checkpoint was trained on and one it scores: what the
# cache holds, and whether short clips were padded (CREMA-D needs it, RAVDESS does not)
CROSS_CORPUS_FREE = ("modalities", "short_clip")


def score_clips(stem, cache, clip_ids=None, *, batch_size: int = 16, device: torch.device | str = "cpu") -> dict:
    """A checkpoint's predictions and scores on a cache's clips (default: all), in the model's label
    space: each clip's label is mapped onto the model's class of the same name (data.labels.label_map),
    so a run trained on RAVDESS (8 classes) scores a CREMA-D cache (its 6 classes are among them).
    A corpus class the model lacks is a ConfigError naming it, and so are preprocessing settings
    that differ beyond CROSS_CORPUS_FREE. Returns {"labels", "metrics", "predictions"}."""
    from avemotion.config import PreprocessConfig
    from avemotion.data.labels import label_map, recorded_labels
    from avemotion.errors import ConfigError
    from avemotion.evaluation.metrics import score_predictions
    from avemotion.models.checkpoint import load_checkpoint
    from avemotion.models.registry import check_input_contract, uses_video

    model, meta = load_checkpoint(stem)
    check_input_contract(meta["model"], cache.config)
    trained = PreprocessConfig.from_dict(meta["preprocess"]).to_dict()
    differs = [k for k, v in cache.config.to_dict().items() if k not in CROSS_CORPUS_FREE and trained.get(k) != v]
    if differs:
        raise ConfigError(f"{cache.path}: prepared with other settings than {stem} ({', '.join(differs)})")
    names = recorded_labels(meta)
    mapping = label_map(cache.labels, names)
    loader = cached_clip_loader(cache, list(clip_ids) if clip_ids is not None else cache.clip_ids(), batch_size,
                                video=uses_video(model))
    preds = predict_cached(model, loader, device)
    for p in preds:
        p["label"] = mapping[p["label"]]
    return {"labels": list(names), "metrics": score_predictions(preds, names=names), "predictions": preds}
