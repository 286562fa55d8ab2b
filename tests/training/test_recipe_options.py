"""Recipe options beyond the published one (docs/results.md measures them on the real voices):
MFCC augmentation, MFCC normalisation fitted on training actors, label smoothing, a cosine
schedule; and the final epoch's test score recorded beside the selected one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from avemotion.data.transforms import MFCC_SHIFT, MFCC_TIME_MASKS, MFCC_TIME_WIDTH, augment_mfcc
from avemotion.models import create_model
from avemotion.training.presets import TrainConfig, learning_settings
from avemotion.utils.io import read_json


def ramp() -> torch.Tensor:
    return torch.arange(13 * 212, dtype=torch.float32).reshape(13, 212)


def explains(out: torch.Tensor, mfcc: torch.Tensor) -> bool:
    """Whether `out` is `mfcc` shifted by one offset of at most MFCC_SHIFT frames (edges repeated),
    with at most 2 x 16 whole frames and 2 coefficients (never c0) set to the shifted clip's means."""
    for shift in range(-MFCC_SHIFT, MFCC_SHIFT + 1):
        shifted = mfcc[:, torch.clamp(torch.arange(212) - shift, 0, 211)]
        mean = shifted.mean(dim=1, keepdim=True)
        frames = (out == mean).all(dim=0)
        rows = (out[:, ~frames] != shifted[:, ~frames]).any(dim=1)
        if rows[0] or int(frames.sum()) > MFCC_TIME_MASKS * MFCC_TIME_WIDTH or int(rows.sum()) > 2:
            continue
        if all(torch.equal(out[r, ~frames], mean[r].expand(int((~frames).sum()))) for r in torch.nonzero(rows)[:, 0]):
            return True
    return False


def test_augment_mfcc_shifts_in_time_and_masks_with_the_clips_own_means():
    mfcc = ramp()
    for seed in range(50):
        out = augment_mfcc(mfcc, np.random.default_rng(seed))
        assert out.shape == mfcc.shape and torch.equal(mfcc, ramp())  # the input is left alone
        assert explains(out, mfcc), seed
        assert out[0].min() >= mfcc[0].min() and out[0].max() <= mfcc[0].max()  # c0 never leaves its range
    draws = {tuple(augment_mfcc(mfcc, np.random.default_rng(s))[0, :5].tolist()) for s in range(20)}
    assert len(draws) > 5  # the draw varies
    a, b = (augment_mfcc(mfcc, np.random.default_rng(7)) for _ in range(2))
    assert torch.equal(a, b)  # a function of its generator


def test_audio_augmentation_changes_training_audio_only_and_leaves_video_draws_alone(prepared_cache):
    from avemotion.data.dataset import ClipDataset

    ids = prepared_cache.clip_ids()[:4]
    plain = ClipDataset(prepared_cache, ids, augment="clip", seed=3)
    masked = ClipDataset(prepared_cache, ids, augment="clip", seed=3, audio_augment="mask")
    for i in range(len(ids)):
        assert torch.equal(plain[i]["video"], masked[i]["video"])
        assert not torch.equal(plain[i]["audio"], masked[i]["audio"])
    with pytest.raises(ValueError, match="audio_augment must be one of"):
        ClipDataset(prepared_cache, ids, audio_augment="noise")


def test_label_smoothing_reaches_the_loss():
    model = create_model("audio", scale="tiny").eval()
    audio, target = torch.randn(4, 13, 212), torch.tensor([0, 1, 2, 3])
    model.label_smoothing = 0.2
    loss, logits = model.loss(None, audio, target)
    assert torch.allclose(loss, F.cross_entropy(logits, target, label_smoothing=0.2))
    assert not torch.allclose(loss, F.cross_entropy(logits, target))


def test_cosine_schedule_anneals_to_zero_over_the_stage_epochs():
    from types import SimpleNamespace

    from avemotion.training.module import AVLightningModule

    lit = AVLightningModule(create_model("audio", scale="tiny"), lr=1e-3, lr_schedule="cosine")
    lit._trainer = SimpleNamespace(max_epochs=4)
    conf = lit.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-3) and lrs == sorted(lrs, reverse=True)
    assert opt.param_groups[0]["lr"] == pytest.approx(0, abs=1e-12)
    lit = AVLightningModule(create_model("audio", scale="tiny"), lr=1e-3)
    assert isinstance(lit.configure_optimizers(), torch.optim.Adam)  # the published constant rate


def test_recipe_options_enter_the_settings_only_when_set():
    assert "label_smoothing" not in learning_settings(TrainConfig())  # earlier runs keep their hashes
    assert learning_settings(TrainConfig(label_smoothing=0.1))["label_smoothing"] == 0.1
    for bad in (dict(lr_schedule="step"), dict(mfcc_norm="test"), dict(label_smoothing=1.0)):
        with pytest.raises(Exception, match="must be"):
            TrainConfig(**bad)


def test_mfcc_norm_is_fitted_on_the_training_clips_only_and_the_last_epoch_is_scored(speech_subset_prepared, tmp_path):
    from avemotion.models.checkpoint import load_checkpoint
    from avemotion.training import train

    _, cache = speech_subset_prepared
    out = tmp_path / "run"
    train("audio", cache.path, out, preset="small", folds=[0], n_folds=4, n_val=1, epochs=2, mfcc_norm="train",
          log=lambda *a, **k: None)
    manifest = read_json(out / "folds" / "fold_0.json")
    model, _ = load_checkpoint(out / "fold_0" / "audio" / "best")
    train_mfcc = torch.from_numpy(np.stack([cache.load(c)[1] for c in manifest["train"]]))
    torch.testing.assert_close(model.mfcc_norm.mean[:, 0], train_mfcc.mean(dim=(0, 2)))
    torch.testing.assert_close(model.mfcc_norm.std[:, 0], train_mfcc.std(dim=(0, 2)))
    every = torch.from_numpy(np.stack([cache.load(c)[1] for c in manifest["train"] + manifest["test"]]))
    assert not torch.allclose(model.mfcc_norm.mean[:, 0], every.mean(dim=(0, 2)))
    doc = read_json(out / "fold_0" / "audio" / "metrics.json")
    assert doc["last_epoch"]["epoch"] == 1
    assert sorted(p["clip_id"] for p in doc["last_epoch"]["predictions"]) == sorted(manifest["test"])
