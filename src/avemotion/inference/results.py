"""Typed results of prediction: one clip, a timeline of windows, or a per-file error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avemotion import EMOTIONS


@dataclass(frozen=True)
class Prediction:
    """One prediction over the span [start, end] seconds of `file`."""

    label: int
    emotion: str
    probabilities: dict[str, float]  # every class of the run (its recorded names), in label order
    modalities: tuple[str, ...]  # ("video", "audio"), or one of them after a fallback
    start: float
    end: float
    file: str | None = None
    notes: tuple[str, ...] = ()  # e.g. "no audio stream; predicted from video only"

    @classmethod
    def from_probs(cls, probs, modalities, start, end, file=None, notes=(), names=EMOTIONS) -> "Prediction":
        """`names`: the run's class names in label order (RAVDESS's 8 for a run that records none)."""
        probs = np.asarray(probs, dtype=np.float64)
        label = int(probs.argmax())
        return cls(
            label=label,
            emotion=names[label],
            probabilities={name: float(p) for name, p in zip(names, probs)},
            modalities=tuple(modalities),
            start=float(start),
            end=float(end),
            file=file,
            notes=tuple(notes),
        )

    @property
    def probability(self) -> float:
        """Probability of the predicted class."""
        return self.probabilities[self.emotion]

    def probs_array(self) -> np.ndarray:
        return np.array(list(self.probabilities.values()))

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "kind": "clip",
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "label": self.label,
            "emotion": self.emotion,
            "probability": self.probability,
            "probabilities": dict(self.probabilities),
            "modalities": list(self.modalities),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Timeline:
    """Predictions over sliding windows of a long video; `smoothed` is None unless smoothing asked."""

    windows: list[Prediction]
    smoothed: list[Prediction] | None = None
    smooth: int = 1
    window: float = 3.0
    hop: float = 1.0
    duration: float = 0.0
    file: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def modalities(self) -> tuple[str, ...]:
        """Every modality used by some window (a window without a face may use audio only)."""
        used = {m for p in self.windows for m in p.modalities}
        return tuple(m for m in ("video", "audio") if m in used)

    @property
    def final(self) -> list[Prediction]:
        """The predictions to show: smoothed where smoothing was asked, raw otherwise."""
        return self.smoothed if self.smoothed is not None else self.windows

    def to_dict(self) -> dict:
        def rows(preds):
            return [{k: v for k, v in p.to_dict().items() if k not in ("file", "kind", "notes")} for p in preds]

        return {
            "file": self.file,
            "kind": "timeline",
            "duration": round(self.duration, 3),
            "window": self.window,
            "hop": self.hop,
            "smooth": self.smooth,
            "modalities": list(self.modalities),
            "notes": list(self.notes),
            "windows": rows(self.windows),
            "smoothed": rows(self.smoothed) if self.smoothed is not None else None,
        }


@dataclass(frozen=True)
class FileError:
    """A file that could not be predicted; `reason` is one of avemotion.errors.REASONS."""

    file: str
    reason: str
    detail: str

    @property
    def message(self) -> str:
        return f"{self.file}: {self.detail}"

    def to_dict(self) -> dict:
        return {"file": self.file, "kind": "error", "error": {"reason": self.reason, "detail": self.detail}}


Result = Prediction | Timeline | FileError
