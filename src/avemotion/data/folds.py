"""Fold protocol (SPEC 3): consecutive actor groups as outer test folds, gender-balanced inner
validation actors drawn from each fold's training actors, manifests on disk, and a check that
refuses fold sets that do not partition the actors or leak a test actor."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


import numpy as np

from avemotion.errors import ConfigError



@dataclass(frozen=True)
class Fold:
    """One outer fold: its actors per split and, once `with_clips` has read a cache's records, the
    clip ids of each split (sorted). Two folds are equal when their actors are: the ids follow."""

    index: int
    test_actors: tuple[int, ...]
    val_actors: tuple[int, ...]
    train_actors: tuple[int, ...]
    test_ids: tuple[str, ...] = field(default=(), compare=False)
    val_ids: tuple[str, ...] = field(default=(), compare=False)
    train_ids: tuple[str, ...] = field(default=(), compare=False)

    def with_clips(self, records) -> "Fold":
        ids = self.split(records)
        return replace(self, **{f"{name}_ids": tuple(sorted(ids[name])) for name in ("test", "val", "train")})

    def actors_dict(self) -> dict:
        return {"test": list(self.test_actors), "val": list(self.val_actors), "train": list(self.train_actors)}

    def split(self, records) -> dict[str, list[str]]:
        """Clip ids per split ("train", "val", "test") for ClipRecords or record dicts."""
        out = {"train": [], "val": [], "test": []}
        for r in records:
            r = r if isinstance(r, dict) else r.to_dict()
            for name, actors in (("train", self.train_actors), ("val", self.val_actors), ("test", self.test_actors)):
                if r["actor"] in actors:
                    out[name].append(r["clip_id"])
        return out


def make_folds(actors, *, genders: dict[int, str], n_folds: int = 6, n_val: int = 4, seed: int = 0) -> list[Fold]:
    """`n_folds` groups of consecutive actors (sorted ids; sizes differ by at most one) as test folds;
    `n_val` validation actors per fold from its training actors, half of each gender where possible.
    `genders` maps actor -> gender as the corpus records it (an actor it lacks counts as "unknown")."""
    actors = sorted(set(int(a) for a in actors))
    if not 2 <= n_folds <= len(actors):
        raise ConfigError(f"n_folds={n_folds} needs 2..{len(actors)} for {len(actors)} actors")
    gender = genders
    folds = []
    for k, group in enumerate(np.array_split(np.array(actors), n_folds)):
        test = tuple(int(a) for a in group)
        rest = [a for a in actors if a not in test]
        if n_val > len(rest) - 1:
            raise ConfigError(f"n_val={n_val} leaves no training actor in fold {k} ({len(rest)} non-test actors)")
        val = _balanced_pick(rest, n_val, gender, np.random.default_rng([seed, k]))
        train = tuple(a for a in rest if a not in val)
        folds.append(Fold(k, test, val, train))
    check_folds(folds, actors)
    return folds


def _balanced_pick(candidates: list[int], n: int, gender: dict, rng) -> tuple[int, ...]:
    """n actors, alternating genders so that the counts differ by at most one where both exist."""
    pools = {}
    for a in candidates:
        pools.setdefault(gender.get(a, "unknown"), []).append(a)
    for pool in pools.values():
        rng.shuffle(pool)
    order = sorted(pools)  # deterministic gender order
    picked = []
    while len(picked) < n:
        for g in order:
            if pools[g] and len(picked) < n:
                picked.append(pools[g].pop())
    return tuple(sorted(picked))


def check_folds(folds: list[Fold], actors) -> None:
    """ConfigError unless the test groups partition `actors` and no test actor trains or validates."""
    actors = set(int(a) for a in actors)
    seen: dict[int, int] = {}
    for f in folds:
        for a in f.test_actors:
            if a in seen:
                raise ConfigError(f"actor {a} is in the test group of folds {seen[a]} and {f.index}")
            seen[a] = f.index
        leak = set(f.test_actors) & (set(f.train_actors) | set(f.val_actors))
        if leak:
            raise ConfigError(f"fold {f.index}: test actors {sorted(leak)} also in training/validation")
        if set(f.train_actors) & set(f.val_actors):
            raise ConfigError(f"fold {f.index}: actors {sorted(set(f.train_actors) & set(f.val_actors))} in both training and validation")
        unknown = (set(f.test_actors) | set(f.train_actors) | set(f.val_actors)) - actors
        if unknown:
            raise ConfigError(f"fold {f.index}: actors {sorted(unknown)} are not in the corpus")
    untested = actors - set(seen)
    if untested:
        raise ConfigError(f"folds never test actors {sorted(untested)}: the test groups must partition all actors")


def manifest_doc(fold: Fold, records) -> dict:
    """A fold's manifest (actors and clip ids per split), so every model sees identical splits;
    where it is written is the run layout's (RunLayout.write_manifests)."""
    f = fold.with_clips(records)
    return {"index": f.index, "test_actors": list(f.test_actors), "val_actors": list(f.val_actors),
            "train_actors": list(f.train_actors), "train": list(f.train_ids), "val": list(f.val_ids),
            "test": list(f.test_ids)}


def fold_from_manifest(d: dict) -> Fold:
    """The Fold (with its clip ids) a manifest_doc describes."""
    return Fold(d["index"], tuple(d["test_actors"]), tuple(d["val_actors"]), tuple(d["train_actors"]),
                tuple(d.get("test", ())), tuple(d.get("val", ())), tuple(d.get("train", ())))
