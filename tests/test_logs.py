"""Issue 22: the library speaks through `logging` (module loggers under "avemotion"); the CLI sets up
one handler (utils.logs.setup_cli_logging): the message alone on stdout, from rank zero only."""

from __future__ import annotations

import logging
import sys

import pytest

from avemotion.utils import logs

LINE = "fold 0 audio: training (12 train clips of 2 actors, 1 epochs)"


@pytest.fixture
def rank(monkeypatch):
    """Set this process's rank as a launcher would (torchrun: RANK; SLURM: SLURM_PROCID)."""
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    return lambda var, value: monkeypatch.setenv(var, str(value))


def record(msg: str = LINE) -> logging.LogRecord:
    return logging.LogRecord("avemotion.training.run", logging.INFO, __file__, 1, msg, None, None)


def test_the_rank_filter_passes_rank_zero_only(rank):
    only_zero = logs.RankZeroFilter()
    assert only_zero.filter(record())  # a single process has no rank: it speaks
    rank("RANK", 0)
    assert only_zero.filter(record())
    rank("RANK", 1)
    assert not only_zero.filter(record())
    rank("RANK", 0)
    rank("LOCAL_RANK", 1)  # Lightning's own launcher gives its other processes a local rank only
    assert not only_zero.filter(record())


def test_the_rank_filter_reads_slurm_as_the_training_file_guards_do(rank):
    rank("SLURM_PROCID", 1)
    assert not logs.RankZeroFilter().filter(record()) and not logs.is_global_zero()
    rank("SLURM_PROCID", 0)
    assert logs.RankZeroFilter().filter(record()) and logs.is_global_zero()


def test_the_cli_handler_writes_the_message_alone_on_stdout_once(rank, capsys):
    logs.setup_cli_logging()
    logs.setup_cli_logging()  # a second set-up replaces the handler: no line twice
    logging.getLogger("avemotion.training.run").info(LINE)
    logging.getLogger("avemotion.training.run").warning("PARTIAL corpus (--allow-partial): 59 of 60 clips")
    out, err = capsys.readouterr()
    assert out == f"{LINE}\nPARTIAL corpus (--allow-partial): 59 of 60 clips\n" and err == ""
    rank("RANK", 1)
    logging.getLogger("avemotion.training.run").info(LINE)
    assert capsys.readouterr() == ("", "")
    assert not logging.getLogger("avemotion").propagate  # nothing twice through a root handler


def test_the_library_alone_says_nothing_at_info(capsys):
    logging.getLogger("avemotion.training.run").info(LINE)
    assert capsys.readouterr() == ("", "")


def test_a_grid_cell_log_takes_every_line_and_stdout_none(capsys, tmp_path):
    logs.setup_cli_logging()
    path = tmp_path / "cell.log"
    with logs.to_file(path):
        logging.getLogger("avemotion.training.run").info(LINE)
        with logs.muted():
            logging.getLogger("avemotion.training.api").info("folds: the corpus's protocol")
    logging.getLogger("avemotion.training.launchers").info("[1/1 done] s0-f0-audio: done")
    assert path.read_text() == f"{LINE}\n"
    assert capsys.readouterr().out == "[1/1 done] s0-f0-audio: done\n"


def test_train_progress_lines_reach_stdout_and_only_stdout(monkeypatch, capsys, tmp_path, prepared_cache):
    from avemotion.cli.main import run

    monkeypatch.setattr(sys, "argv", ["avemotion", "train", "--model", "audio", "--data", str(prepared_cache.path),
                                      "--preset", "small", "--folds", "0", "--epochs", "1", "--out", str(tmp_path / "run")])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as done:  # typer's standalone mode exits, 0 on success
        run()
    assert done.value.code == 0
    out, err = capsys.readouterr()
    for line in ("fold 0 audio: training (", "fold 0 audio: epoch 1/1: loss ", "fold 0 audio: epoch 0 selected ("):
        assert sum(ln.startswith(line) for ln in out.splitlines()) == 1, out  # at the line's start: no prefix
    assert "fold 0 audio" not in err
