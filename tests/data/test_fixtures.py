import numpy as np

from avemotion.data.datasets import scan_dataset


def test_synth_corpus_layout(synth_corpus):
    scan = scan_dataset(synth_corpus)
    assert scan.dataset == "ravdess" and not scan.errors
    assert len(scan.records) == 60
    assert {r.actor for r in scan.records} == {1, 2, 3, 4}
    assert all(r.landmarks is not None and r.landmarks.parent.name == "landmarks" for r in scan.records)


def test_prepared_cache_shapes(prepared_cache):
    records = prepared_cache.records()
    assert len(records) == 60
    video, mfcc = prepared_cache.load(records[0]["clip_id"])
    assert video.shape == (8, 48, 48, 3) and video.dtype == np.uint8
    assert mfcc.shape == (13, 212) and mfcc.dtype == np.float32
    assert (prepared_cache.path / "index.jsonl").read_text().count("\n") == 60


def test_crema_dir(crema_dir):
    assert len(sorted(crema_dir.glob("*.flv"))) == 3
