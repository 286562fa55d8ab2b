"""Training a voice model on one or several corpora, with selection on validation speakers only.

A plain PyTorch loop, not the Lightning engine of the audio-video models: a 0.3 M-parameter model on
the CPU gains nothing from DDP or mixed precision, and the loop stays short enough to read whole.
Each epoch draws one random window (`VoiceConfig.window`) per utterance, augments it (voice_augment),
and minimises class-weighted cross-entropy (the classes of emotional corpora are unbalanced and the
figure we select on is UAR). After each epoch the model scores the validation utterances as prediction
does (every window, probabilities averaged); the epoch with the best validation UAR is kept.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from dataclasses import replace as dataclasses_replace

import numpy as np
import torch
from torch.nn import functional as F

from avemotion.data.voice_store import VoiceCorpus
from avemotion.errors import ConfigError
from avemotion.models.voice import create_voice_model, model_windows
from avemotion.training.voice_augment import WaveAugment, spec_augment



@dataclass(frozen=True)
class VoiceTrainConfig:
    model: str = "voice_cnn"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    augment: float = 1.0  # strength: each effect's probability is scaled by it (0: none)
    spec_augment: bool = True
    norm: str | None = None  # voice_cnn's per-utterance band normalisation (models/voice.py NORMS); None: its default
    seed: int = 0
    # functionals models: weight decays tried, each from the same start; the (decay, epoch) with the
    # best validation UAR is kept (a hyper-parameter chosen on validation speakers, never on test
    # ones). Empty: `weight_decay` alone.
    weight_decay_grid: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        doc = asdict(self)
        if not self.weight_decay_grid:  # runs made before the grid existed keep their stage hashes
            del doc["weight_decay_grid"]
        return doc


def label_indices(corpus: VoiceCorpus, labels: tuple[str, ...]) -> np.ndarray:
    index = {n: i for i, n in enumerate(labels)}
    return np.array([index.get(e, -1) for e in corpus.emotions], dtype=np.int64)


def _batch(waves: list[np.ndarray], size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One random window of at most `size` samples per utterance, zero-padded to the longest."""
    pieces = []
    for w in waves:
        start = int(rng.integers(0, len(w) - size + 1)) if len(w) > size else 0
        pieces.append(w[start:start + size])
    width = max(len(p) for p in pieces)
    out = np.zeros((len(pieces), width), np.float32)
    for i, p in enumerate(pieces):
        out[i, :len(p)] = p
    return torch.from_numpy(out), torch.tensor([len(p) for p in pieces])


def train_voice(train: VoiceCorpus, val: VoiceCorpus | None, labels: tuple[str, ...], cfg: VoiceTrainConfig,
                progress=None) -> tuple[torch.nn.Module, list[dict]]:
    """Train on `train`'s utterances whose emotion is in `labels`; keep the epoch with the best UAR on
    `val` (the last epoch when val is None). Returns the model (eval mode) and one row per epoch."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    y = label_indices(train, labels)
    keep = np.flatnonzero(y >= 0)
    model = build_model(cfg, len(labels), train)
    if getattr(model, "whole_utterance", False):
        return _train_on_features(model, train, val, labels, cfg, progress)
    weights = class_weights(y[keep], len(labels))
    steps = cfg.epochs * max(1, int(np.ceil(len(keep) / cfg.batch_size)))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    wave_aug = WaveAugment(train.cfg.sample_rate, g, cfg.augment) if cfg.augment > 0 else None
    feat_aug = spec_augment(g) if cfg.spec_augment else None
    selection = BestEpoch(progress)
    for epoch in range(cfg.epochs):
        started, losses = time.perf_counter(), []
        model.train()
        for idx in np.array_split(rng.permutation(keep), max(1, int(np.ceil(len(keep) / cfg.batch_size)))):
            waves, lengths = _batch([train.waves[i] for i in idx], train.cfg.window_samples, rng)
            if wave_aug is not None:
                waves, lengths = wave_aug(waves, lengths)
            logits = model(waves, lengths, augment=feat_aug)
            loss = F.cross_entropy(logits, torch.from_numpy(y[idx]), weight=weights, label_smoothing=cfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": round(time.perf_counter() - started, 1)}
        if val is not None:
            row["val_uar"] = uar(label_indices(val, labels), predict_probs(model, val).argmax(1), len(labels))
        selection.record(model, row)
    return selection.finish(model)


def class_weights(y: np.ndarray, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights of the cross-entropy (balanced: UAR is the figure selected on)."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    return torch.tensor(len(y) / (num_classes * np.maximum(counts, 1)), dtype=torch.float32)


class BestEpoch:
    """Keeps the weights of the epoch with the best validation UAR (the last epoch without
    validation) and marks it in the history."""

    def __init__(self, progress=None):
        self.progress, self.best, self.history = progress, None, []

    def record(self, model: torch.nn.Module, row: dict) -> None:
        if "val_uar" in row and (self.best is None or row["val_uar"] > self.best[0]):
            self.best = (row["val_uar"], row["epoch"], copy.deepcopy(model.state_dict()))
        self.history.append(row)
        if self.progress:
            self.progress(row)

    def finish(self, model: torch.nn.Module) -> tuple[torch.nn.Module, list[dict]]:
        if self.best is not None:
            model.load_state_dict(self.best[2])
            for row in self.history:
                row["selected"] = row["epoch"] == self.best[1]
        return model.eval(), self.history


def build_model(cfg: VoiceTrainConfig, num_classes: int, corpus: VoiceCorpus) -> torch.nn.Module:
    options = {} if cfg.norm is None else {"norm": cfg.norm}
    try:
        return create_voice_model(cfg.model, num_classes, corpus.cfg, **options)
    except TypeError as err:
        raise ConfigError(f"voice model {cfg.model}: {err}") from None


def _train_on_features(model, train: VoiceCorpus, val: VoiceCorpus | None, labels, cfg: VoiceTrainConfig, progress):
    """A model of fixed per-utterance features (functionals): the features are computed once (and
    cached with the store); the classifier trains on them, standardised with the training statistics.
    With a weight-decay grid (and validation speakers), each decay trains from the same start and
    the (decay, epoch) of the best validation UAR is kept; every row says its decay."""
    y = label_indices(train, labels)
    keep = np.flatnonzero(y >= 0)
    x = torch.from_numpy(utterance_features(model, train))
    model.fit_standardisation(x[keep])
    weights = class_weights(y[keep], len(labels))
    scored = (torch.from_numpy(utterance_features(model, val)), label_indices(val, labels)) if val is not None else None
    decays = cfg.weight_decay_grid if cfg.weight_decay_grid and val is not None else (cfg.weight_decay,)
    start = copy.deepcopy(model.state_dict())
    best, history = None, []
    for decay in decays:
        model.load_state_dict(start)
        selection = BestEpoch(progress)
        _fit_head(model, (x, y, keep, weights), scored, len(labels), dataclasses_replace(cfg, weight_decay=decay), selection)
        for row in selection.history:
            row["weight_decay"] = decay
        if best is None or (selection.best is not None and selection.best[0] > best.best[0]):
            best = selection
        history += selection.history
    model, _ = best.finish(model)  # marks the kept row of its own decay
    if len(decays) > 1:
        for row in history:
            row.setdefault("selected", False)
    return model, history


def _fit_head(model, train: tuple, scored: tuple | None, num_classes: int, cfg: VoiceTrainConfig,
              selection: "BestEpoch") -> None:
    """Epochs of the classifier on fixed features: train = (x, y, kept rows, class weights), scored =
    (validation x, y) or None; every epoch recorded in `selection`."""
    x, y, keep, weights = train
    x_val, y_val = scored if scored is not None else (None, None)
    opt = torch.optim.AdamW(model.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    for epoch in range(cfg.epochs):
        model.train()
        losses = []
        for idx in np.array_split(rng.permutation(keep), max(1, int(np.ceil(len(keep) / cfg.batch_size)))):
            loss = F.cross_entropy(model.classify(x[idx]), torch.from_numpy(y[idx]), weight=weights,
                                   label_smoothing=cfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        row = {"epoch": epoch, "loss": float(np.mean(losses))}
        if x_val is not None:
            model.eval()
            with torch.no_grad():
                row["val_uar"] = uar(y_val, model.classify(x_val).argmax(1).numpy(), num_classes)
        selection.record(model, row)


def utterance_features(model, corpus: VoiceCorpus) -> np.ndarray:
    """The model's per-utterance features of every utterance of `corpus`, cached with its stores."""
    from avemotion.data.voice_store import cached_features

    def compute(waves):
        return np.concatenate([model.features(torch.from_numpy(w[None]), torch.tensor([len(w)])).numpy() for w in waves])

    return cached_features(corpus, model.feature_name(), compute)


@torch.no_grad()
def predict_probs(model: torch.nn.Module, corpus: VoiceCorpus, batch: int = 64) -> np.ndarray:
    """(n, classes): every utterance as the model sees it (models.voice.model_windows: the whole
    speech, or windows whose probabilities are averaged). Utterances are batched by length so that
    padding costs little."""
    model.eval()
    if getattr(model, "whole_utterance", False):
        return torch.softmax(model.classify(torch.from_numpy(utterance_features(model, corpus))), dim=1).numpy()
    cfg = corpus.cfg
    items = []  # (utterance, window wave, length)
    for i, w in enumerate(corpus.waves):
        ws, ls = model_windows(model, w, cfg)
        items += [(i, ws[k, :ls[k]], int(ls[k])) for k in range(len(ws))]
    items.sort(key=lambda t: t[2])
    sums, counts = None, np.zeros(len(corpus))
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        width = max(t[2] for t in chunk)
        waves = torch.zeros(len(chunk), width)
        for j, (_, piece, n) in enumerate(chunk):
            waves[j, :n] = torch.from_numpy(piece)
        probs = torch.softmax(model(waves, torch.tensor([t[2] for t in chunk])), dim=1).numpy()
        if sums is None:
            sums = np.zeros((len(corpus), probs.shape[1]))
        for j, (i, _, _) in enumerate(chunk):
            sums[i] += probs[j]
            counts[i] += 1
    return sums / counts[:, None]


def uar(y: np.ndarray, pred: np.ndarray, num_classes: int) -> float:
    """Unweighted average recall over the classes present in y (y < 0: not scored)."""
    keep = y >= 0
    recalls = [float(np.mean(pred[keep][y[keep] == c] == c)) for c in range(num_classes) if np.any(y[keep] == c)]
    return float(np.mean(recalls)) if recalls else float("nan")
