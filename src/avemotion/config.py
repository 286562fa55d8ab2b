"""Preprocessing settings: one frozen dataclass shared by `prepare`, training and `predict`.

Its hash keys the cache and is stored with every checkpoint, so a changed setting never mixes
with old results and prediction refuses a model trained on other settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from avemotion.registries import detectors as detector_registry
from avemotion.utils.fields import known_fields

CROP_MODES = ("fixed", "legacy")
# Bumped when our own code changes what features a setting produces, so that no cache built before
# mixes with one built after. 2: multichannel audio is the mean of its channels (was FFmpeg's
# downmix, which weights stereo by 1/sqrt(2)).
FEATURE_REVISION = 2
MODALITIES = ("video", "audio")
# The published code's preprocessing (`prepare --legacy`; `train --legacy` refuses a cache without it).
LEGACY_PREPROCESS = {"crop": "legacy", "stft_pad": "reflect"}  # the one definition of the modality names and their order
SHORT_CLIP_POLICIES = ("error", "pad")
# Where the audio window lies in a clip: "paper" = audio_offset s in, audio_duration s long (SPEC 2,
# the reproduction); "speech" = audio_duration s centred on the speech an energy detector finds,
# zero-padded symmetrically when the speech is shorter (data.preprocess.speech_span).
AUDIO_WINDOWS = ("paper", "speech")
# The corpora whose clips the paper's window was made for (a sentence starting about 0.5 s in and
# lasting about 3 s); any other corpus is prepared with the speech window unless told otherwise.
PAPER_WINDOW_DATASETS = ("ravdess",)
# Face detectors: registries.detectors declares them (data.detectors runs them).
STFT_PADS = ("constant", "reflect")


@dataclass(frozen=True)
class PreprocessConfig:
    # video (SPEC 2)
    num_frames: int = 30
    frame_size: int = 224
    crop: str = "fixed"  # fixed: margin + square on the full frame; legacy: published squash/stretch
    margin: float = 0.25  # fraction of the landmark box size added on each side (fixed crop)
    # offline face detector used where no landmark CSV exists, with the major version of its package
    # where it has one (registries.detectors: the recorded form of the default is "<name>@20").
    # Caches made before the default changed name the unversioned OpenCV cascade, hash unchanged.
    detector: str = detector_registry.canonical(detector_registry.DEFAULT)
    # audio (SPEC 2)
    sample_rate: int = 44100
    audio_offset: float = 0.5
    audio_duration: float = 2.45
    n_mfcc: int = 13
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    mfcc_frames: int = 212
    # librosa's centred-STFT padding: "constant" is librosa >= 0.10's default, "reflect" is 0.8's
    # (the published environment) and reproduces its MFCCs
    stft_pad: str = "constant"
    # what to do with clips shorter than audio_offset + audio_duration ("paper" window)
    short_clip: str = "error"
    # where the audio window lies (AUDIO_WINDOWS); "paper" is left out of to_dict() and so of the
    # hash, so every cache and checkpoint made before the field existed keeps its hash
    audio_window: str = "paper"
    # what the cache holds: an audio-only corpus (RAVDESS speech, 03-01-*) is ("audio",); set by
    # `prepare` from the corpus, part of the hash so the two kinds of cache never mix
    modalities: tuple[str, ...] = MODALITIES

    def __post_init__(self):
        if self.crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {CROP_MODES}, got {self.crop!r}")
        if self.stft_pad not in STFT_PADS:
            raise ValueError(f"stft_pad must be one of {STFT_PADS}, got {self.stft_pad!r}")
        if self.short_clip not in SHORT_CLIP_POLICIES:
            raise ValueError(f"short_clip must be one of {SHORT_CLIP_POLICIES}, got {self.short_clip!r}")
        if self.audio_window not in AUDIO_WINDOWS:
            raise ValueError(f"audio_window must be one of {AUDIO_WINDOWS}, got {self.audio_window!r}")
        object.__setattr__(self, "detector", canonical_detector(self.detector))  # "dlib" -> "dlib@20"
        given = list(self.modalities)  # JSON gives a list
        modalities = tuple(m for m in MODALITIES if m in given)  # canonical order
        if not modalities or len(modalities) != len(given):
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {self.modalities!r}")
        object.__setattr__(self, "modalities", modalities)

    @property
    def min_duration(self) -> float:
        """Seconds of audio the window takes before any padding: offset + duration ("paper"), or
        the duration alone ("speech": the window is centred on the speech, no offset)."""
        if self.audio_window == "speech":
            return self.audio_duration
        return self.audio_offset + self.audio_duration

    @property
    def audio_samples(self) -> int:
        return round(self.audio_duration * self.sample_rate)

    def to_dict(self) -> dict:
        """The settings as recorded (cache config.json, checkpoints, run.json) and hashed. The paper
        window is left out: every dict, and so every hash, made before audio_window existed stays
        the same (from_dict reads its absence as "paper")."""
        d = dataclasses.asdict(self)
        if d["audio_window"] == "paper":
            del d["audio_window"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        return cls(**known_fields(cls, d))

    def hash(self, fingerprint: dict | None = None) -> str:
        """Settings plus the library behaviour that changes features (librosa's STFT pad mode) and
        the revision of our own feature code (FEATURE_REVISION): `fingerprint`, by default the
        running one (`cache_fingerprint()`; a cache checks its recorded one with it)."""
        payload = dict(self.to_dict(), **(fingerprint or cache_fingerprint()))
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def default_audio_window(dataset: str) -> str:
    """The audio window a corpus is prepared with unless the user says otherwise: the paper's for
    RAVDESS (the reproduction), the speech-centred one for any other corpus (utterances of any length)."""
    return "paper" if dataset in PAPER_WINDOW_DATASETS else "speech"


def canonical_detector(setting: str) -> str:
    """The recorded form of a detector setting (registries.detectors.canonical: 'dlib' -> 'dlib@20';
    an unversioned detector records its name alone, so such caches keep their hash); ValueError for
    an unknown name."""
    return detector_registry.canonical(setting)


def library_fingerprint() -> dict:
    """librosa switched its centred-STFT padding from reflect (0.8) to constant (0.10).

    Read from the installed version, without importing librosa (its import takes seconds, and every
    command that opens a cache checks this): the pad mode follows from the version
    (librosa_pad_mode), which tests/test_config.py checks against librosa.stft's own default."""
    from importlib.metadata import version

    installed = version("librosa")
    major_minor = ".".join(installed.split(".")[:2])
    return {"librosa": major_minor, "stft_pad_mode": librosa_pad_mode(installed)}


def librosa_pad_mode(installed: str) -> str:
    """librosa.stft's default pad_mode in this librosa version: "constant" from 0.10 on."""
    major, minor = (int(part) for part in installed.split(".")[:2])
    return "constant" if (major, minor) >= (0, 10) else "reflect"


def cache_fingerprint() -> dict:
    """What besides the settings decides the features: the libraries' behaviour and FEATURE_REVISION
    (recorded in a cache's config.json and checked when it is opened)."""
    return dict(library_fingerprint(), feature_revision=FEATURE_REVISION)
