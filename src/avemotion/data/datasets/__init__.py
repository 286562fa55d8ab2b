"""Dataset adapters: turn a corpus folder into `ClipRecord`s (see docs/architecture.md, Datasets).

Adding a dataset is one small module in this package with a class decorated by
`@register_dataset("name")` that implements `detect(root) -> bool` and `scan(root) -> Scan`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from avemotion.config import MODALITIES
from avemotion.data.labels import DEFAULT_LABELS
from avemotion.errors import ConfigError, InputError
from avemotion.utils.fields import known_fields

@dataclass(frozen=True)
class ClipRecord:
    clip_id: str  # file stem, unique within a corpus
    path: Path
    dataset: str
    label: int  # index into the corpus's class names (Scan.labels; the cache records them)
    emotion: str
    actor: int
    gender: str  # "male" / "female" / "unknown" (CREMA-D without its demographics file)
    intensity: int | None = None
    statement: int | str | None = None
    repetition: int | None = None
    modality: int | None = None
    vocal_channel: int | None = None
    landmarks: Path | None = None
    # A clip cut from a longer recording: the span [start, end] in seconds of `path` (None: the
    # whole file). `audio_path`: the clip's audio lies in a file of its own (IEMOCAP's utterance
    # wavs), read whole. `speaker`: the corpus's own speaker name (manifests, IEMOCAP); `actor` is
    # its stable integer id. `face`: which face of a frame showing several is the speaker's
    # ("left" / "right"; None: the largest, as for any clip).
    start: float | None = None
    end: float | None = None
    audio_path: Path | None = None
    speaker: str | None = None
    face: str | None = None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        d["landmarks"] = None if self.landmarks is None else str(self.landmarks)
        d["audio_path"] = None if self.audio_path is None else str(self.audio_path)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ClipRecord":
        kw = known_fields(cls, d)
        kw["path"] = Path(kw["path"])
        for key in ("landmarks", "audio_path"):
            if kw.get(key) is not None:
                kw[key] = Path(kw[key])
        return cls(**kw)


EXTENT_FILE = "avemotion-corpus.json"  # a corpus's own statement of its extent (e.g. `avemotion synth`)


@dataclass(frozen=True)
class Extent:
    """What a complete corpus holds: every actor (id -> gender, "unknown" where not known) and the
    number of clips. Folds are built over these actors, so a corpus missing some actors still
    gets the folds of the complete one; training refuses a cache that holds less (--allow-partial)."""

    actors: dict[int, str]
    clips: int
    source: str  # who says so, for messages: "RAVDESS: 24 actors x 60 speech clips", a file

    def to_dict(self) -> dict:
        return {"actors": {str(a): g for a, g in sorted(self.actors.items())}, "clips": self.clips, "source": self.source}

    @classmethod
    def from_dict(cls, d: dict) -> "Extent":
        return cls({int(a): g for a, g in d["actors"].items()}, int(d["clips"]), str(d.get("source", "")))


def declared_extent(root: Path) -> Extent | None:
    """The corpus's own EXTENT_FILE ({"actors": {"1": "male", ...}, "clips": N}), if it has one."""
    path = Path(root) / EXTENT_FILE
    if not path.is_file():
        return None
    from avemotion.utils.io import read_json

    try:
        doc = read_json(path)
        return Extent.from_dict({**doc, "source": doc.get("source") or str(path)})
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ConfigError(f"{path}: not a corpus extent ({err}); expected {{\"actors\": {{\"1\": \"male\", ...}}, \"clips\": N}}") from None


@dataclass
class Scan:
    records: list[ClipRecord] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    dataset: str = ""
    modalities: tuple[str, ...] = MODALITIES  # what the corpus's clips hold
    notes: list[str] = field(default_factory=list)  # warnings for the prepare summary
    # every clip should have a landmark CSV (prepare warns about each one without); otherwise it
    # warns only when some clips have one and others not
    expects_landmarks: bool = False
    labels: tuple[str, ...] = DEFAULT_LABELS  # the corpus's class names in label order
    speakers: dict[int, str] = field(default_factory=dict)  # actor id -> speaker name (manifests, IEMOCAP)
    extent: Extent | None = None  # what a complete corpus holds, when the adapter or corpus says
    # the corpus's standard folds, {"n_folds", "n_val", "name"} (IEMOCAP: leave one session out);
    # training uses them unless --n-folds / --n-val say otherwise
    protocol: dict | None = None


_ADAPTERS: dict[str, type] = {}


def register_dataset(name: str):
    """Class decorator: register a dataset adapter under `name`."""

    def wrap(cls):
        if name in _ADAPTERS:
            raise ValueError(f"dataset {name!r} registered twice")
        cls.name = name
        _ADAPTERS[name] = cls
        return cls

    return wrap


def list_datasets() -> list[str]:
    return sorted(_ADAPTERS)


def get_adapter(name: str, **options):
    if name not in _ADAPTERS:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(list_datasets())}")
    return _ADAPTERS[name](**options)


def detect_dataset(root: str | Path) -> str:
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".csv":
        return "manifest"  # one row per clip (datasets/manifest.py)
    if not root.is_dir():
        raise InputError(root, "unreadable", "dataset folder not found")
    try:
        found = [name for name, cls in _ADAPTERS.items() if cls.detect(root)]
    except OSError as err:
        raise InputError(root, "unreadable", f"cannot list the dataset folder ({err.strerror or err})") from None
    if not found:
        raise InputError(root, "bad_name", "no known dataset layout (RAVDESS Actor_XX/*.mp4 or *.wav/*.flac, CREMA-D "
                         "1001_DFA_ANG_XX.flv, IEMOCAP Session1..5/, EmoDB 03a01Wa.flac, nEMO labels.csv + audio/; any other corpus: prepare --manifest corpus.csv)")
    return found[0]


def scan_dataset(root: str | Path, dataset: str | None = None, **options) -> Scan:
    """Find the clips under `root`; `dataset` forces an adapter, otherwise it is detected."""
    name = dataset or detect_dataset(root)
    scan = get_adapter(name, **options).scan(Path(root))
    scan.dataset = name
    scan.extent = declared_extent(Path(root)) or scan.extent
    scan.records.sort(key=lambda r: (r.actor, r.clip_id))
    return scan


# Adapters register themselves on import.
from avemotion.data.datasets import cremad, emodb, iemocap, manifest, nemo, ravdess  # noqa: E402,F401
