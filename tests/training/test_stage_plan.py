"""Issue 22: a stage is a value. The protocol plans each stage whole (clips, actors, settings, hash,
rule, where its weights start) as a frozen Stage, once; training.run only executes it."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from avemotion.config import PreprocessConfig
from avemotion.data.folds import Fold
from avemotion.errors import ConfigError
from avemotion.models import create_model
from avemotion.models.checkpoint import save_checkpoint
from avemotion.registries import selection as selection_rules
from avemotion.run_layout import RunLayout, StageResult
from avemotion.training.presets import get_preset, settings_hash
from avemotion.training.protocol import plan, plan_stage

FOLD = Fold(0, (1, 2), (3,), (4, 5), test_ids=("t1", "t2"), val_ids=("v1",), train_ids=("a1", "a2", "a3"))


def context(tmp_path, **overrides):
    cfg = get_preset("small", **overrides)
    clips = {c: f"digest-{c}" for c in FOLD.test_ids + FOLD.val_ids + FOLD.train_ids}
    return SimpleNamespace(cfg=cfg, clips=clips, preprocess_hash="p", layout=RunLayout.for_training(tmp_path))


def finish(ctx, stage: str, epoch: int) -> None:
    """A finished selection stage whose checkpoint was selected at `epoch`."""
    torch.manual_seed(0)
    save_checkpoint(create_model(stage, scale="tiny"), ctx.layout.best(0, stage), preprocess=PreprocessConfig(),
                    extra={"epoch": epoch})
    ctx.layout.write_result(StageResult(fold=0, stage=stage, settings_hash="h", metrics={}, predictions=()))


def test_a_stage_is_frozen_and_its_settings_read_only(tmp_path):
    stage = plan_stage(context(tmp_path), FOLD, "cfn_sr", "cfn_sr")
    with pytest.raises(dataclasses.FrozenInstanceError):
        stage.epochs = 3
    with pytest.raises(TypeError):
        stage.settings["epochs"] = 3
    assert stage.hash == settings_hash(dict(stage.settings))


def test_a_selection_stage_trains_on_training_actors_and_selects_on_validation_actors(tmp_path):
    stage = plan_stage(context(tmp_path), FOLD, "cfn_sr", "cfn_sr")
    assert (stage.train_ids, stage.val_ids, stage.test_ids) == (FOLD.train_ids, FOLD.val_ids, FOLD.test_ids)
    assert stage.train_actors == (4, 5) and stage.test_actors == (1, 2)
    assert stage.rule == "val" and stage.init == "unimodal" and not stage.is_refit


def test_the_published_rule_selects_on_the_test_clips(tmp_path):
    stage = plan_stage(context(tmp_path, selection=selection_rules.published_rule()), FOLD, "audio", "cfn_sr")
    assert stage.val_ids == FOLD.test_ids and stage.rule == selection_rules.published_rule()


def test_unimodal_and_end_to_end_stages_build_their_own_weights(tmp_path):
    assert plan_stage(context(tmp_path), FOLD, "video", "cfn_sr").init == "own"
    assert plan_stage(context(tmp_path, recipe="end-to-end"), FOLD, "cfn_sr", "cfn_sr").init == "own"


def test_a_stages_clips_digest_changes_with_any_clips_content(tmp_path):
    ctx = context(tmp_path)
    before = plan_stage(ctx, FOLD, "audio", "audio").clips
    ctx.clips["v1"] = "other content"
    assert plan_stage(ctx, FOLD, "audio", "audio").clips != before


def test_a_refit_trains_on_train_and_validation_actors_for_the_selected_epoch_count(tmp_path):
    ctx = context(tmp_path, refit=True)
    finish(ctx, "audio", epoch=4)
    refit = plan_stage(ctx, FOLD, "audio-refit", "audio")
    assert refit.train_ids == FOLD.train_ids + FOLD.val_ids and refit.val_ids == ()
    assert refit.train_actors == (3, 4, 5) and refit.epochs == 5
    assert refit.rule == selection_rules.REFIT_STAGE_RULE and refit.is_refit and refit.base == "audio"
    assert refit.settings["refit_of"] == plan_stage(ctx, FOLD, "audio", "audio").hash


def test_a_refit_is_planned_only_once_its_selection_stage_has_run(tmp_path):
    ctx = context(tmp_path, refit=True)
    stages = plan(ctx, FOLD, "audio")
    assert next(stages).name == "audio"  # planned without reading anything that training writes
    with pytest.raises(ConfigError, match="audio-refit: the selection stage .* has not finished"):
        next(stages)
    finish(ctx, "audio", epoch=1)
    assert [s.name for s in plan(ctx, FOLD, "audio")] == ["audio", "audio-refit"]
