"""End-to-end training on the synthetic corpus: accuracy on unseen actors, no leak, resume, legacy flag.

One two-stage CFN-SR run (small preset, 2 outer folds) is shared by most tests; the resume test
retrains only the fusion stage on top of that run's unimodal networks, so the whole file stays
within a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
import pytest

from avemotion.errors import ConfigError
from avemotion.training import train
from avemotion.utils.io import read_json

# 8 actors: 4 outer folds of 2 test actors, 2 inner validation actors, 4 training actors per fold.
SETTINGS = dict(preset="small", folds="0,1", n_folds=4, n_val=2, batch_size=8)  # small preset: 4 unimodal + 3 fusion epochs
CHANCE = 1 / 8


class InterruptAt(L.Callback):
    """Simulate a kill: raise KeyboardInterrupt when `stage` on `fold` starts epoch `epoch`
    (the previous epoch's last.ckpt is on disk, as after a real kill)."""

    def __init__(self, path_part: str, epoch: int):
        self.path_part = path_part
        self.epoch = epoch
        self.fired = False

    def on_train_epoch_start(self, trainer, pl_module):
        stage_dir = trainer.checkpoint_callback.dirpath  # RUN/fold_K/<stage>
        if self.path_part in str(stage_dir) and trainer.current_epoch == self.epoch and not self.fired:
            self.fired = True
            raise KeyboardInterrupt


class LoaderClips(L.Callback):
    """The clip ids of every batch the Trainer trains and validates on, per stage folder
    (RUN/fold_K/<stage>) and epoch: what the datamodule's loaders actually yielded."""

    def __init__(self):
        self.seen: dict[tuple[str, str], dict[int, dict[str, list[str]]]] = {}

    def _record(self, trainer, split: str, batch) -> None:
        stage_dir = Path(trainer.checkpoint_callback.dirpath)
        epochs = self.seen.setdefault((stage_dir.parent.name, stage_dir.name), {})
        epochs.setdefault(trainer.current_epoch, {"train": [], "val": []})[split] += list(batch["clip_id"])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._record(trainer, "train", batch)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self._record(trainer, "val", batch)


@pytest.fixture(scope="module")
def loader_clips():
    return LoaderClips()


@pytest.fixture(scope="module")
def run_dir(train_cache, tmp_path_factory, loader_clips):
    out = tmp_path_factory.mktemp("runs") / "cfn_sr"
    report = train("cfn_sr", train_cache.path, out, callbacks=[loader_clips], **SETTINGS)
    return out, report


def test_accuracy_on_unseen_actors_far_above_chance(run_dir):
    out, report = run_dir
    model = report["models"]["cfn_sr"]
    assert set(model["folds"]) == {"0", "1"}
    acc = model["mean_std"]["accuracy"]["mean"]
    assert acc > 2 * CHANCE, f"cfn_sr accuracy {acc:.3f} on held-out actors is not > 2x chance"
    # the unimodal stages were trained, scored and reported too
    assert {"video", "audio"} <= set(report["models"])
    for k in (0, 1):
        meta = read_json(out / f"fold_{k}" / "cfn_sr" / "best.json")
        assert meta["fold"] == k and meta["selection"] == "val"
        cover = meta["init"]["coverage"]  # initialised from this fold's unimodal networks, every tensor of them
        assert cover["complete"] and cover["loaded"] == cover["required"] > 0
        assert not (out / f"fold_{k}" / "cfn_sr" / "last.ckpt").exists()


def test_no_test_actor_in_training_or_validation(run_dir, train_cache):
    out, _ = run_dir
    actor_of = {r["clip_id"]: r["actor"] for r in train_cache.records()}
    manifests = sorted((out / "folds").glob("fold_*.json"))
    assert len(manifests) == 4
    tested = set()
    for path in manifests:
        m = json.loads(path.read_text())
        test = set(m["test_actors"])
        tested |= test
        assert not test & {actor_of[c] for c in m["train"] + m["val"]}
        assert not test & (set(m["train_actors"]) | set(m["val_actors"]))
        assert {actor_of[c] for c in m["test"]} == test
    assert tested == set(actor_of.values())
    for k in (0, 1):  # the scored predictions are the test actors' clips, each once
        doc = read_json(out / f"fold_{k}" / "cfn_sr" / "metrics.json")
        manifest = read_json(out / "folds" / f"fold_{k}.json")
        assert sorted(p["clip_id"] for p in doc["predictions"]) == sorted(manifest["test"])


def test_loaders_of_a_val_run_hold_no_test_clip(run_dir, train_cache, loader_clips):
    """The clips the datamodule yielded, batch by batch, in every stage (video, audio, fusion) of
    both folds: validation holds exactly the inner validation clips in every epoch, training only
    training clips, and no clip of an actor the fold is tested on (or validated on) is among them."""
    out, _ = run_dir
    actor_of = {r["clip_id"]: r["actor"] for r in train_cache.records()}
    for k in (0, 1):
        manifest = read_json(out / "folds" / f"fold_{k}.json")
        scored = read_json(out / f"fold_{k}" / "cfn_sr" / "metrics.json")["predictions"]
        test_actors = {actor_of[p["clip_id"]] for p in scored}  # whom this fold was scored on
        assert test_actors
        for stage in ("video", "audio", "cfn_sr"):
            epochs = loader_clips.seen.get((f"fold_{k}", stage))
            assert epochs, f"fold {k} {stage}: no batch recorded"
            for epoch, clips in sorted(epochs.items()):
                where = f"fold {k} {stage} epoch {epoch}"
                train_actors = {actor_of[c] for c in clips["train"]}
                val_actors = {actor_of[c] for c in clips["val"]}
                assert clips["train"] and clips["val"], where
                assert not test_actors & (train_actors | val_actors), f"{where}: test actors in the loaders"
                assert not val_actors & train_actors, f"{where}: validated on training actors"
                assert sorted(clips["val"]) == sorted(manifest["val"]), where  # each validation clip once
                train = clips["train"]
                assert len(set(train)) == len(train) and set(train) <= set(manifest["train"]), where
                assert len(train) >= len(manifest["train"]) - 1, where  # at most a last batch of one dropped


def test_run_folder_layout_and_report(run_dir, train_cache):
    out, report = run_dir
    run = read_json(out / "run.json")
    assert run["preprocess_hash"] == train_cache.config.hash()
    # frames and frame size have one owner, the cache's preprocessing; the small preset requires none
    assert run["preprocess"]["num_frames"] == 8 and run["preprocess"]["frame_size"] == 48
    assert run["training"]["required_frames"] is None and "frames" not in run["training"]
    assert run["unimodal_dir"] == "."  # relative to the run folder: a copied run stays whole
    assert run["optimistic"] is False and not report["optimistic"]
    for name in ("report.md", "report.json", "confusion.png", "confusion.json", "curves.png"):
        assert (out / name).stat().st_size > 0
    stage = out / "fold_0" / "cfn_sr"
    assert (stage / "best.safetensors").exists()
    assert list((stage / "logs" / "csv").glob("version_*/metrics.csv"))
    assert list((stage / "logs" / "tensorboard").rglob("events.out.tfevents.*"))
    assert "OPTIMISTIC" not in (out / "report.md").read_text()


def test_run_json_records_names_and_face_sources_so_a_copied_run_crops_as_trained(run_dir, train_cache, tmp_path):
    import shutil

    from avemotion import EMOTIONS
    from avemotion.inference.features import predict_detector
    from avemotion.inference.runs import read_run

    out, _ = run_dir
    run = read_json(out / "run.json")
    assert run["labels"] == list(EMOTIONS) == list(train_cache.labels)
    sources = train_cache.face_sources(train_cache.records())
    assert run["face_sources"] == sources and sources.get("landmarks", 0) > sum(sources.values()) / 2
    copy = tmp_path / "copied_run"  # without its cache: run.json alone must say how it was cropped
    shutil.copytree(out, copy)
    meta = read_json(copy / "run.json")
    meta["cache"] = str(tmp_path / "no_such_cache")
    (copy / "run.json").write_text(json.dumps(meta))
    assert predict_detector(read_run(copy)) == "dlib68"


def test_killed_run_resumes_to_the_same_result(run_dir, train_cache, tmp_path, caplog):
    """Fusion stage only, on the first run's unimodal networks: fold 0 completes, fold 1 is killed
    at the start of epoch 2; the rerun skips fold 0, resumes fold 1 from last.ckpt, and both folds
    end with exactly the uninterrupted run's predictions."""
    first, _ = run_dir
    out = tmp_path / "resumed"
    stop = InterruptAt("fold_1", epoch=2)
    with pytest.raises(KeyboardInterrupt):
        train("cfn_sr", train_cache.path, out, unimodal_dir=first, callbacks=[stop], **SETTINGS)
    assert stop.fired
    assert (out / "fold_0" / "cfn_sr" / "metrics.json").exists()
    assert (out / "fold_1" / "cfn_sr" / "last.ckpt").exists()
    assert not (out / "fold_1" / "cfn_sr" / "metrics.json").exists()

    with caplog.at_level(logging.INFO, logger="avemotion"):
        report = train("cfn_sr", train_cache.path, out, unimodal_dir=first, **SETTINGS)
    logs = caplog.messages
    assert any("fold 0 cfn_sr: done" in line for line in logs)
    assert any("fold 1 cfn_sr: resuming" in line for line in logs)
    for k in (0, 1):
        a = read_json(first / f"fold_{k}" / "cfn_sr" / "metrics.json")
        b = read_json(out / f"fold_{k}" / "cfn_sr" / "metrics.json")
        assert b["epoch"] == a["epoch"], (a["selection_metrics"], b["selection_metrics"])
        assert [p["pred"] for p in b["predictions"]] == [p["pred"] for p in a["predictions"]]
        assert _probs_close(a, b)
        assert b["metrics"]["accuracy"] == a["metrics"]["accuracy"]
    assert not (out / "fold_1" / "video").exists()  # unimodal stages came from the shared folder
    assert report["models"]["cfn_sr"]["mean_std"]["accuracy"]["mean"] == pytest.approx(
        read_json(first / "report.json")["models"]["cfn_sr"]["mean_std"]["accuracy"]["mean"]
    )


def _probs_close(a: dict, b: dict) -> bool:
    return all(
        pa["clip_id"] == pb["clip_id"] and pa["probs"] == pytest.approx(pb["probs"], abs=1e-5)
        for pa, pb in zip(a["predictions"], b["predictions"])
    )


def test_legacy_selection_is_flagged_optimistic(train_cache, tmp_path):
    out = tmp_path / "legacy"
    report = train("audio", train_cache.path, out, **dict(SETTINGS, folds="0", epochs=3, selection="test-legacy"))
    assert report["optimistic"] is True
    assert report["models"]["audio"]["optimistic"] is True
    assert read_json(out / "run.json")["optimistic"] is True
    assert read_json(out / "fold_0" / "audio" / "metrics.json")["selection"] == "test-legacy"
    md = (out / "report.md").read_text()
    assert md.count("OPTIMISTIC") >= 1 and "selected on the test fold" in md.lower()
    assert read_json(out / "report.json")["optimistic"] is True


def test_changed_settings_refuse_the_run_folder(run_dir, train_cache):
    out, _ = run_dir
    with pytest.raises(ConfigError, match="other settings"):
        train("cfn_sr", train_cache.path, out, **dict(SETTINGS, lr=3e-4))


def test_preset_must_match_the_cache(train_cache, tmp_path):
    with pytest.raises(ConfigError, match="expects frames 30"):
        train("audio", train_cache.path, tmp_path / "paper", preset="paper", n_folds=4, n_val=2)


def test_evaluate_rescores_to_the_same_metrics(run_dir):
    from avemotion.evaluation.rescore import evaluate_run

    out, report = run_dir
    before = read_json(out / "fold_1" / "cfn_sr" / "metrics.json")
    again = evaluate_run(out)
    after = read_json(out / "fold_1" / "cfn_sr" / "metrics.json")
    assert after["rescored"] is True
    assert [p["pred"] for p in after["predictions"]] == [p["pred"] for p in before["predictions"]]
    for name in ("cfn_sr", "video", "audio"):
        assert again["models"][name]["mean_std"]["accuracy"]["mean"] == pytest.approx(
            report["models"][name]["mean_std"]["accuracy"]["mean"]
        )


def test_cli_train_on_a_finished_run_prints_the_report(run_dir, train_cache):
    from typer.testing import CliRunner

    from avemotion.cli.main import app

    out, report = run_dir
    args = ["train", "--model", "cfn_sr", "--data", str(train_cache.path), "--out", str(out), "--preset", "small",
            "--folds", "0,1", "--n-folds", "4", "--n-val", "2", "--batch-size", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "fold 0 cfn_sr: done" in result.output  # nothing retrained
    acc = report["models"]["cfn_sr"]["mean_std"]["accuracy"]
    assert f"{acc['mean'] * 100:.2f} ± {acc['std'] * 100:.2f}" in result.output
    assert "report.md" in result.output


def test_reproduce_compares_models_on_identical_folds(run_dir, train_cache, tmp_path):
    from avemotion.training import train_many

    first, _ = run_dir
    out = tmp_path / "reproduce"
    report = train_many(["averaging", "cfn_sr"], train_cache.path, out, unimodal_dir=first, primary="cfn_sr", **SETTINGS)
    assert {"averaging", "cfn_sr", "video", "audio"} <= set(report["models"])
    comp = report["comparison"]
    assert comp["reference"] == "cfn_sr"
    avg = comp["models"]["averaging"]
    folds = report["models"]["averaging"]["folds"]
    ref = report["models"]["cfn_sr"]["folds"]
    assert avg["differences"] == pytest.approx([folds[k]["accuracy"] - ref[k]["accuracy"] for k in ("0", "1")])
    assert report["models"]["averaging"]["params"] > 0
    # the synthetic corpus (8 actors in 4 folds) is not RAVDESS at the paper's protocol: no paper figures
    assert report["models"]["cfn_sr"]["paper"]["accuracy"] is None and report["paper_train"] is None
    md = (out / "report.md").read_text()
    assert "Paper Table 1" not in md and "Paired comparison with cfn_sr" in md
    # every model was scored on the same test clips
    for k in (0, 1):
        ids = {n: sorted(p["clip_id"] for p in read_json(out / f"fold_{k}" / n / "metrics.json")["predictions"]) for n in ("averaging", "cfn_sr")}
        assert ids["averaging"] == ids["cfn_sr"] == sorted(read_json(out / "folds" / f"fold_{k}.json")["test"])


def test_end_to_end_recipe_trains_only_the_fusion_model(train_cache, tmp_path):
    out = tmp_path / "e2e"
    report = train("cfn_sr", train_cache.path, out, **dict(SETTINGS, folds="0", epochs=2, recipe="end-to-end"))
    assert set(report["models"]) == {"cfn_sr"}
    assert not (out / "fold_0" / "video").exists() and not (out / "fold_0" / "audio").exists()
    meta = read_json(out / "fold_0" / "cfn_sr" / "best.json")
    assert meta["init"] is None and meta["epoch"] in (0, 1)
    assert read_json(out / "run.json")["training"]["recipe"] == "end-to-end"
