import pytest

from avemotion.data.folds import Fold, check_folds, make_folds
from avemotion.run_layout import RunLayout
from avemotion.errors import ConfigError


def gender(a):
    return "male" if a % 2 else "female"


GENDERS = {a: gender(a) for a in range(1, 25)}  # RAVDESS: odd actors are male


def test_ravdess_six_folds():
    folds = make_folds(range(1, 25), genders=GENDERS)
    assert [f.test_actors for f in folds] == [tuple(range(k, k + 4)) for k in range(1, 25, 4)]
    for f in folds:
        assert len(f.val_actors) == 4 and len(f.train_actors) == 16
        assert sorted(gender(a) for a in f.val_actors) == ["female", "female", "male", "male"]
        assert set(f.val_actors).isdisjoint(f.test_actors) and set(f.val_actors).isdisjoint(f.train_actors)
    assert make_folds(range(1, 25), genders=GENDERS) == folds  # deterministic
    assert make_folds(range(1, 25), genders=GENDERS, seed=1) != folds


def test_small_corpus_folds():
    folds = make_folds(range(1, 9), genders=GENDERS, n_folds=4, n_val=2)
    assert [f.test_actors for f in folds] == [(1, 2), (3, 4), (5, 6), (7, 8)]
    assert all(sorted(map(gender, f.val_actors)) == ["female", "male"] for f in folds)


def test_check_refuses_published_five_folds():
    five = [Fold(k, tuple(range(4 * k + 1, 4 * k + 5)), (), tuple(a for a in range(1, 21) if not 4 * k < a <= 4 * k + 4))
            for k in range(5)]
    with pytest.raises(ConfigError, match=r"never test actors \[21, 22, 23, 24\]"):
        check_folds(five, range(1, 25))


def test_check_refuses_leaks_and_overlaps():
    good = make_folds(range(1, 9), genders=GENDERS, n_folds=2, n_val=2)
    f0 = good[0]
    leaky = [Fold(0, f0.test_actors, f0.val_actors, f0.train_actors + (f0.test_actors[0],)), good[1]]
    with pytest.raises(ConfigError, match="also in training"):
        check_folds(leaky, range(1, 9))
    leaky_val = [Fold(0, f0.test_actors, f0.val_actors + (f0.test_actors[0],), f0.train_actors), good[1]]
    with pytest.raises(ConfigError, match="also in training/validation"):
        check_folds(leaky_val, range(1, 9))
    twice = [good[0], Fold(1, good[1].test_actors + (1,), (), ())]
    with pytest.raises(ConfigError, match="actor 1 is in the test group"):
        check_folds(twice, range(1, 9))
    with pytest.raises(ConfigError):
        make_folds(range(1, 5), genders=GENDERS, n_folds=2, n_val=2)  # would leave no training actor


def test_manifests_round_trip(tmp_path, prepared_cache):
    records = prepared_cache.records()
    folds = make_folds({r["actor"] for r in records}, genders={r["actor"]: r["gender"] for r in records}, n_folds=4, n_val=2)
    layout = RunLayout.for_training(tmp_path)
    layout.write_manifests(folds, records)
    assert sorted(p.name for p in (tmp_path / "folds").iterdir()) == ["fold_0.json", "fold_1.json", "fold_2.json", "fold_3.json"]
    back = layout.read_manifests()
    assert back == folds
    split = folds[0].split(records)
    assert back[0].test_ids == tuple(sorted(split["test"])) and back[0].train_ids == tuple(sorted(split["train"]))
    assert len(split["test"]) == 15 and len(split["val"]) == 30 and len(split["train"]) == 15
    assert set(split["test"]).isdisjoint(split["train"] + split["val"])


def test_folds_balance_only_the_genders_the_corpus_records():
    # no gender recorded: every actor is "unknown", the picks are still n_val distinct training actors
    folds = make_folds(range(1, 9), genders={}, n_folds=4, n_val=2)
    assert all(len(set(f.val_actors)) == 2 and set(f.val_actors) <= set(range(1, 9)) - set(f.test_actors) for f in folds)
    # genders other than RAVDESS's odd/even rule are followed, not overridden
    swapped = {a: gender(a + 1) for a in range(1, 9)}
    folds = make_folds(range(1, 9), genders=swapped, n_folds=4, n_val=2)
    assert all(sorted(swapped[a] for a in f.val_actors) == ["female", "male"] for f in folds)


def test_fold_with_clips_fills_sorted_ids_per_split(prepared_cache):
    records = prepared_cache.records()
    fold = make_folds({r["actor"] for r in records}, genders={r["actor"]: r["gender"] for r in records}, n_folds=4, n_val=2)[1]
    full = fold.with_clips(records)
    for name, actors in (("test", fold.test_actors), ("val", fold.val_actors), ("train", fold.train_actors)):
        ids = getattr(full, f"{name}_ids")
        assert list(ids) == sorted(r["clip_id"] for r in records if r["actor"] in actors) and ids
