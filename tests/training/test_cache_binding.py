"""Issue 29, item 5: a run is bound to the cache it was trained on. Another cache of the same
preprocessing settings and the same clip names (another corpus, another synth seed) is refused in
one line, both for the run folder and for the finished stages of a shared unimodal folder."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil

import numpy as np
import pytest

from avemotion.data.cache import open_cache
from avemotion.errors import ConfigError
from avemotion.training import train

SETTINGS = dict(preset="small", folds="0", n_folds=2, n_val=1, epochs=1, unimodal_epochs=1)


def other_content(cache, out):
    """A copy of `cache` whose clips keep their names but not their audio (as another corpus)."""
    shutil.copytree(cache.path, out)
    rng = np.random.default_rng(0)
    for record in sorted((out / "clips").glob("*.json")):
        mfcc = out / "clips" / (record.name.removesuffix(".json") + ".mfcc.npy")
        if not mfcc.exists():
            pytest.skip(f"unexpected cache layout: no {mfcc.name}")
        arr = np.load(mfcc) + rng.normal(size=np.load(mfcc).shape).astype(np.float32)
        np.save(mfcc, arr)
        doc = json.loads(record.read_text())
        doc["prep"]["mfcc_sha1"] = hashlib.sha1(np.ascontiguousarray(arr).tobytes()).hexdigest()
        record.write_text(json.dumps(doc))
    return open_cache(out)


@pytest.fixture(scope="module")
def first_run(prepared_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("bound") / "run"
    train("audio", prepared_cache.path, out, **SETTINGS)
    return out


def test_the_same_cache_reuses_the_finished_stage(first_run, prepared_cache, caplog):
    with caplog.at_level(logging.INFO, logger="avemotion"):
        train("audio", prepared_cache.path, first_run, **SETTINGS)
    assert any("done, reusing" in line for line in caplog.messages)


def test_a_run_folder_refuses_another_cache_with_the_same_clip_names(first_run, prepared_cache, tmp_path):
    other = other_content(prepared_cache, tmp_path / "other_cache")
    assert other.clip_ids() == prepared_cache.clip_ids() and other.config.hash() == prepared_cache.config.hash()
    before = (first_run / "run.json").read_bytes()
    with pytest.raises(ConfigError, match="another cache") as err:
        train("audio", other.path, first_run, **SETTINGS)
    assert "\n" not in str(err.value)
    assert (first_run / "run.json").read_bytes() == before  # nothing rewritten


def test_a_shared_unimodal_folder_refuses_stages_of_other_clips(first_run, prepared_cache, tmp_path):
    other = other_content(prepared_cache, tmp_path / "other_cache")
    with pytest.raises(ConfigError, match="other clips") as err:
        train("cfn_sr", other.path, tmp_path / "new", unimodal_dir=first_run, **SETTINGS)
    assert "\n" not in str(err.value) and "fold_0" in str(err.value)
