"""Like for like with the published code: who trains under each selection rule, --n-val 0, --refit,
--legacy, refused partial initialisation, and one option set for train and reproduce.

Runs are kept short: the audio network (0.02M parameters at the tiny scale) or tiny CFN-SR, one
outer fold, one to three epochs, on the 8-actor synthetic cache of conftest.py.
"""

from __future__ import annotations

import csv

import pytest
import torch

from avemotion.errors import ConfigError
from avemotion.training import train
from avemotion.utils.io import read_json

# 8 actors: 4 outer folds of 2 test actors; "val" holds out 2 of the other 6.
BASE = dict(preset="small", folds="0", n_folds=4, n_val=2, batch_size=8)


def clips_of(cache, actors) -> int:
    return sum(1 for r in cache.records() if r["actor"] in set(actors))


def epochs_logged(stage_dir) -> int:
    """Number of training epochs in the stage's CSV logs (train_loss rows)."""
    epochs = set()
    for path in stage_dir.glob("logs/csv/version_*/metrics.csv"):
        with path.open() as fh:
            epochs |= {int(float(r["epoch"])) for r in csv.DictReader(fh) if r.get("train_loss")}
    return len(epochs)


@pytest.mark.parametrize("selection", ["test-legacy", "last"])
def test_rules_without_validation_train_on_every_non_test_actor(train_cache, tmp_path, selection):
    out = tmp_path / selection
    train("audio", train_cache.path, out, **dict(BASE, epochs=1, selection=selection))
    manifest = read_json(out / "folds" / "fold_0.json")
    everyone = {r["actor"] for r in train_cache.records()}
    non_test = sorted(everyone - set(manifest["test_actors"]))
    assert len(non_test) == 6
    assert manifest["train_actors"] == non_test and manifest["val_actors"] == []
    doc = read_json(out / "fold_0" / "audio" / "metrics.json")
    assert doc["train_actors"] == non_test
    assert doc["train_clips"] == clips_of(train_cache, non_test) == len(manifest["train"])
    row = read_json(out / "report.json")["models"]["audio"]["folds"]["0"]
    assert (row["train_actors"], row["train_clips"]) == (6, doc["train_clips"])
    assert "paper 20 / 1200" not in (out / "report.md").read_text()  # 8 synthetic actors: not the paper's corpus


def test_default_selection_still_holds_out_validation_actors(train_cache, tmp_path):
    from avemotion.training.presets import get_preset
    from avemotion.training.protocol import build_folds

    cfg = get_preset("small", n_folds=4, n_val=2)
    fold = build_folds(train_cache.records(), cfg)[0]
    assert len(fold.val_actors) == 2 and len(fold.train_actors) == 4
    assert not set(fold.val_actors) & set(fold.train_actors)


def test_n_val_0_with_last_end_to_end_on_the_cli(train_cache, tmp_path):
    from typer.testing import CliRunner

    from avemotion.cli.main import app

    out = tmp_path / "last0"
    args = ["train", "--model", "audio", "--data", str(train_cache.path), "--out", str(out), "--preset", "small",
            "--folds", "0", "--n-folds", "4", "--n-val", "0", "--selection", "last", "--epochs", "2", "--batch-size", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    best = read_json(out / "fold_0" / "audio" / "best.json")
    assert best["selection"] == "last" and best["epoch"] == 1  # the final of 2 epochs, no validation needed
    doc = read_json(out / "fold_0" / "audio" / "metrics.json")
    assert doc["metrics"]["n"] == len(read_json(out / "folds" / "fold_0.json")["test"])
    assert doc["selection_metrics"] == {}


def test_val_selection_refuses_n_val_0(train_cache, tmp_path):
    with pytest.raises(ConfigError, match="n_val >= 1"):
        train("audio", train_cache.path, tmp_path / "x", **dict(BASE, n_val=0))


def test_refit_retrains_on_train_and_val_for_the_selected_epochs(train_cache, tmp_path):
    out = tmp_path / "refit"
    report = train("audio", train_cache.path, out, **dict(BASE, epochs=3, refit=True))
    manifest = read_json(out / "folds" / "fold_0.json")
    selection, refit = out / "fold_0" / "audio", out / "fold_0" / "audio-refit"
    # the selection stage picked an epoch on the validation actors, scored as a plain `val` run
    chosen = read_json(selection / "best.json")["epoch"]
    sel_doc = read_json(selection / "metrics.json")
    assert sel_doc["scored"] == "selected checkpoint" and len(sel_doc["predictions"]) == len(manifest["test"])
    assert sel_doc["train_actors"] == manifest["train_actors"] and len(manifest["val_actors"]) == 2
    # the refit trained that many epochs on train + val, and scored the test fold once
    doc = read_json(refit / "metrics.json")
    assert read_json(refit / "stage.json")["settings"]["epochs"] == chosen + 1 == epochs_logged(refit)
    assert doc["train_actors"] == sorted(manifest["train_actors"] + manifest["val_actors"])
    assert doc["train_clips"] == len(manifest["train"]) + len(manifest["val"])
    assert doc["scored"] == "refit" and doc["epoch"] == chosen
    assert sorted(p["clip_id"] for p in doc["predictions"]) == sorted(manifest["test"])
    # the report is the refit's
    row = report["models"]["audio"]["folds"]["0"]
    assert row["scored"] == "refit" and row["accuracy"] == doc["metrics"]["accuracy"] and row["train_actors"] == 6
    assert report["refit"] is True and "refit" in (out / "report.md").read_text()


def test_refit_stages_follow_every_selection_stage():
    from avemotion.training.presets import get_preset
    from avemotion.training.run import stages_for

    cfg = get_preset("small", refit=True)
    assert stages_for("cfn_sr", cfg) == ["video", "audio", "cfn_sr", "video-refit", "audio-refit", "cfn_sr-refit"]
    assert stages_for("cfn_sr", get_preset("small")) == ["video", "audio", "cfn_sr"]
    with pytest.raises(ConfigError, match="refit"):
        get_preset("small", refit=True, selection="last")


# ------------------------------------------------------------------------------------- --legacy


def test_legacy_sets_every_published_training_behaviour():
    from avemotion.training.presets import get_preset

    cfg = get_preset("paper", legacy=True)
    assert (cfg.selection, cfg.augment, cfg.batch_size, cfg.lr, cfg.epochs, cfg.unimodal_epoch_count) == ("test-legacy", "frame", 16, 1e-3, 70, 70)
    assert cfg.batch_sizes == {"msaf": 4} and cfg.recipe == "two-stage" and cfg.weight_decay == 0
    assert get_preset("small", legacy=True, epochs=2).epochs == 2  # an explicit option wins
    plain = get_preset("paper")
    assert (plain.selection, plain.augment, plain.legacy) == ("val", "clip", False)


def test_legacy_model_flags_reach_only_the_factories_that_take_them():
    from avemotion.models import create_model
    from avemotion.training.presets import get_preset, model_config_for

    cfg = get_preset("small", legacy=True)
    assert model_config_for(cfg, "cfn_sr") == {"attention": "batch_sum", "stem_relu": False}
    assert model_config_for(cfg, "msaf") == {"stem_relu": False, "legacy_dropout": True}
    assert model_config_for(cfg, "concat_fc") == {"stem_relu": False}
    assert model_config_for(cfg, "video") == {}  # the unimodal network keeps its stem ReLU
    assert model_config_for(get_preset("small", legacy=True, model_config={"attention": "per_sample"}), "cfn_sr")["attention"] == "per_sample"
    cfn = create_model("cfn_sr", scale="tiny", **model_config_for(cfg, "cfn_sr"))
    assert cfn.cross.attention == "batch_sum" and cfn.video_encoder.stem_relu is False
    msaf = create_model("msaf", scale="tiny", **model_config_for(cfg, "msaf"))
    assert msaf.msaf1.legacy and msaf.msaf2.legacy and msaf.video_encoder.stem_relu is False


def test_legacy_refuses_a_cache_not_prepared_as_published(train_cache, tmp_path):
    with pytest.raises(ConfigError, match="crop='legacy', stft_pad='reflect'.*this cache has crop='fixed', stft_pad='constant'"):
        train("audio", train_cache.path, tmp_path / "x", **dict(BASE, legacy=True, epochs=1))


@pytest.fixture(scope="module")
def legacy_cache(synth_corpus, tmp_path_factory):
    """The shared 4-actor corpus prepared as the published code did (legacy crop, reflect padding)."""
    from avemotion.config import PreprocessConfig
    from avemotion.data.cache import open_cache
    from avemotion.data.prepare import prepare
    from avemotion.training.presets import LEGACY_PREPROCESS

    cfg = PreprocessConfig(num_frames=8, frame_size=48, **LEGACY_PREPROCESS)
    report = prepare(synth_corpus, tmp_path_factory.mktemp("legacy_cache"), cfg, workers=2)
    assert not report.failed, report.failed
    return open_cache(report.cache)


def test_cli_legacy_run_records_and_builds_the_published_pipeline(legacy_cache, tmp_path):
    from typer.testing import CliRunner

    from avemotion.cli.main import app
    from avemotion.models.checkpoint import load_checkpoint

    out = tmp_path / "legacy"
    args = ["train", "--model", "cfn_sr", "--data", str(legacy_cache.path), "--out", str(out), "--preset", "small",
            "--legacy", "--folds", "0", "--n-folds", "2", "--epochs", "1", "--unimodal-epochs", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = read_json(out / "run.json")
    assert run["legacy"] is True and run["optimistic"] is True and run["label"] == "LEGACY, OPTIMISTIC"
    t = run["training"]
    assert (t["selection"], t["augment"], t["batch_size"], t["batch_sizes"], t["lr"]) == ("test-legacy", "frame", 16, {"msaf": 4}, 1e-3)
    model, meta = load_checkpoint(out / "fold_0" / "cfn_sr" / "best")
    assert model.cross.attention == "batch_sum" and model.video_encoder.stem_relu is False
    video, _ = load_checkpoint(out / "fold_0" / "video" / "best")
    assert video.video_encoder.stem_relu is True
    doc = read_json(out / "fold_0" / "cfn_sr" / "metrics.json")
    assert doc["legacy"] is True and len(doc["train_actors"]) == 2  # the 2 non-test actors of 4, none held out
    md = (out / "report.md").read_text()
    assert "LEGACY" in md and "OPTIMISTIC" in md and "LEGACY" in result.output


# --------------------------------------------------------------------------- partial initialisation


def write_kinetics(path, model, drop=()):
    """3D-ResNets layout ({'state_dict': {'module.<name>': ...}}) of `model`'s video encoder."""
    state = {f"module.{k}": v.clone() for k, v in model.video_encoder.state_dict().items() if k not in drop}
    state["module.fc.weight"] = torch.randn(400, model.video_encoder.out_channels)
    state["module.fc.bias"] = torch.randn(400)
    torch.save({"state_dict": state}, path)


def test_partial_kinetics_init_is_refused_unless_allowed(train_cache, tmp_path):
    from avemotion.models import create_model

    source = create_model("video", scale="tiny")
    partial = tmp_path / "partial.pth"
    write_kinetics(partial, source, drop=("layer4.0.conv2.weight",))
    settings = dict(BASE, epochs=1, selection="last", n_val=0)
    with pytest.raises(ConfigError, match=r"incomplete initialisation \(missing layer4\.0\.conv2\.weight\)"):
        train("video", train_cache.path, tmp_path / "refused", kinetics=str(partial), **settings)
    assert not (tmp_path / "refused" / "fold_0" / "video" / "best.json").exists()
    out = tmp_path / "allowed"
    train("video", train_cache.path, out, kinetics=str(partial), allow_partial_init=True, **settings)
    init = read_json(out / "fold_0" / "video" / "metrics.json")["init"]
    assert init["source"] == "kinetics" and init["missing"] == ["layer4.0.conv2.weight"]
    assert init["coverage"]["complete"] is False and init["coverage"]["loaded"] == init["coverage"]["required"] - 1


def test_complete_kinetics_init_covers_every_encoder_tensor(train_cache, tmp_path):
    from avemotion.models import create_model

    path = tmp_path / "k.pth"
    write_kinetics(path, create_model("video", scale="tiny"))
    out = tmp_path / "full"
    train("video", train_cache.path, out, kinetics=str(path), **dict(BASE, epochs=1, selection="last", n_val=0))
    init = read_json(out / "fold_0" / "video" / "metrics.json")["init"]
    n_encoder = sum(1 for k in create_model("video", scale="tiny").video_encoder.state_dict() if not k.endswith("num_batches_tracked"))
    assert init["coverage"] == {"prefixes": [""], "required": n_encoder, "loaded": n_encoder, "complete": True}


def test_strict_unimodal_load_refuses_a_mismatched_network():
    from avemotion.models import create_model

    video6 = create_model("video", scale="tiny", num_classes=6)  # its head cannot fill MSAF's 8-class head
    with pytest.raises(ConfigError, match="shape mismatch video_head.weight"):
        create_model("msaf", scale="tiny").load_unimodal(video6, create_model("audio", scale="tiny"), strict=True)
    report = create_model("cfn_sr", scale="tiny").load_unimodal(create_model("video", scale="tiny"),
                                                                create_model("audio", scale="tiny"), strict=True)
    assert report.mismatched == ()  # CFN-SR keeps no unimodal heads: their tensors are simply unused


# ------------------------------------------------------------------------------------ CLI options


def test_reproduce_takes_every_option_train_takes():
    import typer.main

    from avemotion.cli.main import app

    commands = typer.main.get_command(app).commands
    options = {name: {o for p in commands[name].params for o in p.opts} for name in ("train", "reproduce")}
    # reproduce's own: --models and the grid's options (cli/grid.py GRID_OPTIONS)
    grid = {"--launcher", "--seeds", "--grid-workers", "--threads", "--slurm-partition", "--slurm-account",
            "--slurm-time", "--slurm-gpus", "--slurm-parallelism", "--slurm-config", "--dry-run", "--status", "--gather"}
    assert grid <= options["reproduce"]
    assert options["train"] - {"--model", "-m"} == options["reproduce"] - {"--models"} - grid
    assert {"--n-folds", "--n-val", "--augment", "--recipe", "--set", "--unimodal-dir", "--kinetics", "--precision",
            "--legacy", "--refit", "--allow-partial-init"} <= options["reproduce"]
