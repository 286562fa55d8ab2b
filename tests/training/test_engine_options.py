"""Engine switches that must not change results: memory format, batch-of-one guard, DDP strategy."""

import torch

from avemotion.models import create_model
from avemotion.training.datamodule import FoldDataModule
from avemotion.training.module import AVLightningModule
from avemotion.training.engine import ddp_strategy, on_cuda_or


def test_channels_last_gives_the_same_loss_and_gradients(random_batch):
    results = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        lit = AVLightningModule(create_model("cfn_sr", scale="tiny"), channels_last=channels_last).eval()
        loss, logits = lit._step(random_batch())
        loss.backward()
        grad = lit.model.video_encoder.conv1.weight.grad.clone()
        results.append((loss.detach(), logits.detach(), grad))
    (l0, z0, g0), (l1, z1, g1) = results
    torch.testing.assert_close(l0, l1, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(z0, z1, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(g0, g1, rtol=1e-3, atol=1e-5)


def test_gpu_only_switches_are_off_without_cuda():
    assert on_cuda_or("on") is True
    assert on_cuda_or("off") is False
    assert on_cuda_or("auto") is torch.cuda.is_available()


def test_a_last_training_batch_of_one_clip_is_dropped(prepared_cache):
    ids = prepared_cache.clip_ids()
    for n, expected_batches in ((9, 2), (10, 3)):  # batch 4: 9 = 4+4+1 -> drop the 1; 10 = 4+4+2
        data = FoldDataModule(prepared_cache, ids[:n], ids[:2], batch_size=4)
        data.setup()
        sizes = [b["label"].shape[0] for b in data.train_dataloader()]
        assert len(sizes) == expected_batches and min(sizes) >= 2, sizes


def test_ddp_looks_for_unused_parameters_only_where_a_model_has_them(monkeypatch):
    concat = create_model("concat_fc", scale="tiny")
    cfn = create_model("cfn_sr", scale="tiny")
    assert ddp_strategy(concat) == ddp_strategy(cfn) == "auto"  # one process: no DDP at all
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert ddp_strategy(concat) == "ddp_find_unused_parameters_true"
    assert ddp_strategy(cfn) == "auto"


def test_crop_on_the_device_trains_on_the_same_pixels(prepared_cache):
    from torch.utils.data import default_collate

    from avemotion.data.dataset import ClipDataset

    ids = prepared_cache.clip_ids()[:4]
    on_loader = ClipDataset(prepared_cache, ids, augment="clip", seed=3)
    deferred = ClipDataset(prepared_cache, ids, augment="clip", seed=3, defer_crop=True)
    for ds in (on_loader, deferred):
        ds.set_epoch(2)
    a = default_collate([on_loader[i] for i in range(4)])
    b = default_collate([deferred[i] for i in range(4)])
    assert "crop" in b and "crop" not in a
    assert not torch.equal(a["video"], b["video"])  # the loader left the deferred clips uncropped
    from avemotion.data.transforms import crop_batch

    assert torch.equal(crop_batch(b["video"], b["crop"]), a["video"])
    torch.manual_seed(0)
    lit = AVLightningModule(create_model("cfn_sr", scale="tiny")).eval()
    loss_a, logits_a = lit._step(a)
    loss_b, logits_b = lit._step(b)
    torch.testing.assert_close(logits_a, logits_b)
    torch.testing.assert_close(loss_a, loss_b)


def test_crop_boxes_stay_on_the_host_when_a_batch_moves_to_the_device(monkeypatch):
    # crop_batch reads the boxes as Python ints: boxes on the GPU would stall every step.
    lit = AVLightningModule(create_model("audio", scale="tiny"))
    batch = {"video": torch.zeros(2, 3, 2, 4, 4, dtype=torch.uint8), "crop": torch.zeros(2, 5, dtype=torch.int64)}
    moved = []
    monkeypatch.setattr(torch.Tensor, "to", lambda self, *a, **k: moved.append(self.shape) or self)
    out = lit.transfer_batch_to_device(batch, torch.device("cpu"), 0)
    assert out["crop"] is batch["crop"] and "crop" in out
    assert moved == [torch.Size([2, 3, 2, 4, 4])]
