"""Issue 29, item 1: a planted or damaged last.ckpt never runs code when `train` resumes a stage,
even with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1; the user gets one line naming the file."""

from __future__ import annotations

import logging
import re

import lightning as L
import pytest
from cli_run import run_cli
import torch


class Payload:
    """Unpickling this calls open(marker, "w"): the marker file exists iff the payload ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def plant(ckpt, kind: str, marker) -> None:
    ckpt.parent.mkdir(parents=True)
    if kind == "payload":
        torch.save({"epoch": 0, "state_dict": {}, "loops": Payload(marker)}, ckpt)
    else:  # truncated: the first half of a real zip-format torch file
        torch.save({"epoch": 0, "state_dict": {"w": torch.zeros(1000)}}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])


@pytest.mark.parametrize("kind", ["payload", "truncated"])
def test_a_planted_last_ckpt_is_refused_in_one_line_and_never_runs(kind, prepared_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # torch's switch to unsafe loads
    run, marker = tmp_path / "run", tmp_path / "payload_ran"
    ckpt = run / "fold_0" / "audio" / "last.ckpt"
    plant(ckpt, kind, marker)
    code, said = run_cli(monkeypatch, capsys, "train", "--model", "audio", "--data", prepared_cache.path,
                         "--preset", "small", "--folds", "0", "--n-folds", "2", "--n-val", "1", "--epochs", "1",
                         "--unimodal-epochs", "1", "--out", run)
    assert not marker.exists()  # the payload never ran
    assert code != 0
    refusal = [line for line in said.splitlines() if line.startswith("error:")]
    assert len(refusal) == 1 and str(ckpt) in refusal[0], said
    assert "Traceback" not in said and "weights_only=False" not in said, said
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\b", said), said
    assert not (run / "fold_0" / "audio" / "metrics.json").exists()  # nothing trained from it


class StopAt(L.Callback):
    """A kill at the start of `epoch` (the previous epoch's last.ckpt is on disk)."""

    def __init__(self, epoch: int):
        self.epoch, self.fired = epoch, False

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch and not self.fired:
            self.fired = True
            raise KeyboardInterrupt


def test_a_genuine_last_ckpt_resumes_weights_only_to_the_same_result(prepared_cache, tmp_path, monkeypatch, caplog):
    """The whole of Lightning's resume state (loops, optimizer, callbacks) loads weights-only: a
    killed stage resumes (even under TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1) to the uninterrupted result."""
    from avemotion.training import train
    from avemotion.utils.io import read_json

    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    settings = dict(preset="small", folds="0", n_folds=2, n_val=1, epochs=3, unimodal_epochs=3, lr_schedule="cosine")
    train("audio", prepared_cache.path, tmp_path / "whole", **settings)
    stop = StopAt(2)
    with pytest.raises(KeyboardInterrupt):
        train("audio", prepared_cache.path, tmp_path / "killed", callbacks=[stop], **settings)
    assert stop.fired and (tmp_path / "killed" / "fold_0" / "audio" / "last.ckpt").exists()
    with caplog.at_level(logging.INFO, logger="avemotion"):
        train("audio", prepared_cache.path, tmp_path / "killed", **settings)
    assert any("resuming" in line for line in caplog.messages)
    whole, resumed = (read_json(tmp_path / run / "fold_0" / "audio" / "metrics.json") for run in ("whole", "killed"))
    assert resumed["epoch"] == whole["epoch"]
    assert [p["probs"] for p in resumed["predictions"]] == [p["probs"] for p in whole["predictions"]]
