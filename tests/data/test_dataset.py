import numpy as np
import torch

from avemotion.data.dataset import ClipDataset
from avemotion.data.transforms import IMAGENET_MEAN, IMAGENET_STD, augment_video, normalize_video


def test_items(prepared_cache):
    ds = ClipDataset(prepared_cache, augment="none")
    item = ds[0]
    assert item["video"].shape == (3, 8, 48, 48) and item["video"].dtype == torch.uint8
    assert item["audio"].shape == (13, 212) and item["audio"].dtype == torch.float32
    assert item["label"].dtype == torch.int64
    rec = prepared_cache.record(item["clip_id"])
    assert (item["label"].item(), item["actor"], item["gender"], item["intensity"]) == (
        rec["label"], rec["actor"], rec["gender"], rec["intensity"])
    video, _ = prepared_cache.load(item["clip_id"])
    assert torch.equal(item["video"], torch.from_numpy(np.array(video)).permute(3, 0, 1, 2))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["video"].shape == (4, 3, 8, 48, 48)


def test_clip_augmentation_is_consistent_over_frames():
    frame = torch.arange(3 * 32 * 32, dtype=torch.float32).reshape(3, 32, 32) % 251
    video = frame[:, None].repeat(1, 6, 1, 1).to(torch.uint8)  # 6 identical frames
    rng = np.random.default_rng(0)
    clip = [augment_video(video, "clip", rng) for _ in range(5)]
    assert all(all(torch.equal(v[:, 0], v[:, t]) for t in range(6)) for v in clip)
    assert any(not torch.equal(v, video) for v in clip)
    per_frame = augment_video(video, "frame", np.random.default_rng(0))
    assert any(not torch.equal(per_frame[:, 0], per_frame[:, t]) for t in range(1, 6))
    assert torch.equal(augment_video(video, "none", rng), video)


def test_augmentation_reproducible_per_epoch(prepared_cache):
    ds = ClipDataset(prepared_cache, augment="clip", seed=3)
    a, b = ds[1]["video"], ds[1]["video"]
    assert torch.equal(a, b)
    draws = []
    for epoch in range(4):
        ds.set_epoch(epoch)
        draws.append(ds[1]["video"])
    assert any(not torch.equal(draws[0], d) for d in draws[1:])


def test_subset_and_normalize(prepared_cache):
    ids = prepared_cache.clip_ids()[:5]
    ds = ClipDataset(prepared_cache, ids, augment="none")
    assert len(ds) == 5 and [ds[i]["clip_id"] for i in range(5)] == ids
    v = torch.full((2, 3, 4, 8, 8), 255, dtype=torch.uint8)
    out = normalize_video(v)
    assert out.dtype == torch.float32
    for c in range(3):
        assert torch.allclose(out[:, c], torch.tensor((1 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]))
