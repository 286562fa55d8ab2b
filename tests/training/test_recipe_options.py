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
    with pytest.raises(ValueError, match="audio augmentation must be none or"):
        ClipDataset(prepared_cache, ids, audio_augment="reverb")
    with pytest.raises(ValueError, match="audio augmentation must be none or"):
        ClipDataset(prepared_cache, ids, audio_augment="mask+mask")


def test_mask_draws_the_same_with_or_without_the_other_parts_switched_off():
    """"mask" alone is what it always was: the new parts draw from the generator only when on."""
    mfcc = ramp()
    for seed in range(5):
        alone = augment_mfcc(mfcc, np.random.default_rng(seed), ("mask",))
        assert explains(alone, mfcc)
        assert torch.equal(alone, augment_mfcc(mfcc, np.random.default_rng(seed)))  # the default parts


def test_tempo_resamples_the_time_axis_around_the_centre_within_the_drawn_factor():
    from avemotion.data.transforms import MFCC_TEMPO

    mfcc = ramp()  # row r is r * 212 + t: linear in time, so resampling keeps it linear
    for seed in range(10):
        out = augment_mfcc(mfcc, np.random.default_rng(seed), ("tempo",))
        slope = (out[:, 120] - out[:, 90]) / 30  # inside the frames no edge is repeated at
        assert torch.allclose(slope, slope[0].expand(13))
        assert 1 - MFCC_TEMPO - 1e-4 <= float(slope[0]) <= 1 + MFCC_TEMPO + 1e-4 and float(slope[0]) != 1
        assert torch.allclose(out[:, 105:107].mean(dim=1), mfcc[:, 105:107].mean(dim=1), atol=0.2)  # centre stays
        assert out.min() >= mfcc.min() and out.max() <= mfcc.max()


def test_noise_is_scaled_to_each_coefficients_own_spread_in_the_clip():
    from avemotion.data.transforms import MFCC_NOISE

    mfcc = torch.randn(13, 212) * torch.logspace(0, 2, 13)[:, None]  # coefficients of very different scales
    for seed in range(5):
        out = augment_mfcc(mfcc, np.random.default_rng(seed), ("noise",))
        ratio = (out - mfcc).std(dim=1) / mfcc.std(dim=1)
        assert float(ratio.max()) <= MFCC_NOISE * 1.25 and float(ratio.max() - ratio.min()) < 0.06


def test_parts_are_applied_in_one_order_however_they_are_spelled():
    from avemotion.data.transforms import audio_augment_parts

    assert audio_augment_parts("tempo+noise+mask") == audio_augment_parts("mask+tempo+noise") == ("mask", "noise", "tempo")
    assert audio_augment_parts("none") == ()


def test_speaker_norm_standardises_every_speaker_by_its_own_clips(speech_subset_prepared):
    from avemotion.data.dataset import ClipDataset, speaker_mfcc_stats

    _, cache = speech_subset_prepared
    stats = speaker_mfcc_stats(cache)
    records = cache.records()
    assert set(stats) == {r["actor"] for r in records}
    for actor in (1, 6):
        ids = [r["clip_id"] for r in records if r["actor"] == actor]
        normed = torch.stack([item["audio"] for item in ClipDataset(cache, ids, augment="none", speaker_norm=stats)])
        torch.testing.assert_close(normed.mean(dim=(0, 2)), torch.zeros(13), atol=1e-4, rtol=0)
        torch.testing.assert_close(normed.std(dim=(0, 2), correction=0), torch.ones(13), atol=1e-3, rtol=0)
    assert not torch.allclose(stats[1][0], stats[6][0])  # speakers differ


def test_a_speaker_normalised_run_scores_with_the_test_speakers_own_statistics_and_predict_refuses_it(speech_subset_prepared, tmp_path):
    from avemotion.data.dataset import speaker_mfcc_stats
    from avemotion.errors import ConfigError
    from avemotion.evaluation.scoring import cached_clip_loader, predict_cached
    from avemotion.inference import Recognizer
    from avemotion.models.checkpoint import load_checkpoint
    from avemotion.training import train

    _, cache = speech_subset_prepared
    out = tmp_path / "run"
    train("audio", cache.path, out, preset="small", folds=[0], n_folds=4, n_val=1, epochs=2, mfcc_norm="speaker")
    manifest = read_json(out / "folds" / "fold_0.json")
    model, _ = load_checkpoint(out / "fold_0" / "audio" / "best")
    assert model.mfcc_norm is None  # the statistics belong to the speakers, not to the model
    doc = read_json(out / "fold_0" / "audio" / "metrics.json")
    again = predict_cached(model, cached_clip_loader(cache, manifest["test"], 16, speaker_norm=speaker_mfcc_stats(cache)))
    assert [p["probs"] for p in again] == [p["probs"] for p in doc["predictions"]]
    raw = predict_cached(model, cached_clip_loader(cache, manifest["test"], 16))
    assert [p["probs"] for p in raw] != [p["probs"] for p in doc["predictions"]]
    with pytest.raises(ConfigError, match="per-speaker MFCC normalisation"):
        Recognizer.from_run(out)


def test_label_smoothing_reaches_the_loss():
    from avemotion.training.module import AVLightningModule

    model = create_model("audio", scale="tiny").eval()
    batch = {"video": torch.zeros(4, 3, 1, 1, 1, dtype=torch.uint8), "audio": torch.randn(4, 13, 212),
             "label": torch.tensor([0, 1, 2, 3])}
    loss, logits = AVLightningModule(model, label_smoothing=0.2)._step(batch)
    assert torch.allclose(loss, F.cross_entropy(logits, batch["label"], label_smoothing=0.2))
    assert not torch.allclose(loss, F.cross_entropy(logits, batch["label"]))


@pytest.mark.parametrize("name", ["audio", "multiplicative", "cfn_sr"])
def test_the_training_module_sets_no_attribute_on_the_model(name):
    """Settings reach a model as arguments (issue 22, defect 3): wrapping it changes none of its
    own attributes."""
    from avemotion.training.module import AVLightningModule

    model = create_model(name, scale="tiny")
    before = {k: v for k, v in vars(model).items() if not k.startswith("_")}
    AVLightningModule(model, lr=3e-4, weight_decay=0.1, label_smoothing=0.2, lr_schedule="cosine")
    assert {k: v for k, v in vars(model).items() if not k.startswith("_")} == before


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


@pytest.mark.parametrize("stage", ["audio", "cfn_sr"])
def test_recipe_options_enter_the_settings_only_when_set(stage):
    """Each option beyond the published recipe enters a stage's settings hash when set, and is
    absent at its default, so stages trained before it existed keep their hashes."""
    from types import SimpleNamespace

    from avemotion.data.folds import Fold
    from avemotion.training.presets import RECIPE_EXTRAS, settings_hash
    from avemotion.training.protocol import selection_settings

    def stage_settings(cfg):
        return selection_settings(SimpleNamespace(cfg=cfg, preprocess_hash="p"), Fold(0, (1,), (2,), (3, 4)), stage, stage)

    published = stage_settings(TrainConfig())
    assert RECIPE_EXTRAS and not set(RECIPE_EXTRAS) & set(published)
    for name, value in (("label_smoothing", 0.1), ("lr_schedule", "cosine"), ("mfcc_norm", "train"),
                        ("audio_augment", "mask")):
        assert name in RECIPE_EXTRAS
        settings = stage_settings(TrainConfig(**{name: value}))
        assert settings[name] == value and settings_hash(settings) != settings_hash(published), name
        assert learning_settings(TrainConfig(**{name: value}))[name] == value
    assert "label_smoothing" not in learning_settings(TrainConfig())  # earlier runs keep their hashes
    for bad in (dict(lr_schedule="step"), dict(mfcc_norm="test"), dict(label_smoothing=1.0)):
        with pytest.raises(Exception, match="must be"):
            TrainConfig(**bad)


def test_mfcc_norm_is_fitted_on_the_training_clips_only_and_the_last_epoch_is_scored(speech_subset_prepared, tmp_path):
    from avemotion.models.checkpoint import load_checkpoint
    from avemotion.training import train

    _, cache = speech_subset_prepared
    out = tmp_path / "run"
    train("audio", cache.path, out, preset="small", folds=[0], n_folds=4, n_val=1, epochs=2, mfcc_norm="train")
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


def test_the_improved_preset_is_the_published_recipe_plus_the_chosen_options_only():
    from avemotion.training.presets import IMPROVED, PRESETS, recipe_extras

    paper, improved = PRESETS["paper"], PRESETS["improved"]
    assert recipe_extras(paper) == {}  # the paper preset stays the published recipe
    assert recipe_extras(improved) == IMPROVED
    same = {k: v for k, v in paper.to_dict().items() if k not in IMPROVED and k != "preset"}
    assert {k: improved.to_dict()[k] for k in same} == same
    assert improved.mfcc_norm != "speaker"  # transductive options never enter a preset
