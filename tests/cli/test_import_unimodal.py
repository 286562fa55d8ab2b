"""`avemotion import-unimodal`: published per-fold unimodal checkpoints become a run's unimodal stages.

The checkpoints are written here in the published layout (plain `torch.save`d state dicts with the
3D-ResNets / mfccNet key names) from our own tiny models, so the import can be compared tensor for
tensor. The 8-actor cache in 2 folds has the published fold actors (fold k tests 4k-3..4k).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from typer.testing import CliRunner

from avemotion.cli.main import app
from avemotion.models import create_model
from avemotion.utils.io import read_json


def _training_fixtures():
    # The 8-actor cache fixture lives in tests/training/conftest.py; conftest files are not importable
    # by name, so load that one by path and reuse its fixture here (built once per test directory).
    spec = importlib.util.spec_from_file_location("training_fixtures", Path(__file__).parents[1] / "training" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_cache = _training_fixtures().train_cache

RUN_OPTIONS = ["--preset", "small", "--n-folds", "2", "--selection", "test-legacy", "--batch-size", "8", "--epochs", "1"]


def published_state(model, role: str) -> dict:
    """Our state dict under the published names (written out here from the layout, not from our map)."""
    out = {}
    for key, value in model.state_dict().items():
        if role == "video":
            name = key.replace("video_head.", "fc.", 1) if key.startswith("video_head.") else key.removeprefix("video_encoder.")
        else:
            name = key.replace("audio_head.fc.", "fc1.", 1) if key.startswith("audio_head.") else key.removeprefix("audio_encoder.")
        out[name] = value.clone()
    return out


def distinctive(role: str, seed: int):
    torch.manual_seed(seed)
    model = create_model(role, scale="tiny")
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.rand_like(t) + 0.5)  # not an init any model could draw
    return model


def write_published(root, folds=(1, 2), edit=None) -> dict:
    """root/resnext50/fold_{k}_resnext50_best.pth and root/mfccNet/fold_{k}_mfccNet_best.pth."""
    models = {}
    for k in folds:
        for role, folder, stem in (("video", "resnext50", "resnext50"), ("audio", "mfccNet", "mfccNet")):
            model = distinctive(role, seed=10 * k + (role == "audio"))
            state = published_state(model, role)
            if edit:
                edit(k, role, state)
            (root / folder).mkdir(parents=True, exist_ok=True)
            torch.save(state, root / folder / f"fold_{k}_{stem}_best.pth")
            models[k, role] = model
    return models


def run_cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def test_published_layout_keys():
    video, audio = published_state(distinctive("video", 0), "video"), published_state(distinctive("audio", 0), "audio")
    assert {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
            "layer2.0.downsample.1.running_var", "fc.weight", "fc.bias"} <= set(video)
    assert {k.split(".")[0] for k in audio} == {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "fc1"}


def test_import_then_train_only_the_fusion_stage(train_cache, tmp_path):
    from avemotion.models.checkpoint import load_checkpoint

    source, run = tmp_path / "published", tmp_path / "run"
    models = write_published(source)
    result = run_cli("import-unimodal", source, "--run", run, "--data", train_cache.path, *RUN_OPTIONS)
    assert result.exit_code == 0, result.output
    for fold, k in ((0, 1), (1, 2)):
        assert read_json(run / "folds" / f"fold_{fold}.json")["test_actors"] == list(range(4 * k - 3, 4 * k + 1))
        for role in ("video", "audio"):
            ours, meta = load_checkpoint(run / f"fold_{fold}" / role / "best")
            assert meta["imported"]["published_fold"] == k and meta["imported"]["file"].endswith(f"fold_{k}_{'resnext50' if role == 'video' else 'mfccNet'}_best.pth")
            expected = models[k, role].state_dict()
            got = ours.state_dict()
            assert set(got) == set(expected)
            for key, value in expected.items():
                assert torch.equal(got[key], value), (fold, role, key)
            doc = read_json(run / f"fold_{fold}" / role / "metrics.json")
            assert doc["optimistic"] is True and doc["scored"] == "imported checkpoint"
            assert sorted(p["clip_id"] for p in doc["predictions"]) == sorted(read_json(run / "folds" / f"fold_{fold}.json")["test"])

    result = run_cli("train", "--model", "cfn_sr", "--data", train_cache.path, "--out", run, "--folds", "0", *RUN_OPTIONS)
    assert result.exit_code == 0, result.output
    assert "fold 0 video: done" in result.output and "fold 0 audio: done" in result.output
    init = read_json(run / "fold_0" / "cfn_sr" / "metrics.json")["init"]
    assert init["imported"] is True and init["coverage"]["complete"]


def test_incomplete_checkpoint_is_refused_and_nothing_is_written(train_cache, tmp_path):
    def drop_one(k, role, state):
        if (k, role) == (2, "video"):
            del state["layer1.0.bn1.running_var"]
            state["layer9.0.conv1.weight"] = torch.zeros(1)

    source, run = tmp_path / "published", tmp_path / "run"
    write_published(source, edit=drop_one)
    result = run_cli("import-unimodal", source, "--run", run, "--data", train_cache.path, *RUN_OPTIONS)
    assert result.exit_code != 0
    message = str(result.exception)
    assert "fold_2_resnext50_best.pth" in message and "missing layer1.0.bn1.running_var" in message
    assert "unexpected layer9.0.conv1.weight" in message and "\n" not in message
    assert not list(run.glob("fold_*/video")) and not list(run.glob("fold_*/audio"))  # all checked before any write


def test_a_checkpoint_of_another_shape_is_refused(train_cache, tmp_path):
    def widen(k, role, state):
        if (k, role) == (1, "audio"):
            state["fc1.weight"] = torch.zeros(7, state["fc1.weight"].shape[1])  # 7 classes, not 8

    source = tmp_path / "published"
    write_published(source, edit=widen)
    result = run_cli("import-unimodal", source, "--run", tmp_path / "run", "--data", train_cache.path, *RUN_OPTIONS)
    assert result.exit_code != 0
    assert "fold_1_mfccNet_best.pth" in str(result.exception) and "shape mismatch fc1.weight" in str(result.exception)


def test_folds_must_be_the_published_ones(train_cache, tmp_path):
    source = tmp_path / "published"
    write_published(source, folds=(1, 2, 3, 4))
    options = [o if o != "2" else "4" for o in RUN_OPTIONS]  # 4 folds of 2 actors
    result = run_cli("import-unimodal", source, "--run", tmp_path / "run", "--data", train_cache.path, *options)
    assert result.exit_code != 0 and "published fold 1 tests [1, 2, 3, 4]" in str(result.exception)


def test_only_into_a_test_fold_selection_run(train_cache, tmp_path):
    source = tmp_path / "published"
    write_published(source)
    options = [o if o != "test-legacy" else "val" for o in RUN_OPTIONS] + ["--n-val", "2"]
    result = run_cli("import-unimodal", source, "--run", tmp_path / "run", "--data", train_cache.path, *options)
    assert result.exit_code != 0 and "selected on the test fold" in str(result.exception)


class NotAStateDict:
    pass


def test_a_pickled_object_is_never_unpickled(train_cache, tmp_path):
    source = tmp_path / "published"
    write_published(source)
    torch.save({"conv1.weight": NotAStateDict()}, source / "resnext50" / "fold_1_resnext50_best.pth")
    result = run_cli("import-unimodal", source, "--run", tmp_path / "run", "--data", train_cache.path, *RUN_OPTIONS)
    assert result.exit_code != 0 and "not a readable torch checkpoint" in str(result.exception)


def test_cli_error_is_one_line(train_cache, tmp_path):
    import subprocess
    import sys

    source = tmp_path / "published"
    write_published(source, folds=(1,))
    proc = subprocess.run([sys.executable, "-m", "avemotion.cli.main", "import-unimodal", str(source), "--run",
                           str(tmp_path / "run"), "--data", str(train_cache.path), *RUN_OPTIONS],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "fold_2_resnext50_best.pth: no such checkpoint" in lines[0], proc.stderr
