"""Under DDP (torchrun, 2 CPU processes) one process speaks: the report table and the log lines
are printed once, not once per rank."""

import json
import os
import subprocess
import sys


def test_torchrun_two_ranks_print_the_report_once(speech_subset_prepared, tmp_path):
    _, cache = speech_subset_prepared
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
           "-m", "avemotion.cli.main", "train", "--model", "audio", "--data", str(cache.path), "--preset", "small",
           "--folds", "0", "--n-folds", "4", "--n-val", "1", "--epochs", "1", "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("report: ") == 1, done.stdout
    assert done.stdout.count("fold 0 audio: training") == 1, done.stdout
    assert done.stdout.count("│ audio") == 1, done.stdout  # the summary table's row
    metrics = json.loads((out / "fold_0" / "audio" / "metrics.json").read_text())
    assert metrics["engine"]["world_size"] == 2  # one stage trained by both ranks, not twice alone
