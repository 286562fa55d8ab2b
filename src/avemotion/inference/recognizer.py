"""`Recognizer`: a trained run (one fold or a fold ensemble) applied to any video file.

    rec = Recognizer.from_run("runs/cfn_sr", ensemble=True)
    result = rec.predict("clip.mp4")          # Prediction, or Timeline for a long video
    for result in rec.predict_many(paths):    # Prediction | Timeline | FileError per file
        ...
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np
import torch

from avemotion.config import PreprocessConfig
from avemotion.data.labels import recorded_labels
from avemotion.errors import ConfigError, InputError
from avemotion.inference import features
from avemotion.inference.results import FileError, Prediction, Result, Timeline
from avemotion.inference.runs import UNIMODAL_STAGES, RunInfo, choose_folds, read_run, resolve_preprocess
from avemotion.inference.windows import check_window, is_long, plan_windows, pool_up_to, smooth_probs
from avemotion.models.base import class_probabilities
from avemotion.models.checkpoint import checkpoint_exists, load_checkpoint
from avemotion.models.registry import check_input_contract

MISSING_DETAIL = {"audio": "no audio stream", "video": "no face found"}
NO_VIDEO = "no video stream (audio-only file?)"


def fallback_possible(reason: str, detail: str) -> bool:
    """Whether a file refused for this reason would have been predicted from its other modality
    with `allow_missing` (the hint the CLI gives)."""
    return reason in ("no_audio", "no_face") or detail == NO_VIDEO


def check_readable(path: Path) -> None:
    """InputError(unreadable) for a path the decoder must not open: missing, a folder, a pipe or a
    device (opening a FIFO waits for a writer forever), or a file this user may not read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(path, "unreadable", "file not found") from None
    except OSError as err:
        raise InputError(path, "unreadable", f"cannot read file ({err.strerror or err})") from None
    if stat.S_ISDIR(mode):
        raise InputError(path, "unreadable", "cannot read file (Is a directory)")
    if not stat.S_ISREG(mode):
        raise InputError(path, "unreadable", "cannot read file (not a regular file: a pipe, socket or device)")
    if not os.access(path, os.R_OK):
        raise InputError(path, "unreadable", "cannot read file (Permission denied)")


class Recognizer:
    def __init__(self, run: RunInfo, folds: list[int], cfg: PreprocessConfig, *, device: str = "cpu",
                 allow_missing: bool = False, window: float = 3.0, hop: float = 1.0, smooth: int = 1, batch_size: int = 8):
        check_window(window, hop, cfg.min_duration, cfg.short_clip == "pad")
        if smooth < 1:
            raise ConfigError(f"--smooth must be >= 1, got {smooth}")
        self.run, self.folds, self.cfg, self.device = run, folds, cfg, device
        self.allow_missing, self.window, self.hop, self.smooth = allow_missing, window, hop, smooth
        self.batch_size = batch_size
        self.pool_up_to = pool_up_to(cfg.audio_window)  # files up to this long: one answer pooled over windows
        self.modalities = _stage_modalities(run.model)
        self._models: dict[str, list[torch.nn.Module]] = {}
        self._load(run.model)  # the main models load now so that a broken run fails before any file

    @classmethod
    def from_run(cls, path: str | Path, *, model: str | None = None, fold: int | None = None, ensemble: bool = False,
                 device: str = "cpu", allow_missing: bool = False, pad_short: bool | None = True,
                 preprocess: Mapping | PreprocessConfig | None = None, window: float = 3.0, hop: float = 1.0,
                 smooth: int = 1, batch_size: int = 8, detector: str | None = None,
                 onnx: str | Path | None = None) -> "Recognizer":
        """Load a run; `model` picks one when the run folder holds several, `fold`/`ensemble` the
        checkpoints (default: the best-validated fold). `pad_short`: a clip shorter than the model's
        audio window is zero-padded to it, with a note in the prediction (True, the default), or
        refused as too_short (False); None keeps the run's recorded policy. Any other difference
        between `preprocess` (settings you expect, whole or partial) and the run's preprocessing is a
        ConfigError. `detector` picks the face detector for videos without landmarks (default: the
        crop rule the run was trained with, features.predict_detector). `onnx`: a model written by `avemotion export` from this run runs
        the forward pass through onnxruntime (its fold; unimodal fallbacks stay PyTorch)."""
        run = read_run(path, model)
        if run.record.mfcc_norm == "speaker":
            raise ConfigError(f"{path}: trained with per-speaker MFCC normalisation (--mfcc-norm speaker), which needs "
                              f"the statistics of the speaker's other clips; predict supports runs without it")
        exported = None
        if onnx is not None:
            from avemotion.inference import export

            exported = export.read_export(onnx)
            if ensemble or (fold is not None and fold != exported.get("fold")):
                raise ConfigError(f"{onnx}: holds fold {exported.get('fold')} only (no --ensemble, no other --fold)")
            fold = exported.get("fold")
        folds = choose_folds(run, fold, ensemble)
        short_clip = None if pad_short is None else ("pad" if pad_short else "error")
        if detector is None and isinstance(preprocess, Mapping):
            detector = preprocess.get("detector")  # --preprocess detector=X: as --detector X
        cfg = resolve_preprocess(run.checkpoint_metas(), preprocess, short_clip,
                                 detector or features.predict_detector(run))
        features.check_detector(cfg)
        rec = cls(run, folds, cfg, device=device, allow_missing=allow_missing, window=window, hop=hop,
                  smooth=smooth, batch_size=batch_size)
        if exported is not None:
            export.check_export(exported, Path(onnx), run.model, cfg)
            rec._models[run.model] = [export.OnnxModel(onnx, rec.modalities)]
        return rec

    @staticmethod
    def pretrained(name: str | None = None):
        """The voice model that ships with avemotion (`name`, default `pretrained.DEFAULT_VOICE`),
        checksum-verified: a `VoiceRecognizer` for any audio or video file (inference/pretrained.py)."""
        from avemotion.inference.pretrained import get_weights

        return get_weights(name).load()

    # --- models -------------------------------------------------------------------------------

    def _load(self, stage: str) -> list[torch.nn.Module]:
        if stage not in self._models:
            models = []
            for k in self.folds:
                model, meta = load_checkpoint(self.run.stem(k, stage), map_location=self.device)
                self.labels = getattr(self, "labels", None) or recorded_labels(meta)  # the run's class names
                check_input_contract(meta["model"], PreprocessConfig.from_dict(meta["preprocess"]),
                                     what=f"the preprocessing of {self.run.stem(k, stage)}")
                models.append(model.to(self.device).eval())  # the factory builds on CPU; load_state_dict keeps it there
            self._models[stage] = models
        return self._models[stage]

    def _stage_for(self, modalities: tuple[str, ...]) -> str:
        return self.run.model if modalities == self.modalities else modalities[0]

    def can_use(self, modalities: tuple[str, ...]) -> bool:
        """Whether the run can predict from these modalities (the main model, or a fallback
        unimodal checkpoint present for every selected fold)."""
        if modalities == self.modalities:
            return True
        return (self.allow_missing and len(modalities) == 1 and modalities[0] in UNIMODAL_STAGES
                and all(checkpoint_exists(self.run.stem(k, modalities[0])) for k in self.folds))

    @torch.inference_mode()
    def probabilities(self, arrays: list, modalities: tuple[str, ...]) -> np.ndarray:
        """(N, C) class probabilities, averaged over the selected folds' models."""
        models = self._load(self._stage_for(modalities))
        out = []
        for i in range(0, len(arrays), self.batch_size):
            video, audio = features.to_batch(arrays[i : i + self.batch_size], modalities, self.device)
            probs = [class_probabilities(m(video, audio), self.run.path) for m in models]
            out.append(torch.stack(probs).mean(0).cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    # --- prediction ---------------------------------------------------------------------------

    def predict(self, path: str | Path, *, landmarks: str | Path | None = None, on_windows=None) -> Prediction | Timeline:
        """A short video gives one Prediction, a long one a Timeline (up to `pool_up_to` s: one
        Prediction pooled over its windows); a bad file raises InputError. `on_windows(done, total)`
        is called as a timeline's windows are predicted (progress)."""
        path = Path(path)
        check_readable(path)
        info = features.probe(path)
        modalities, notes = self._available(path, info)
        if not is_long(info.duration, self.window):
            arrays, used = self._arrays(path, info, None, landmarks, modalities)
            if used[0] != modalities:
                notes.append(f"{MISSING_DETAIL['video']}; predicted from audio only")
            a = arrays[0]
            if a.padded and self.cfg.audio_window == "paper":
                notes.append(padded_note(info.duration, self.cfg.min_duration))
            return Prediction.from_probs(self.probabilities(arrays, used[0])[0], used[0], a.start, a.end, str(path), notes,
                                         names=self.labels)
        timeline = self._predict_timeline(path, info, modalities, notes, landmarks, on_windows)
        return self._pooled(timeline) if info.duration <= self.pool_up_to else timeline

    def _pooled(self, timeline: Timeline) -> Prediction:
        """One answer for an utterance longer than a window: the mean of its windows' probabilities."""
        probs = np.mean([w.probs_array() for w in timeline.windows], axis=0)
        note = f"pooled over {len(timeline.windows)} windows of {self.window:g} s"
        return Prediction.from_probs(probs, timeline.modalities, 0.0, timeline.duration, timeline.file,
                                     timeline.notes + (note,), names=self.labels)

    def _available(self, path: Path, info) -> tuple[tuple[str, ...], list[str]]:
        """The modalities the file has, after falling back (if allowed) from a missing stream."""
        modalities, notes = self.modalities, []
        if not info.has_video and "video" in modalities:
            if not (self.allow_missing and info.has_audio):
                raise InputError(path, "not_video", NO_VIDEO)
            modalities = self._fall_back(path, modalities, "video", NO_VIDEO, code="not_video")
            notes.append("no video stream; predicted from audio only")
        if "audio" in modalities and not info.has_audio:
            modalities = self._fall_back(path, modalities, "audio")
            notes.append(f"{MISSING_DETAIL['audio']}; predicted from video only")
        return modalities, notes

    def _fall_back(self, path: Path, modalities: tuple[str, ...], missing: str, detail: str | None = None,
                   code: str | None = None) -> tuple[str, ...]:
        """The modalities left when `missing` is absent, or the InputError saying why not."""
        remaining = tuple(m for m in modalities if m != missing)
        code = code or ("no_audio" if missing == "audio" else "no_face")
        if not remaining or not self.can_use(remaining):
            raise InputError(path, code, detail or MISSING_DETAIL[missing])
        return remaining

    def _arrays(self, path, info, spans, landmarks, modalities) -> tuple[list, list[tuple[str, ...]]]:
        """Preprocessed arrays of the whole clip (spans None) or of windows, and the modalities each
        holds: a clip or window without a face falls back to audio (if allowed), else no_face."""
        try:
            arrays = features.extract(path, self.cfg, info, spans, landmarks, modalities)
        except InputError as err:
            if err.code == "too_short":
                raise InputError(path, err.code, api_names(err.detail)) from None
            if err.code != "no_face" or "video" not in modalities:
                raise
            remaining = self._fall_back(path, modalities, "video", err.detail)
            arrays = features.extract(path, self.cfg, info, spans, landmarks, remaining)
            return arrays, [remaining] * len(arrays)
        used = [modalities] * len(arrays)
        faceless = [j for j, a in enumerate(arrays) if isinstance(a, InputError)]  # windows without a face
        if faceless:
            start, end = spans[faceless[0]]
            detail = f"no face found in {len(faceless)} of {len(arrays)} windows (first: {start:.1f}-{end:.1f} s)"
            remaining = self._fall_back(path, modalities, "video", detail)
            for j, a in zip(faceless, features.extract(path, self.cfg, info, [spans[j] for j in faceless], landmarks, remaining)):
                arrays[j], used[j] = a, remaining
        return arrays, used

    def _predict_timeline(self, path, info, modalities, notes, landmarks, on_windows=None) -> Timeline:
        spans = plan_windows(info.duration, self.window, self.hop)
        probs, used = [], []
        # windows go to the data layer in chunks: it holds the face crops of a whole call in memory
        step = features.windows_per_call(info, self.cfg, self.window, self.hop)
        for i in range(0, len(spans), step):
            arrays, chunk_used = self._arrays(path, info, spans[i : i + step], landmarks, modalities)
            probs.append(self._probabilities_by_modality(arrays, chunk_used))
            used += chunk_used
            if on_windows is not None:
                on_windows(len(used), len(spans))
        faceless = sum(u != modalities for u in used)
        if faceless:
            notes.append(f"{MISSING_DETAIL['video']} in {faceless} of {len(spans)} windows; those predicted from audio only")
        return self._timeline(path, info, spans, np.concatenate(probs), used, notes)

    def _probabilities_by_modality(self, arrays: list, used: list[tuple[str, ...]]) -> np.ndarray:
        """Probabilities of windows that may hold different modalities (a window without a face)."""
        out = None
        for modalities in dict.fromkeys(used):
            rows = [j for j, u in enumerate(used) if u == modalities]
            probs = self.probabilities([arrays[j] for j in rows], modalities)
            out = np.zeros((len(arrays), probs.shape[1])) if out is None else out
            out[rows] = probs
        return out

    def _timeline(self, path, info, spans, probs, used, notes) -> Timeline:
        def preds(rows):
            return [Prediction.from_probs(p, u, s, e, names=self.labels) for p, u, (s, e) in zip(rows, used, spans)]

        smoothed = preds(smooth_probs(probs, self.smooth)) if self.smooth > 1 else None
        return Timeline(windows=preds(probs), smoothed=smoothed, smooth=self.smooth, window=self.window,
                        hop=self.hop, duration=info.duration, file=str(path), notes=tuple(notes))

    def predict_many(self, paths: Iterable[str | Path], *, progress: bool = True,
                     landmarks: Mapping[str, str | Path] | None = None) -> Iterator[Result]:
        """Yield one result per path, in order; a bad file yields a FileError and the rest go on.
        `landmarks` maps a video path (as given) to its landmark CSV. The progress bar counts files,
        and the windows of a long video as they are done."""
        paths = [str(p) for p in paths]
        with _progress(progress, len(paths)) as bar:
            for path in paths:
                yield self._predict_or_error(path, (landmarks or {}).get(path), bar.windows(path))
                bar.advance()

    def _predict_or_error(self, path: str, landmarks, on_windows=None) -> Result:
        import av

        try:
            return self.predict(path, landmarks=landmarks, on_windows=on_windows)
        except InputError as err:
            return FileError(path, err.code, err.detail)
        except av.error.FFmpegError as err:  # a decoder failure the data layer did not classify
            return FileError(path, "corrupt", f"cannot decode ({err})")

    def describe(self) -> dict:
        """What the outputs were produced with (goes into the JSON document)."""
        return {"run": str(self.run.path), "model": self.run.model, "folds": list(self.folds),
                "ensemble": len(self.folds) > 1, "preprocess": self.cfg.to_dict()}


def padded_note(duration: float, window: float) -> str:
    """The note of a prediction whose clip was shorter than the model's audio window."""
    return (f"clip is {duration:.2f} s, shorter than the model's {window:.2f} s window: its audio was zero-padded "
            f"to {window:.2f} s (--no-pad-short / pad_short=False refuses such clips)")


def api_names(detail: str) -> str:
    """A data-layer message naming the CLI flag, with the keyword argument of the Python API beside it."""
    return detail.replace("--pad-short", "--pad-short / pad_short=True")


def _stage_modalities(stage: str) -> tuple[str, ...]:
    from avemotion.models.registry import model_info

    return tuple(model_info(stage).modalities)


class _progress:
    """A rich progress bar on stderr (or nothing): `advance()` counts files, `windows(path)` gives
    the callback that shows how far a long video's windows are."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.bar = enabled, total, None
        self.files = self.current = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.files = self.bar.add_task("predicting", total=self.total)
        return self

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.files)
            if self.current is not None:
                self.bar.remove_task(self.current)
                self.current = None

    def windows(self, path: str):
        if self.bar is None:
            return None

        def update(done: int, total: int) -> None:
            if self.current is None:
                self.current = self.bar.add_task(f"windows of {Path(path).name}", total=total)
            self.bar.update(self.current, completed=done)

        return update

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
