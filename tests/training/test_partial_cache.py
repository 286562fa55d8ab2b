"""A cache holding less than the complete corpus (an interrupted or partly failed prepare, a
missing actor folder) is refused by training unless --allow-partial; its folds are fixed by actor
id, so a missing actor never shifts the later folds."""

import json
import shutil

import pytest

from avemotion.data.cache import open_cache
from avemotion.errors import ConfigError
from avemotion.training import train
from avemotion.utils.io import read_json


def _without(cache, tmp_path, actor: int | None = None, clips: int = 0):
    """A copy of `cache` lacking one actor's clips, or its first `clips` clips."""
    copy = shutil.copytree(cache.path, tmp_path / "cache" / cache.path.name)
    records = cache.records()
    gone = [r["clip_id"] for r in records if r["actor"] == actor] if actor else [r["clip_id"] for r in records[:clips]]
    for clip_id in gone:
        for path in (copy / "clips").glob(f"{clip_id}.*"):
            path.unlink()
    return open_cache(copy)


def _train(cache, out, n_folds=4, **kw):
    return train("audio", cache.path, out, preset="small", folds=[0], n_folds=n_folds, n_val=1, epochs=1, **kw)


def test_a_cache_missing_an_actor_is_refused_in_one_line(prepared_cache, tmp_path):
    partial = _without(prepared_cache, tmp_path, actor=3)
    with pytest.raises(ConfigError) as err:
        _train(partial, tmp_path / "run")
    message = str(err.value)
    assert "\n" not in message and "no clip of actors [3]" in message and "--allow-partial" in message
    assert not (tmp_path / "run" / "run.json").exists()  # refused before anything was written


def test_an_interrupted_prepare_is_refused_too(prepared_cache, tmp_path):
    partial = _without(prepared_cache, tmp_path, clips=2)
    n = len(prepared_cache.records())
    with pytest.raises(ConfigError, match=rf"holds {n - 2} of the {n} clips"):
        _train(partial, tmp_path / "run")


def test_allow_partial_keeps_the_complete_corpus_folds_by_actor_id(prepared_cache, tmp_path):
    complete = tmp_path / "complete"
    partial_run = tmp_path / "partial"
    _train(prepared_cache, complete, n_folds=2)  # fold 0 tests actors 1 and 2
    partial = _without(prepared_cache, tmp_path, actor=1)
    _train(partial, partial_run, n_folds=2, allow_partial=True)
    full, part = read_json(complete / "run.json"), read_json(partial_run / "run.json")
    assert full["partial"] is None and part["partial"]["missing_actors"] == [1]
    for f_full, f_part in zip(full["folds"], part["folds"]):  # every fold: the same actors, less actor 1
        for split in ("test", "val", "train"):
            assert f_part[split] == [a for a in f_full[split] if a != 1], (split, f_full, f_part)
    manifest = read_json(partial_run / "folds" / "fold_0.json")
    assert manifest["test"] and all(not c.endswith("-01") for c in manifest["test"] + manifest["train"] + manifest["val"])
    # with 4 folds of one actor, the fold that tests actor 1 has nothing left to test: refused, not shifted
    with pytest.raises(ConfigError, match=r"fold 0: the cache holds none of its test actors \[1\]"):
        _train(partial, tmp_path / "other", n_folds=4, allow_partial=True)


def test_a_corpus_declares_its_extent_and_prepare_records_it(prepared_cache, synth_corpus):
    declared = json.loads((synth_corpus / "avemotion-corpus.json").read_text())
    assert prepared_cache.extent() == declared
    assert len(declared["actors"]) == len({r["actor"] for r in prepared_cache.records()})
    assert declared["clips"] == len(prepared_cache.records())
