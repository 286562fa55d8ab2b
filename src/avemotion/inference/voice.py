"""Emotion from a voice: any audio or video file, any length, with a voice model (models/voice.py).

The file's audio track is decoded at the model's rate, silence is trimmed and the level set exactly as
in training (data/voice.py: `load_utterance`), the speech is cut into the model's windows and their
probabilities are averaged: one Prediction per file, whose notes say which model spoke, on how much
speech, and what was done to the input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from avemotion.data.voice import VoiceConfig, load_utterance, window_starts
from avemotion.errors import InputError
from avemotion.inference.results import FileError, Prediction
from avemotion.models.base import class_probabilities
from avemotion.models.voice import model_windows
from avemotion.models.voice_weights import load_voice_model


class VoiceRecognizer:
    def __init__(self, model: torch.nn.Module, meta: dict, *, name: str | None = None):
        self.model, self.meta = model.eval(), meta
        self.cfg = VoiceConfig.from_dict(meta["voice"])
        self.labels = tuple(meta["labels"])
        self.name = name or meta.get("name") or meta["model"]

    @classmethod
    def from_file(cls, stem: str | Path) -> "VoiceRecognizer":
        model, meta = load_voice_model(stem)
        return cls(model, meta)

    @torch.inference_mode()
    def probabilities(self, wave: np.ndarray) -> np.ndarray:
        """Class probabilities of level-normalised speech: the mean over what the model sees of it."""
        ws, lengths = model_windows(self.model, wave, self.cfg)
        logits = self.model(torch.from_numpy(ws), torch.from_numpy(lengths))
        return class_probabilities(logits, self.meta.get("name") or self.model.voice_name).mean(0).numpy().astype(np.float64)

    def predict(self, path: str | Path) -> Prediction:
        """One Prediction for the file; InputError for a file without usable speech."""
        utt = load_utterance(path, self.cfg)
        probs = self.probabilities(utt.wave)
        return Prediction.from_probs(probs, ("audio",), utt.speech_start, utt.speech_end, str(path),
                                     self.notes(utt), names=self.labels)

    def notes(self, utt) -> list[str]:
        speech = utt.speech_end - utt.speech_start
        n = len(window_starts(len(utt.wave), self.cfg))
        seen = ("the whole speech" if getattr(self.model, "whole_utterance", False)
                else f"{n} window{'s' if n > 1 else ''} of {self.cfg.window:.0f} s pooled")
        notes = [f"voice model {self.name}" + (f" ({self.meta['licence_short']})" if self.meta.get("licence_short") else ""),
                 f"{speech:.1f} s of speech of {utt.duration:.1f} s; {seen}"]
        if speech < self.cfg.window / 2:
            notes.append(f"short: {speech:.1f} s of speech (less context than the model was trained on)")
        return notes

    def predict_many(self, paths, *, progress: bool = True):
        """Yield one Result per path, in order; a bad file yields a FileError and the rest go on."""
        import av

        from avemotion.inference.recognizer import check_readable

        for path in (str(p) for p in paths):
            try:
                check_readable(Path(path))
                yield self.predict(path)
            except InputError as err:
                yield FileError(path, err.code, err.detail)
            except av.error.FFmpegError as err:
                yield FileError(path, "corrupt", f"cannot decode ({err})")

    def describe(self) -> dict:
        return {"model": self.name, "kind": "voice", "labels": list(self.labels), "voice_hash": self.meta.get("voice_hash"),
                "licence": self.meta.get("licence")}
