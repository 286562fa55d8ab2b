"""Issue 27: every long wait speaks in a log too. With stdout captured (not a terminal, as in a log
file), synth and prepare print a progress line every tenth of their clips and train one line per
epoch with its loss and validation scores. Only the lines' presence and content are checked; their
timing is measured in docs/benchmarks.md, never asserted."""

from __future__ import annotations

import re

from tests.cli_run import run_cli


def counts(out: str, what: str, total: int) -> list[int]:
    """The DONE of every `WHAT: DONE/TOTAL clips (P %), S s` line, checking each line's percentage."""
    found = []
    for done, share in re.findall(rf"^{what}: (\d+)/{total} clips \((\d+) %\), \d+ s", out, re.M):
        assert int(share) == round(100 * int(done) / total), (done, share)
        found.append(int(done))
    return found


def test_synth_off_a_terminal_prints_a_line_per_tenth_of_its_clips(monkeypatch, capsys, tmp_path):
    code, out = run_cli(monkeypatch, capsys, "synth", tmp_path / "corpus", "--actors", "1", "--size", "64x48",
                        "--statements", "1", "--repetitions", "1")
    assert code == 0, out
    assert "synthesising: 15 clips to do" in out
    # 15 clips: a tenth rounds down to 1, so a line per clip, in order, the last at 100 % (a count may
    # repeat: a line also comes every 5 s while no clip finishes)
    done = counts(out, "synthesising", 15)
    assert done == sorted(done) and set(done) - {0} == set(range(1, 16)), out
    assert "synthesising: 15/15 clips (100 %)" in out
    assert "about" in out.split("synthesising: 1/15")[1].splitlines()[0]  # the time left, while not done
    assert "about" not in out.split("synthesising: 15/15")[1].splitlines()[0]


def test_prepare_off_a_terminal_prints_a_line_per_tenth_of_its_clips(monkeypatch, capsys, tmp_path, synth_corpus):
    code, out = run_cli(monkeypatch, capsys, "prepare", synth_corpus, "--out", tmp_path / "cache",
                        "--frames", "2", "--size", "16", "--workers", "1")
    assert code == 0, out
    assert "preparing: 60 clips to do" in out
    done = counts(out, "preparing", 60)
    assert done == sorted(done) and done[-1] == 60, out
    # a line at least every 6 clips (a tenth of 60); more where 5 s passed between two of them
    assert all(b - a <= 6 for a, b in zip([0, *done], done)), done
    assert "60 prepared" in out  # the summary still follows


def test_train_prints_a_line_per_epoch_with_loss_and_validation_scores(monkeypatch, capsys, tmp_path, prepared_cache):
    code, out = run_cli(monkeypatch, capsys, "train", "--model", "audio", "--data", prepared_cache.path,
                        "--preset", "small", "--folds", "0", "--epochs", "3", "--out", tmp_path / "run")
    assert code == 0, out
    epochs = re.findall(r"^fold 0 audio: epoch (\d)/3: loss (\d+\.\d{3}), val accuracy (\d\.\d{3}), "
                        r"val UAR (\d\.\d{3}) \(\d+\.\d s\)$", out, re.M)
    assert [e[0] for e in epochs] == ["1", "2", "3"], out
    assert all(0 <= float(acc) <= 1 and 0 <= float(uar) <= 1 for _, _, acc, uar in epochs)
    # the epoch lines come between the stage's start and its score
    start = out.index("fold 0 audio: training")
    assert start < out.index("fold 0 audio: epoch 1/3") < out.index("fold 0 audio: epoch 3/3") < out.index("selected")


def test_train_with_progress_bars_prints_no_epoch_lines(monkeypatch, capsys, tmp_path, prepared_cache):
    code, out = run_cli(monkeypatch, capsys, "train", "--model", "audio", "--data", prepared_cache.path,
                        "--preset", "small", "--folds", "0", "--epochs", "1", "--progress", "--out", tmp_path / "run")
    assert code == 0, out
    assert not re.search(r"^fold 0 audio: epoch 1/1:", out, re.M), out
