"""Protocols of a voice run, each a list of splits planned before anything trains (issue 23).

- `speaker-folds`: within each corpus, folds by speaker (data.folds.make_folds: consecutive speaker
  groups as test folds, gender-balanced validation speakers from the rest); fold k trains on every
  corpus's fold-k training speakers, selects on their validation speakers and is scored on each
  corpus's fold-k test speakers. With RAVDESS alone these are exactly the audio-video protocol's
  6 folds (same actors, same validation actors).
- `leave-one-corpus-out`: each corpus in turn is the test corpus, never seen in training or
  selection; the model trains on the other corpora's speakers less `n_val` validation speakers per
  corpus, on which it is selected.
- `all`: one model on every speaker less the validation speakers (the shipped model's split).

Training uses the classes the training corpora share (`common_classes`): a class that only one corpus
has would be learnt as that corpus's sound (a RAVDESS-only "calm" turns into "this sounds like
RAVDESS"). Utterances of other classes are left out of training and counted in the run's report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avemotion.data.folds import make_folds
from avemotion.data.voice_store import VoiceCorpus
from avemotion.errors import ConfigError

PROTOCOLS = ("speaker-folds", "leave-one-corpus-out", "all")
# Folds of a corpus whose adapter declares no protocol: those of the audio-video protocol (SPEC 3).
DEFAULT_FOLDS = (6, 4)


@dataclass(frozen=True)
class VoiceSplit:
    name: str  # "fold_0", "test_emodb", "all"
    train: tuple[str, ...]  # speakers ("corpus:speaker")
    val: tuple[str, ...]
    test: tuple[str, ...]
    classes: tuple[str, ...]  # the training label space

    def to_dict(self) -> dict:
        return {"name": self.name, "train": list(self.train), "val": list(self.val), "test": list(self.test),
                "classes": list(self.classes)}


def common_classes(corpora: list[VoiceCorpus]) -> tuple[str, ...]:
    """The class names every corpus has, in the first corpus's order; ConfigError below two."""
    shared = tuple(n for n in corpora[0].labels if all(n in c.labels for c in corpora[1:]))
    if len(shared) < 2:
        raise ConfigError("the corpora share fewer than 2 class names: " + "; ".join(f"{c.dataset}: {', '.join(c.labels)}" for c in corpora))
    return shared


def _speaker_folds(corpus: VoiceCorpus, n_folds: int, n_val: int, seed: int = 0):
    """The corpus's speakers in folds, by its adapter's actor ids (sorted names where it has none)."""
    names = sorted(set(corpus.speakers), key=lambda s: (corpus.actor_ids.get(s, 0), s))
    ids = {s: i + 1 for i, s in enumerate(names)}
    gender = {ids[s]: g for s, g in zip(corpus.speakers, corpus.genders)}
    back = {i: s for s, i in ids.items()}
    folds = make_folds(list(ids.values()), genders=gender, n_folds=n_folds, n_val=n_val, seed=seed)
    return [{key: tuple(back[a] for a in getattr(f, f"{key}_actors")) for key in ("train", "val", "test")} for f in folds]


def fold_shape(corpus: VoiceCorpus, n_folds: int | None, n_val: int | None) -> tuple[int, int]:
    """--n-folds / --n-val, else the corpus's declared protocol, else DEFAULT_FOLDS (bounded by its speakers)."""
    declared = corpus.protocols.get(corpus.dataset) or {}
    speakers = len(set(corpus.speakers))
    folds = n_folds or declared.get("n_folds") or min(DEFAULT_FOLDS[0], speakers)
    return folds, n_val or declared.get("n_val") or max(1, min(DEFAULT_FOLDS[1], speakers - speakers // folds - 1))


def plan(corpora: list[VoiceCorpus], protocol: str, *, n_folds: int | None = None, n_val: int | None = None,
         folds: list[int] | None = None) -> list[VoiceSplit]:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    per_corpus = [_speaker_folds(c, *fold_shape(c, n_folds, n_val)) for c in corpora]
    if protocol == "speaker-folds":
        counts = {len(f) for f in per_corpus}
        if len(counts) != 1:
            raise ConfigError(f"speaker-folds over several corpora needs the same number of folds in each (got {sorted(counts)}; "
                              f"set --n-folds)")
        classes = common_classes(corpora) if len(corpora) > 1 else corpora[0].labels
        splits = [VoiceSplit(f"fold_{k}", *(_join(per_corpus, k, key) for key in ("train", "val", "test")), classes)
                  for k in range(counts.pop())]
    elif protocol == "leave-one-corpus-out":
        if len(corpora) < 2:
            raise ConfigError("leave-one-corpus-out needs at least two corpora")
        splits = []
        for held, corpus in enumerate(corpora):
            rest = [c for i, c in enumerate(corpora) if i != held]
            train, val = _all_but_val([per_corpus[i] for i in range(len(corpora)) if i != held])
            splits.append(VoiceSplit(f"test_{corpus.dataset}", train, val, tuple(sorted(set(corpus.speakers))), common_classes(rest)))
    else:
        train, val = _all_but_val(per_corpus)
        splits = [VoiceSplit("all", train, val, (), common_classes(corpora) if len(corpora) > 1 else corpora[0].labels)]
    if folds is not None:
        splits = [s for i, s in enumerate(splits) if i in folds]
    return splits


def _join(per_corpus, k: int, key: str) -> tuple[str, ...]:
    return tuple(s for folds in per_corpus for s in folds[k][key])


def _all_but_val(per_corpus) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every speaker trains except the validation speakers of each corpus's fold 0."""
    val = tuple(s for folds in per_corpus for s in folds[0]["val"])
    everyone = {s for folds in per_corpus for f in folds for s in f["test"]}
    return tuple(sorted(everyone - set(val))), val


def select(corpus: VoiceCorpus, speakers, classes: tuple[str, ...] | None = None) -> VoiceCorpus:
    speakers = set(speakers)
    return corpus.subset(lambda i: corpus.speakers[i] in speakers and (classes is None or corpus.emotions[i] in classes))


def seeds_summary(values: list[float]) -> dict:
    a = np.array(values, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "n": len(a)}
