"""Predictions of a model on cached clips: what test scoring (training), `evaluate` and the
benchmarks share. Training imports this; nothing here imports training."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from avemotion.data.dataset import ClipDataset
from avemotion.data.transforms import normalize_video
from avemotion.models.base import class_probabilities


def pools_over_batch(model) -> bool:
    """Whether a model's prediction depends on its batch mates: CFN-SR's published attention
    ("batch_sum") sums its maps over the batch. Every other model predicts each clip alone
    (tests/evaluation/test_eval_batches.py holds every registered model to that)."""
    return getattr(model, "avemotion_config", {}).get("attention") == "batch_sum"


def shuffled_order(n: int, seed: int, epoch: int = 0) -> list[int]:
    """The order in which a seeded shuffled loader draws n clips at `epoch`: how the published code
    drew its evaluation batches. Sorted RAVDESS clip ids put one emotion in every batch, so a
    batch-pooled attention map would be pooled over clips of the clip's own emotion."""
    gen = torch.Generator().manual_seed(EVAL_SEED + seed * 100_003 + epoch)
    return torch.randperm(n, generator=gen).tolist()


EVAL_SEED = 7_919  # keeps evaluation draws apart from the training shuffle of the same (seed, epoch)


def eval_clip_order(model, clip_ids, seed: int) -> list[str]:
    """The clips in the order they are scored: shuffled (seed) for a batch-pooled model, as given otherwise."""
    clip_ids = list(clip_ids)
    if not pools_over_batch(model):
        return clip_ids
    return [clip_ids[i] for i in shuffled_order(len(clip_ids), seed)]


def cached_clip_loader(cache, clip_ids, batch_size: int, num_workers: int = 0, video: bool = True,
                       speaker_norm: dict | None = None) -> DataLoader:
    """Un-augmented batches of these cached clips in the given order (`video=False`: none read);
    `eval_clip_order` gives the order a model is scored in."""
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
        probs = class_probabilities(model(video, batch["audio"].to(device)), model.avemotion_name).cpu()
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
    kept = eval_clip_order(model, kept, seed=0)  # shuffled only for a batch-pooled model
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
