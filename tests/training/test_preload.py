"""Preloaded clips (`preload`): the same batches as the cache loader, the same training, "auto" off on CPU."""

from __future__ import annotations

import pytest
import torch

from avemotion.errors import ConfigError
from avemotion.training import train
from avemotion.training.datamodule import CPU_PRELOAD_BYTES, FoldDataModule, resolve_preload
from avemotion.training.presets import TrainConfig
from avemotion.utils.io import read_json


def _epoch(data: FoldDataModule, epoch: int, loader: str = "train") -> list[dict]:
    data.train_set.set_epoch(epoch)
    batches = getattr(data, f"{loader}_dataloader")()
    if loader == "train":
        batches.sampler.set_epoch(epoch)
    return list(batches)


def test_preloaded_batches_equal_the_cache_loaders_bit_for_bit(prepared_cache):
    from avemotion.data.transforms import crop_batch

    ids = prepared_cache.clip_ids()
    train_ids, val_ids = ids[:21], ids[40:50]  # 21 = 4 + 4 + 4 + 4 + 4 + 1: the batch of one is dropped
    settings = dict(batch_size=4, augment="clip", seed=5)
    cached = FoldDataModule(prepared_cache, train_ids, val_ids, crop_on_device=True, preload="off", **settings)
    loaded = FoldDataModule(prepared_cache, train_ids, val_ids, preload="on", **settings)
    for data in (cached, loaded):
        data.setup()
    assert (cached.preloaded, loaded.preloaded) == (False, True)
    for epoch in (0, 3):
        a, b = _epoch(cached, epoch), _epoch(loaded, epoch)
        assert len(a) == len(b) == 5
        for x, y in zip(a, b):
            assert "crop" not in y and set(y) == set(x) - {"crop"}
            assert y["video"].dtype == torch.uint8 and y["video"].is_contiguous()
            assert torch.equal(crop_batch(x["video"], x["crop"]), y["video"])
            _assert_same_fields(x, y)
    for x, y in zip(_epoch(cached, 0, "val"), _epoch(loaded, 0, "val")):
        assert torch.equal(x["video"], y["video"])
        _assert_same_fields(x, y)


def _assert_same_fields(x: dict, y: dict) -> None:
    assert x["clip_id"] == y["clip_id"] and x["gender"] == y["gender"]
    for key in ("audio", "label", "actor", "intensity"):
        assert x[key].dtype == y[key].dtype and torch.equal(x[key], y[key]), key


def test_frame_augmentation_matches_the_cache_dataset(prepared_cache):
    from torch.utils.data import default_collate

    from avemotion.data.dataset import ClipDataset, PreloadedClips, load_store

    ids = prepared_cache.clip_ids()[:3]
    cached = ClipDataset(prepared_cache, ids, augment="frame", seed=1)
    loaded = PreloadedClips(load_store(prepared_cache, ids), ids, augment="frame", seed=1)
    for ds in (cached, loaded):
        ds.set_epoch(2)
    assert torch.equal(default_collate([cached[i] for i in (2, 0)])["video"], loaded.__getitems__([2, 0])["video"])


def test_a_preloaded_item_is_one_clip_typed_like_a_cache_datasets_item(prepared_cache):
    from avemotion.data.dataset import ClipDataset, PreloadedClips, load_store

    ids = prepared_cache.clip_ids()[:3]
    cached = ClipDataset(prepared_cache, ids, augment="none")
    loaded = PreloadedClips(load_store(prepared_cache, ids), ids, augment="none")
    for i in range(3):
        a, b = cached[i], loaded[i]
        assert b["video"].shape == a["video"].shape and b["audio"].shape == a["audio"].shape  # no batch axis
        assert torch.equal(a["video"], b["video"]) and torch.equal(a["audio"], b["audio"])
        assert int(b["label"]) == int(a["label"]) and b["clip_id"] == a["clip_id"] and int(b["actor"]) == a["actor"]


def test_lightnings_batch_transfer_leaves_preloaded_tensors_in_place(prepared_cache):
    from lightning.fabric.utilities.apply_func import move_data_to_device

    ids = prepared_cache.clip_ids()
    data = FoldDataModule(prepared_cache, ids[:8], ids[8:12], batch_size=4, preload="on")
    data.setup()
    batch = next(iter(data.train_dataloader()))
    moved = move_data_to_device(batch, data.device())
    assert all(moved[k] is batch[k] for k in ("video", "audio", "label"))


def test_ddp_shards_the_preloaded_loader_like_any_other(prepared_cache):
    # What Lightning does under DDP: rebuild the loader around a DistributedSampler per rank.
    from lightning.pytorch.utilities.data import _update_dataloader
    from torch.utils.data import DistributedSampler

    ids = prepared_cache.clip_ids()[:16]
    data = FoldDataModule(prepared_cache, ids, ids[:4], batch_size=4, preload="on")
    data.setup()
    loader = data._loader(data.train_set, shuffle=True, train=True)  # train_dataloader() under DDP
    seen = []
    for rank in (0, 1):
        sampler = DistributedSampler(data.train_set, num_replicas=2, rank=rank, shuffle=True, seed=0)
        for batch in _update_dataloader(loader, sampler):
            assert batch["video"].shape[0] == 4 and len(batch["clip_id"]) == 4
            seen += batch["clip_id"]
    assert sorted(seen) == sorted(ids)


def test_training_with_preload_gives_the_same_model(prepared_cache, tmp_path):
    # 4 actors: 2 outer folds of 2, 1 validation and 1 training actor; the video network sees the crops
    settings = dict(preset="small", folds="0", n_folds=2, n_val=1, epochs=2, batch_size=4, seed=3)
    docs = {}
    for preload in ("off", "on"):
        out = tmp_path / preload
        train("video", prepared_cache.path, out, preload=preload, **settings)
        docs[preload] = read_json(out / "fold_0" / "video" / "metrics.json")
        assert read_json(out / "run.json")["launch"]["preload"] == preload
    off, on = docs["off"], docs["on"]
    assert (off["engine"]["preload"], on["engine"]["preload"]) == (False, True)
    assert off["epoch"] == on["epoch"]
    for key, value in off["selection_metrics"].items():  # validation scores of the selected epoch
        assert on["selection_metrics"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    for p, q in zip(off["predictions"], on["predictions"]):
        assert p["clip_id"] == q["clip_id"] and p["pred"] == q["pred"]
        assert q["probs"] == pytest.approx(p["probs"], abs=1e-4)


def test_preload_settings_and_auto_resolution(monkeypatch):
    with pytest.raises(ConfigError, match="preload must be one of"):
        TrainConfig(preload="yes")
    assert TrainConfig().preload == "auto"
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert resolve_preload("on", cpu, 10**12) is True
    assert resolve_preload("off", gpu, 1) is False
    # the CPU: small folds only (an MFCC-only fold), never a video fold of RAVDESS size
    assert resolve_preload("auto", cpu, CPU_PRELOAD_BYTES) is True
    assert resolve_preload("auto", cpu, CPU_PRELOAD_BYTES + 1) is False
    # CUDA: 10 GB free in the driver's view, plus 2 GB cached by torch but unused
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * 2**30, 80 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 3 * 2**30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 2**30)
    assert resolve_preload("auto", gpu, int(0.4 * 12 * 2**30)) is True
    assert resolve_preload("auto", gpu, int(0.4 * 12 * 2**30) + 1) is False
