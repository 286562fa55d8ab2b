"""Issue 22, defect 1, in a run: under batch-pooled attention (CFN-SR's published "batch_sum") the
validation batches of epoch selection and the test batches of final scoring are drawn shuffled,
seeded per epoch, in batches of the run's batch size, and metrics.json records the order; any other
model keeps the sorted order and records nothing."""

from __future__ import annotations


import lightning as L
import pytest

from avemotion.training import train
from avemotion.utils.io import read_json

SETTINGS = dict(preset="small", folds="0", n_folds=4, n_val=2, recipe="end-to-end", epochs=3, batch_size=16)


class ValOrder(L.Callback):
    """The clip ids of every validation batch, per epoch."""

    def __init__(self):
        self.batches: dict[int, list[list[str]]] = {}

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self.batches.setdefault(trainer.current_epoch, []).append(list(batch["clip_id"]))


@pytest.fixture(scope="module")
def pooled_run(train_cache, tmp_path_factory):
    seen = ValOrder()
    out = tmp_path_factory.mktemp("pooled") / "run"
    train("cfn_sr", train_cache.path, out, callbacks=[seen],
          model_config={"attention": "batch_sum"}, **SETTINGS)
    return out, seen


def test_validation_batches_are_shuffled_per_epoch_and_recorded(pooled_run):
    out, seen = pooled_run
    doc = read_json(out / "fold_0" / "cfn_sr" / "metrics.json")
    manifest = read_json(out / "folds" / "fold_0.json")
    orders = {e: [c for b in batches for c in b] for e, batches in seen.batches.items()}
    assert len(orders) == SETTINGS["epochs"]
    assert all(sorted(o) == sorted(manifest["val"]) for o in orders.values())
    assert all(o != sorted(o) for o in orders.values())  # shuffled ...
    assert len({tuple(o) for o in orders.values()}) == len(orders)  # ... anew every epoch
    assert all(len(b[0]) == SETTINGS["batch_size"] for b in seen.batches.values())  # the run's batch size
    batches = doc["eval_batches"]
    assert batches["batch_size"] == SETTINGS["batch_size"] and batches["seed"] == 0
    assert batches["selected_epoch_validation"] == orders[doc["epoch"]]  # the record is what was drawn


def test_test_batches_are_shuffled_and_recorded(pooled_run, train_cache, tmp_path):
    out, _ = pooled_run
    doc = read_json(out / "fold_0" / "cfn_sr" / "metrics.json")
    test = read_json(out / "folds" / "fold_0.json")["test"]
    scored = doc["eval_batches"]["test"]
    assert sorted(scored) == sorted(test) and scored != sorted(scored)
    assert [p["clip_id"] for p in doc["predictions"]] == scored  # predictions in scoring order
    # reproducible: the same run into another folder draws and scores the same batches
    again = tmp_path / "again"
    train("cfn_sr", train_cache.path, again, model_config={"attention": "batch_sum"}, **SETTINGS)
    other = read_json(again / "fold_0" / "cfn_sr" / "metrics.json")
    assert other["eval_batches"] == doc["eval_batches"]
    assert [p["probs"] for p in other["predictions"]] == [p["probs"] for p in doc["predictions"]]


def test_evaluate_scores_a_pooled_model_in_the_recorded_batches(pooled_run, train_cache):
    from avemotion.evaluation.rescore import evaluate_run

    out, _ = pooled_run
    path = out / "fold_0" / "cfn_sr" / "metrics.json"
    before = read_json(path)
    evaluate_run(out, train_cache.path)
    after = read_json(path)
    assert [p["clip_id"] for p in after["predictions"]] == before["eval_batches"]["test"]
    flat = [[x for p in doc["predictions"] for x in p["probs"]] for doc in (before, after)]
    assert flat[1] == pytest.approx(flat[0], abs=1e-5)
