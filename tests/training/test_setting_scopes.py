"""Issue 22, defect 4: which settings decide whether a finished stage is reused is derived from one
declaration on the TrainConfig fields (their scope), never from hand-kept lists. Every field is
classified, and changing any field of a scope changes exactly what that scope promises."""

from __future__ import annotations

import dataclasses
import typing
from types import SimpleNamespace

import pytest

from avemotion.data.folds import Fold
from avemotion.errors import ConfigError
from avemotion.training import presets
from avemotion.training.presets import SCOPES, TrainConfig, learning_settings, settings_hash
from avemotion.training.protocol import selection_settings

FIELDS = dataclasses.fields(TrainConfig)
FOLD = Fold(0, (1, 2), (3, 4), (5, 6, 7, 8))
MODEL = "cfn_sr"
# every choice TrainConfig validates against, and free strings: a changed value is the first that
# TrainConfig accepts and differs from the current one
CANDIDATES = ("tiny", "full", "off", "on", "auto", "mask", "cosine", "train", "frame", "none", "last", "test-legacy",
              "end-to-end", "32", "x.pth")


def changed(cfg: TrainConfig, f: dataclasses.Field, stage: str) -> TrainConfig:
    """`cfg` with field `f` set to another valid value (dicts gain an entry for `stage`)."""
    value = getattr(cfg, f.name)
    kind = typing.get_type_hints(TrainConfig)[f.name]
    if isinstance(value, bool):
        options = [not value]
    elif isinstance(value, (int, float)):
        options = [value + 1 if isinstance(value, int) else value + 0.125]
    elif isinstance(value, dict):
        options = [{**value, stage: 3}]
    elif value is None:
        options = [5] if int in typing.get_args(kind) else ["x.pth"]
    else:
        options = [c for c in CANDIDATES if c != value]
    for option in options:
        try:
            return cfg.replace(**{f.name: option})
        except ConfigError:
            continue
    raise AssertionError(f"no other valid value found for {f.name}")


def stage_hash(cfg: TrainConfig, stage: str) -> str:
    ctx = SimpleNamespace(cfg=cfg, preprocess_hash="p")
    return settings_hash(selection_settings(ctx, FOLD, stage, MODEL))


def test_every_field_is_classified():
    unclassified = [f.name for f in FIELDS if f.metadata.get("scope") not in SCOPES]
    assert not unclassified


@pytest.mark.parametrize("base", ["paper", "small"])
def test_changing_a_stage_setting_retrains_the_fusion_stage(base):
    cfg = presets.get_preset(base)
    for f in presets.scoped("stage", "fusion"):
        assert stage_hash(changed(cfg, f, MODEL), MODEL) != stage_hash(cfg, MODEL), f.name


@pytest.mark.parametrize("stage", ["video", "audio"])
def test_changing_a_stage_setting_retrains_a_unimodal_stage(stage):
    """Stage scope reaches the unimodal stages too (fusion scope does not: they are shared)."""
    cfg = presets.get_preset("paper")  # unimodal_epochs None: the unimodal count follows epochs
    for f in presets.scoped("stage"):
        assert stage_hash(changed(cfg, f, stage), stage) != stage_hash(cfg, stage), f.name
    for f in presets.scoped("fusion"):
        assert stage_hash(changed(cfg, f, stage), stage) == stage_hash(cfg, stage), f.name


def test_every_setting_but_launch_ones_binds_the_run_folder():
    """run.json's settings (which a second command into the folder must match) hold every field but
    the launch ones; launch settings change no hash at all, so a run resumes on another machine."""
    cfg = presets.get_preset("paper")
    for f in FIELDS:
        other = changed(cfg, f, MODEL)
        if f.metadata["scope"] == "launch":
            assert learning_settings(other) == learning_settings(cfg), f.name
            assert stage_hash(other, MODEL) == stage_hash(cfg, MODEL), f.name
        else:
            assert learning_settings(other) != learning_settings(cfg), f.name


def test_the_published_recipe_keeps_its_stage_hashes():
    """Options beyond the published recipe ("extra") are named only when set."""
    cfg = presets.get_preset("paper")
    extras = [f for f in FIELDS if f.metadata["extra"]]
    assert extras and all(f.metadata["scope"] == "stage" for f in extras)
    names = set(selection_settings(SimpleNamespace(cfg=cfg, preprocess_hash="p"), FOLD, MODEL, MODEL))
    assert not names & {f.name for f in extras}
