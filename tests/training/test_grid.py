"""The reproduce grid (training.grid, training.launchers): 2 models x 2 folds x 2 seeds on the tiny
4-actor corpus, 1-epoch cells, run sequentially, with a 2-worker local pool, through submitit's
in-process debug executor and its local executor: every cell's metrics and predictions identical.
A worker killed mid-cell, a failing cell, a cell held by another launcher, and the SLURM submission
(a fake sbatch on PATH: no cluster here)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from avemotion.training.grid import cell_status, gather, grid_status, load_grid, plan_grid
from avemotion.training.launchers import (
    CellJob,
    run_local,
    run_sequential,
    run_submitit_local,
    slurm_options,
    slurm_scripts,
    submit_slurm,
)

MODELS = ["averaging", "concat_fc"]
# 4 actors: 2 folds of 2 test actors, 1 validation and 1 training actor each; one epoch per stage
SETTINGS = dict(preset="small", n_folds=2, n_val=1, epochs=1, unimodal_epochs=1, batch_size=8)
THREADS = 1  # the same torch thread count in every process: CPU results may depend on it


def plan(out: Path, cache, seeds=(0, 1), models=MODELS, **extra):
    return plan_grid(out, cache.path, list(models), seeds=list(seeds), threads=THREADS, **{**SETTINGS, **extra})


def cell_docs(run: Path) -> dict[str, dict]:
    """stage folder relative to the grid -> its metrics.json (metrics and predictions)."""
    out = {}
    for path in sorted(run.glob("seed_*/fold_*/*/metrics.json")):
        doc = json.loads(path.read_text())
        out[str(path.parent.relative_to(run))] = {"metrics": doc["metrics"], "predictions": doc["predictions"],
                                                  "epoch": doc["epoch"]}
    return out


@pytest.fixture(scope="module")
def sequential_grid(prepared_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("grid") / "sequential"
    grid = plan(out, prepared_cache)
    summary = run_sequential(out)
    return out, grid, summary


def test_plan_and_sequential_run(sequential_grid):
    out, grid, summary = sequential_grid
    assert len(grid.cells) == 16  # 2 seeds x 2 folds x (video, audio, averaging, concat_fc)
    assert [c.kind for c in grid.cells[:8]] == ["unimodal"] * 8  # the unimodal cells first
    fusion = grid.cell("s1-f0-concat_fc")
    assert fusion.depends_on == ("s1-f0-video", "s1-f0-audio") and fusion.stages == ("concat_fc",)
    assert set(summary["cells"].values()) == {"done"}
    # one ordinary run folder per seed, with its own seed
    for seed in (0, 1):
        run = json.loads((out / f"seed_{seed}" / "run.json").read_text())
        assert run["seed"] == seed and run["models"] == MODELS
    # gather: the reports from the files alone, and the summary over seeds
    result = gather(out)
    assert not result["missing"] and set(result["reports"]) == {0, 1}
    assert set(result["seeds"]) >= set(MODELS) and (out / "seeds.md").exists()
    assert result["seeds"]["averaging"]["seeds"] == [0, 1]
    # the two seeds differ (else the seed would not reach the cells)
    docs = cell_docs(out)
    assert docs["seed_0/fold_0/video"]["predictions"] != docs["seed_1/fold_0/video"]["predictions"]
    # a rerun trains nothing
    again = run_sequential(out)
    assert again["results"] == {} and set(again["cells"].values()) == {"done"}


def test_local_pool_gives_identical_cells(sequential_grid, prepared_cache, tmp_path, caplog):
    reference, _, _ = sequential_grid
    out = tmp_path / "pool"
    plan(out, prepared_cache)
    with caplog.at_level(logging.INFO, logger="avemotion"):
        summary = run_local(out, workers=2)
    lines = caplog.messages
    assert set(summary["cells"].values()) == {"done"}
    assert {r["where"].split(",")[0] for r in summary["results"].values()} == {"worker 0", "worker 1"}
    assert any("[16/16 done" in line for line in lines)
    assert cell_docs(out) == cell_docs(reference)


def test_submitit_debug_executor_gives_identical_cells(sequential_grid, prepared_cache, tmp_path):
    reference, _, _ = sequential_grid
    out = tmp_path / "debug"
    plan(out, prepared_cache)
    summary = run_submitit_local(out, debug=True)
    assert set(summary["cells"].values()) == {"done"}
    assert cell_docs(out) == cell_docs(reference)


def test_submitit_local_executor_gives_identical_cells(sequential_grid, prepared_cache, tmp_path):
    """Seed 1, fold 1 alone (4 cells, a fresh python per cell, 2 at a time: ~10 s of imports each
    on this machine): a cell does not depend on which other cells the grid holds either."""
    reference, _, _ = sequential_grid
    out = tmp_path / "local"
    plan(out, prepared_cache, seeds=(1,), folds="1")
    summary = run_submitit_local(out, workers=2)
    assert set(summary["cells"].values()) == {"done"}
    assert all(r["where"].startswith("job ") for r in summary["results"].values())
    expected = {k: v for k, v in cell_docs(reference).items() if k.startswith("seed_1/fold_1/")}
    assert len(expected) == 4
    assert cell_docs(out) == expected


def test_a_worker_killed_mid_cell_leaves_the_grid_resumable(prepared_cache, tmp_path):
    out = tmp_path / "killed"
    grid = plan(out, prepared_cache, seeds=(0,), models=["averaging"], folds="0", unimodal_epochs=3)
    video = grid.cell("s0-f0-video")
    lock, stage = grid.lock(video), grid.stage_dir(video)
    summary = {}
    thread = threading.Thread(target=lambda: summary.update(run_local(out, workers=1)))
    thread.start()
    killed = None
    deadline = time.time() + 120
    while time.time() < deadline and killed is None:
        if lock.exists() and (stage / "stage.json").exists() and not (stage / "metrics.json").exists():
            pid = json.loads(lock.read_text())["pid"]
            os.kill(pid, signal.SIGKILL)  # the worker, mid-cell
            killed = pid
        time.sleep(0.02)
    thread.join(180)
    assert killed is not None, "the video cell was never seen running"
    assert summary["cells"]["s0-f0-video"] == "failed"
    assert "died (signal 9)" in summary["results"]["s0-f0-video"]["reason"]
    assert summary["cells"]["s0-f0-audio"] == "done"  # the replacement worker went on
    assert summary["cells"]["s0-f0-averaging"] == "blocked"
    status = grid_status(load_grid(out))
    assert status["s0-f0-video"]["state"] == "failed" and status["s0-f0-averaging"]["state"] == "pending"
    assert lock.exists()  # the dead worker's lock: stale, taken over by the rerun
    rerun = run_sequential(out)
    assert set(rerun["results"]) == {"s0-f0-video", "s0-f0-averaging"}  # only the missing cells
    assert rerun["results"]["s0-f0-video"]["trained"] == ["video"]
    assert set(rerun["cells"].values()) == {"done"} and not lock.exists()


def test_a_failing_cell_fails_alone_with_its_reason(sequential_grid, tmp_path):
    from typer.testing import CliRunner

    from avemotion.cli.main import app

    reference, _, _ = sequential_grid
    out = tmp_path / "failing"
    shutil.copytree(reference, out)
    for stage in ("seed_0/fold_1/averaging", "seed_0/fold_1/concat_fc", "seed_1/fold_0/averaging",
                  "seed_1/fold_1/concat_fc"):
        shutil.rmtree(out / stage)
    (out / "seed_0/fold_1/video/best.safetensors").write_bytes(b"not a checkpoint")  # a bad checkpoint
    summary = run_sequential(out)
    failed = {c for c, s in summary["cells"].items() if s == "failed"}
    assert failed == {"s0-f1-averaging", "s0-f1-concat_fc"}
    assert "best.safetensors" in summary["results"]["s0-f1-averaging"]["reason"]
    assert summary["results"]["s1-f0-averaging"]["trained"] == ["averaging"]  # the others went on
    assert cell_docs(out)["seed_1/fold_0/averaging"] == cell_docs(reference)["seed_1/fold_0/averaging"]
    grid = load_grid(out)
    status = cell_status(grid, grid.cell("s0-f1-averaging"))
    assert status["state"] == "failed" and "best.safetensors" in status["reason"]
    assert status["log_line"].startswith("FAILED: ")
    # status and gather from the command line
    runner = CliRunner()
    shown = runner.invoke(app, ["status", str(out)], catch_exceptions=False)
    assert shown.exit_code == 0 and "s0-f1-averaging" in shown.output and "failed" in shown.output
    assert "14 done" in shown.output and "2 failed" in shown.output
    gathered = runner.invoke(app, ["reproduce", "--data", "unused", "--out", str(out), "--gather"], catch_exceptions=False)
    assert gathered.exit_code == 0, gathered.output
    assert "missing 2 cell(s): s0-f1-averaging, s0-f1-concat_fc" in gathered.output
    assert (out / "seed_0" / "report.md").exists()
    # a rerun retries only what is not done (and fails again, the checkpoint being still bad)
    again = run_sequential(out)
    assert set(again["results"]) == {"s0-f1-averaging", "s0-f1-concat_fc"}


def test_a_cell_held_by_another_launcher_is_not_trained_twice(sequential_grid, tmp_path):
    from avemotion.utils.locks import take_lock

    reference, _, _ = sequential_grid
    out = tmp_path / "shared"
    shutil.copytree(reference, out)
    shutil.rmtree(out / "seed_1/fold_1/concat_fc")
    grid = load_grid(out)
    cell = grid.cell("s1-f1-concat_fc")
    grid.lock(cell).parent.mkdir()
    assert take_lock(grid.lock(cell)) is None  # another launcher (this process) trains it
    summary = run_sequential(out)
    assert summary["cells"]["s1-f1-concat_fc"] == "elsewhere"
    assert not (out / "seed_1/fold_1/concat_fc/metrics.json").exists()
    assert cell_status(grid, cell)["state"] == "running"
    grid.lock(cell).unlink()
    assert run_sequential(out)["cells"]["s1-f1-concat_fc"] == "done"


def test_slurm_arrays_dependency_and_requeue_through_submitit(sequential_grid, tmp_path, monkeypatch):
    """The real submitit SlurmExecutor, with a fake sbatch (and srun, which submitit looks for)."""
    from submitit.helpers import DelayedSubmission
    from typer.testing import CliRunner

    from avemotion.cli.main import app
    from avemotion.utils.locks import take_lock

    reference, _, _ = sequential_grid
    out = tmp_path / "slurm"
    shutil.copytree(reference, out)
    for path in out.glob("seed_*/fold_*/*"):
        shutil.rmtree(path)  # nothing done: every cell is submitted
    bin_dir, scripts = tmp_path / "bin", tmp_path / "scripts"
    bin_dir.mkdir(), scripts.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(
        "#!/bin/sh\nn=$(ls " + str(scripts) + " | wc -l)\ncp \"$1\" " + str(scripts) + "/$n.sh\n"
        "echo \"Submitted batch job $((4200 + n))\"\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    config = tmp_path / "slurm.yaml"
    config.write_text("partition: gpu\naccount: lab\ntime_min: 600\nsetup: [module load cuda]\n")
    opts = slurm_options(config, array_parallelism=4, time_min=300)
    result = submit_slurm(out, opts)
    assert result["unimodal"] == "4200" and result["fusion"] == "4201"
    assert result["jobs"]["s0-f0-video"] == "4200_0" and result["jobs"]["s1-f1-concat_fc"] == "4201_7"
    first, second = (scripts / "0.sh").read_text(), (scripts / "1.sh").read_text()
    for text in (first, second):
        assert "#SBATCH --array=0-7%4" in text
        assert "#SBATCH --requeue" in text and "#SBATCH --signal=USR2@120" in text  # preemption: checkpoint, requeue
        assert "#SBATCH --partition=gpu" in text and "#SBATCH --account=lab" in text
        assert "#SBATCH --time=300" in text and "#SBATCH --gpus-per-node=1" in text and "module load cuda" in text
    assert "#SBATCH --dependency" not in first and "#SBATCH --dependency=afterany:4200" in second
    assert json.loads((out / "grid" / "slurm.json").read_text())["fusion"] == "4201"
    # --dry-run prints the same scripts and submits nothing
    dry = slurm_scripts(out, opts)
    assert len(dry) == 2 and "#SBATCH --array=0-7%4" in dry[0] and "--dependency=afterany:UNIMODAL_ARRAY_JOB_ID" in dry[1]
    shown = CliRunner().invoke(app, ["reproduce", "--models", ",".join(MODELS), "--data", str(load_grid(out).data),
                                     "--out", str(out), *_cli_settings(), "--seeds", "0,1", "--threads", str(THREADS),
                                     "--launcher", "slurm", "--dry-run", "--slurm-partition", "gpu"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "#SBATCH --array=0-7%8" in shown.output and "#SBATCH --partition=gpu" in shown.output
    assert len(list(scripts.iterdir())) == 2
    # preemption: checkpoint() releases the cell lock and requeues the same call (which resumes)
    grid = load_grid(out)
    job = CellJob(out)
    grid.lock(grid.cell("s0-f0-video")).parent.mkdir(parents=True)
    assert take_lock(grid.lock(grid.cell("s0-f0-video"))) is None
    delayed = job.checkpoint("s0-f0-video")
    assert isinstance(delayed, DelayedSubmission) and delayed.args == ("s0-f0-video",)
    assert not grid.lock(grid.cell("s0-f0-video")).exists()


def _cli_settings() -> list[str]:
    return ["--preset", "small", "--n-folds", "2", "--n-val", "1", "--epochs", "1", "--unimodal-epochs", "1",
            "--batch-size", "8"]


def test_ctrl_c_stops_the_local_pool_and_the_same_command_continues(prepared_cache, tmp_path):
    """SIGINT to the process group, as a terminal's Ctrl-C: the parent and its worker stop, the
    running cell is recorded as stopped (pending, its lock released), and a rerun finishes the grid."""
    import subprocess
    import sys

    out = tmp_path / "ctrl_c"
    cli = [sys.executable, "-m", "avemotion.cli.main", "reproduce", "--models", "audio", "--data", str(prepared_cache.path),
           "--out", str(out), *_cli_settings(), "--unimodal-epochs", "3", "--folds", "0", "--threads", "1",
           "--launcher", "local", "--grid-workers", "1"]
    proc = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    stage = out / "seed_0/fold_0/audio"
    deadline = time.time() + 120
    while time.time() < deadline and not ((stage / "stage.json").exists() and (stage / "cell.lock").exists()):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "run the same command again" in output
    grid = load_grid(out)
    assert cell_status(grid, grid.cell("s0-f0-audio"))["state"] == "pending"
    assert not (stage / "cell.lock").exists()
    assert json.loads(grid.state_file(grid.cell("s0-f0-audio")).read_text())["state"] == "stopped"
    again = run_sequential(out)  # any launcher continues it
    assert again["cells"] == {"s0-f0-audio": "done"}
