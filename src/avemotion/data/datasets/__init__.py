"""Dataset adapters: turn a corpus folder into `ClipRecord`s (see docs/architecture.md, Datasets).

Adding a dataset is one small module in this package with a class decorated by
`@register_dataset("name")` that implements `detect(root) -> bool` and `scan(root) -> Scan`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from avemotion.config import MODALITIES
from avemotion.errors import ConfigError, InputError
from avemotion.utils.fields import known_fields

@dataclass(frozen=True)
class ClipRecord:
    clip_id: str  # file stem, unique within a corpus
    path: Path
    dataset: str
    label: int  # index into avemotion.EMOTIONS
    emotion: str
    actor: int
    gender: str  # "male" / "female" / "unknown" (CREMA-D without its demographics file)
    intensity: int | None = None
    statement: int | str | None = None
    repetition: int | None = None
    modality: int | None = None
    vocal_channel: int | None = None
    landmarks: Path | None = None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        d["landmarks"] = None if self.landmarks is None else str(self.landmarks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ClipRecord":
        kw = known_fields(cls, d)
        kw["path"] = Path(kw["path"])
        if kw.get("landmarks") is not None:
            kw["landmarks"] = Path(kw["landmarks"])
        return cls(**kw)


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
    if not root.is_dir():
        raise InputError(root, "unreadable", "dataset folder not found")
    try:
        found = [name for name, cls in _ADAPTERS.items() if cls.detect(root)]
    except OSError as err:
        raise InputError(root, "unreadable", f"cannot list the dataset folder ({err.strerror or err})") from None
    if not found:
        raise InputError(root, "bad_name", "no known dataset layout (RAVDESS Actor_XX/*.mp4 or *.wav/*.flac, or CREMA-D 1001_DFA_ANG_XX.flv)")
    return found[0]


def scan_dataset(root: str | Path, dataset: str | None = None, **options) -> Scan:
    """Find the clips under `root`; `dataset` forces an adapter, otherwise it is detected."""
    name = dataset or detect_dataset(root)
    scan = get_adapter(name, **options).scan(Path(root))
    scan.dataset = name
    scan.records.sort(key=lambda r: (r.actor, r.clip_id))
    return scan


# Adapters register themselves on import.
from avemotion.data.datasets import cremad, ravdess  # noqa: E402,F401
