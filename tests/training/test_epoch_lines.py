"""Issue 27: a long epoch is not silent. EpochLine says which batch an epoch has reached once
EpochLine.WAIT seconds pass without a line (or a tenth of the last epoch, when longer), and one line
with the scores at each epoch's end. The clock is a fake one: nothing here depends on how fast the
machine is."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from avemotion.training import callbacks
from avemotion.training.callbacks import EpochLine


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 100.0}
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: now["t"])
    return now


def trainer(epoch=0):
    return SimpleNamespace(current_epoch=epoch, max_epochs=3, num_training_batches=50, num_val_batches=[10],
                           sanity_checking=False, callback_metrics={"train_loss": 1.5, "val_acc": 0.25})


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("avemotion")]


def test_a_batch_line_comes_once_the_wait_has_passed_and_not_before(clock, caplog):
    line, t = EpochLine("fold 0 video"), trainer()
    with caplog.at_level(logging.INFO, logger="avemotion"):
        line.on_train_epoch_start(t, None)
        clock["t"] += EpochLine.WAIT - 0.5
        line.on_train_batch_end(t, None, None, None, 6)
        assert lines(caplog) == []
        clock["t"] += 1.0
        line.on_train_batch_end(t, None, None, None, 7)
        clock["t"] += 1.0
        line.on_train_batch_end(t, None, None, None, 8)  # 1 s after the last line: quiet again
        clock["t"] += EpochLine.WAIT
        line.on_validation_batch_end(t, None, None, None, 2)
    assert lines(caplog) == ["fold 0 video: epoch 1/3: training batch 8/50 (5.5 s)",
                             "fold 0 video: epoch 1/3: validating batch 3/10 (11.5 s)"]


def test_after_a_long_epoch_batch_lines_come_a_tenth_of_it_apart(clock, caplog):
    line = EpochLine("fold 1 cfn_sr")
    with caplog.at_level(logging.INFO, logger="avemotion"):
        line.on_train_epoch_start(trainer(0), None)
        clock["t"] += 200.0
        line.on_train_epoch_end(trainer(0), None)
        line.on_train_epoch_start(trainer(1), None)
        clock["t"] += 19.0  # under a tenth of the 200 s epoch
        line.on_train_batch_end(trainer(1), None, None, None, 4)
        clock["t"] += 2.0
        line.on_train_batch_end(trainer(1), None, None, None, 5)
    assert lines(caplog) == ["fold 1 cfn_sr: epoch 1/3: loss 1.500, val accuracy 0.250 (200.0 s)",
                             "fold 1 cfn_sr: epoch 2/3: training batch 6/50 (21.0 s)"]
