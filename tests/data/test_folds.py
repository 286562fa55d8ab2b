import pytest

from avemotion.data.folds import Fold, check_folds, make_folds, read_fold_manifests, write_fold_manifests
from avemotion.errors import ConfigError


def gender(a):
    return "male" if a % 2 else "female"


def test_ravdess_six_folds():
    folds = make_folds(range(1, 25))
    assert [f.test_actors for f in folds] == [tuple(range(k, k + 4)) for k in range(1, 25, 4)]
    for f in folds:
        assert len(f.val_actors) == 4 and len(f.train_actors) == 16
        assert sorted(gender(a) for a in f.val_actors) == ["female", "female", "male", "male"]
        assert set(f.val_actors).isdisjoint(f.test_actors) and set(f.val_actors).isdisjoint(f.train_actors)
    assert make_folds(range(1, 25)) == folds  # deterministic
    assert make_folds(range(1, 25), seed=1) != folds


def test_small_corpus_folds():
    folds = make_folds(range(1, 9), n_folds=4, n_val=2)
    assert [f.test_actors for f in folds] == [(1, 2), (3, 4), (5, 6), (7, 8)]
    assert all(sorted(map(gender, f.val_actors)) == ["female", "male"] for f in folds)


def test_check_refuses_published_five_folds():
    five = [Fold(k, tuple(range(4 * k + 1, 4 * k + 5)), (), tuple(a for a in range(1, 21) if not 4 * k < a <= 4 * k + 4))
            for k in range(5)]
    with pytest.raises(ConfigError, match=r"never test actors \[21, 22, 23, 24\]"):
        check_folds(five, range(1, 25))


def test_check_refuses_leaks_and_overlaps():
    good = make_folds(range(1, 9), n_folds=2, n_val=2)
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
        make_folds(range(1, 5), n_folds=2, n_val=2)  # would leave no training actor


def test_manifests_round_trip(tmp_path, prepared_cache):
    records = prepared_cache.records()
    folds = make_folds({r["actor"] for r in records}, n_folds=4, n_val=2)
    paths = write_fold_manifests(folds, records, tmp_path / "folds")
    assert [p.name for p in paths] == ["fold_0.json", "fold_1.json", "fold_2.json", "fold_3.json"]
    assert read_fold_manifests(tmp_path / "folds") == folds
    split = folds[0].split(records)
    assert len(split["test"]) == 15 and len(split["val"]) == 30 and len(split["train"]) == 15
    assert set(split["test"]).isdisjoint(split["train"] + split["val"])
