"""Label spaces: the class names of a corpus, in label order, are a property of its prepared cache.

A cache records them in config.json (`labels`); a cache prepared before they were recorded holds
RAVDESS's 8 classes (`avemotion.EMOTIONS`). Training builds models with `len(labels)` outputs and
records the names with every checkpoint and metrics file, so reports and `predict` speak the run's
names. Two label spaces meet by name (`shared_labels`): a run trained on RAVDESS (8 names) scores
CREMA-D clips (6 names, all among RAVDESS's) or IEMOCAP's 4 on the classes of the same name, and a
CREMA-D run scores RAVDESS on the 6 names they share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from avemotion import EMOTIONS
from avemotion.errors import ConfigError

DEFAULT_LABELS: tuple[str, ...] = tuple(EMOTIONS)  # caches, checkpoints and runs that record none
# Other corpora's words for the project's class names (RAVDESS's, plus EmoDB's boredom). A manifest's
# labels are read through this map, case-insensitively, so that its label space meets the others by
# name (docs/data.md, Label spaces); a label that is none of these is kept as written.
SYNONYMS = {
    "anger": "angry", "happiness": "happy", "joy": "happy", "sadness": "sad", "fear": "fearful",
    "afraid": "fearful", "surprise": "surprised", "disgusted": "disgust", "calmness": "calm", "bored": "boredom",
}
SHARED_NAMES = frozenset(EMOTIONS) | {"boredom"}


def check_labels(names: Iterable[str], where: str = "labels") -> tuple[str, ...]:
    """The names as a tuple; ConfigError unless there are at least two, all distinct and non-empty."""
    names = tuple(str(n).strip() for n in names)
    if any(not n for n in names):
        raise ConfigError(f"{where}: a class name is empty")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{where}: class names repeated: {', '.join(repeated)}")
    if len(names) < 2:
        raise ConfigError(f"{where}: needs at least 2 classes, got {len(names)} ({', '.join(names) or 'none'})")
    return names


def parse_labels(text: str) -> tuple[str, ...]:
    """`--labels neutral,happy,sad` -> ('neutral', 'happy', 'sad')."""
    return check_labels(text.split(","), "--labels")


def shared_name(label: str) -> str:
    """The project's name for a corpus's label: 'Anger' -> 'angry', 'Neutral' -> 'neutral'; any other
    label as written (stripped)."""
    key = label.strip().lower()
    if key in SYNONYMS:
        return SYNONYMS[key]
    return key if key in SHARED_NAMES else label.strip()


def renamed_note(renamed: Mapping[str, int]) -> str:
    """The prepare-summary line saying which labels were read as the project's names ({"anger ->
    angry": rows})."""
    parts = ", ".join(f"{pair} ({n} row{'' if n == 1 else 's'})" for pair, n in sorted(renamed.items()))
    return f"labels read as the project's class names: {parts} (docs/data.md, Label spaces)"


def recorded_labels(meta: Mapping | None) -> tuple[str, ...]:
    """The class names a cache config, checkpoint meta, metrics doc or run.json records (RAVDESS's 8
    when it records none: written before label spaces were recorded)."""
    names = (meta or {}).get("labels")
    return tuple(names) if names else DEFAULT_LABELS


def shared_labels(corpus: Iterable[str], model: Iterable[str]) -> tuple[str, ...]:
    """The class names a corpus and a model share, in the model's order; ConfigError when they
    share fewer than 2 (nothing to tell apart)."""
    corpus, model = tuple(corpus), tuple(model)
    shared = tuple(n for n in model if n in corpus)
    if len(shared) < 2:
        raise ConfigError(f"the corpus's classes ({', '.join(corpus)}) and the model's ({', '.join(model)}) share "
                          f"{len(shared)} name{'' if len(shared) == 1 else 's'}: nothing to score")
    return shared
