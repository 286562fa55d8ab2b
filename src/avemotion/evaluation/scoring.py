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


def score_clips(stem, cache, clip_ids=None, *, records: list[dict] | None = None, batch_size: int = 16,
                device: torch.device | str = "cpu", speaker_norm: dict | None = None) -> dict:
    """A checkpoint's predictions and scores on a cache's clips (default: all), on the classes the
    model and the corpus share by name (data.labels.shared_labels): a RAVDESS run (8 classes) scores
    CREMA-D's 6 or IEMOCAP's 4, a CREMA-D run scores RAVDESS's clips of its 6 classes.
    Clips of a class the model lacks are left out and counted (`left_out`); the model chooses among
    the shared classes only (its probabilities renormalised over them), and `outside` counts the
    clips its unrestricted choice would have put in a class the corpus lacks. Preprocessing settings
    that differ beyond CROSS_CORPUS_FREE are a ConfigError. `records`: the cache's records when the
    caller has read them (cache.records()). Returns {"labels" (the shared names), "model_labels",
    "left_out", "outside", "metrics", "predictions"}."""
    from collections import Counter

    from avemotion.config import PreprocessConfig
    from avemotion.data.labels import recorded_labels, shared_labels
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
    shared = shared_labels(cache.labels, names)
    wanted = set(clip_ids) if clip_ids is not None else None
    chosen = [r for r in (cache.records() if records is None else records) if wanted is None or r["clip_id"] in wanted]
    left_out = Counter(cache.labels[r["label"]] for r in chosen if cache.labels[r["label"]] not in shared)
    kept = [r["clip_id"] for r in chosen if cache.labels[r["label"]] in shared]
    loader = cached_clip_loader(cache, kept, batch_size, video=uses_video(model), speaker_norm=speaker_norm)
    preds = [_on_shared(p, cache.labels, names, shared) for p in predict_cached(model, loader, device)]
    return {"labels": list(shared), "model_labels": list(names), "left_out": dict(sorted(left_out.items())),
            "outside": sum(p.pop("outside") for p in preds),
            "metrics": score_predictions(preds, names=shared), "predictions": preds}


def _on_shared(row: dict, corpus: tuple, model: tuple, shared: tuple) -> dict:
    """A prediction row in the shared label space: label and probabilities of the shared classes."""
    probs = [row["probs"][model.index(n)] for n in shared]
    total = sum(probs) or 1.0
    probs = [round(p / total, 6) for p in probs]
    outside = model[row["pred"]] not in shared
    return {**row, "label": shared.index(corpus[row["label"]]), "pred": max(range(len(probs)), key=probs.__getitem__),
            "probs": probs, "outside": int(outside)}
