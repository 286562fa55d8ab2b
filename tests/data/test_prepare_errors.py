"""prepare_one: a bad file is one reported failure, a bug is not hidden as `corrupt`."""

import av
import pytest

from avemotion.config import PreprocessConfig
from avemotion.data import preprocess
from avemotion.data.cache import ClipCache
from avemotion.data.datasets import scan_dataset
from avemotion.data.prepare import PrepareBug, prepare_one

CFG = PreprocessConfig(num_frames=4, frame_size=32, short_clip="pad")


@pytest.fixture()
def job(crema_dir, tmp_path):
    record = scan_dataset(crema_dir).records[0]
    cache = ClipCache.create(tmp_path / "cache", CFG)
    return record, (record.to_dict(), str(cache.path), CFG.to_dict())


def test_decoder_errors_are_corrupt_and_bugs_surface_with_the_file(job, monkeypatch):
    record, args = job

    def damaged(*_, **__):
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(preprocess, "preprocess", damaged)
    error = prepare_one(*args)["error"]
    assert error["reason"] == "corrupt" and error["file"] == str(record.path)

    def bug(*_, **__):
        raise KeyError("boxes")

    monkeypatch.setattr(preprocess, "preprocess", bug)
    with pytest.raises(PrepareBug, match=f"^{record.path}: unexpected KeyError") as err:
        prepare_one(*args)
    assert isinstance(err.value.__cause__, KeyError)


def test_a_good_clip_is_cached(job):
    record, args = job
    assert prepare_one(*args) == {"ok": record.clip_id, "face_source": "detector", "warnings": []}
    assert prepare_one(*args) == {"other": record.clip_id, "detail": "prepared by another process meanwhile"}
