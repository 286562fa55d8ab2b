"""The reproduce grid from the command line: `reproduce --launcher ...` (its options are declared
here and added to `reproduce` by cli/train.py) and `status RUN`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from avemotion.errors import ConfigError


def _opt(default, *names, help: str = "", **kwargs):
    return typer.Option(default, *names, help=help, **kwargs)


# (name, type, typer option): the grid options of `reproduce`
GRID_OPTIONS = (
    ("launcher", Optional[str], lambda: _opt(None, "--launcher", help="run the grid of cells (models x folds x seeds) with: sequential (here, one after another), local (a worker process per visible GPU, or --grid-workers on the CPU), slurm (job arrays through submitit), submitit-local or submitit-debug (submitit's local and in-process executors); the run folder holds seed_S/ run folders (docs/training.md). Default: none, one run folder trained in this process as before")),
    ("seeds", Optional[str], lambda: _opt(None, "--seeds", help="comma list of seeds, one run folder RUN/seed_S each (default: the --seed value alone)")),
    ("grid_workers", Optional[int], lambda: _opt(None, "--grid-workers", help="local launcher: worker processes (default: one per visible GPU, 1 without a GPU); submitit-local: jobs at a time (default 1)")),
    ("threads", Optional[int], lambda: _opt(None, "--threads", help="torch CPU threads per cell, recorded in grid.json so every launcher uses the same (CPU results can depend on it) (default: torch's default)")),
    ("slurm_partition", Optional[str], lambda: _opt(None, "--slurm-partition", help="slurm: sbatch --partition (default: the config file's, else the cluster's default)")),
    ("slurm_account", Optional[str], lambda: _opt(None, "--slurm-account", help="slurm: sbatch --account (default: the config file's, else none)")),
    ("slurm_time", Optional[int], lambda: _opt(None, "--slurm-time", help="slurm: minutes per cell; a cell that times out is requeued and resumes (default: 1440)")),
    ("slurm_gpus", Optional[int], lambda: _opt(None, "--slurm-gpus", help="slurm: GPUs per cell, 1 or 0 on a CPU partition (default: 1)")),
    ("slurm_parallelism", Optional[int], lambda: _opt(None, "--slurm-parallelism", help="slurm: cells running at once, the %N of --array (default: 64)")),
    ("slurm_config", Optional[Path], lambda: _opt(None, "--slurm-config", help="slurm: YAML or JSON file of partition, account, qos, constraint, time_min, gpus_per_task, cpus_per_task, mem_gb, array_parallelism, setup, additional; the options above override it (default: none)")),
    ("dry_run", bool, lambda: _opt(False, "--dry-run", help="slurm: print the sbatch scripts it would submit, submit nothing")),
    ("status", bool, lambda: _opt(False, "--status", help="print each cell's state (done, running where, failed and why, pending) and exit; trains nothing")),
    ("gather", bool, lambda: _opt(False, "--gather", help="rebuild the reports from the cells that exist, name the missing ones, and exit; trains nothing")),
)

STATE_STYLE = {"done": "green", "running": "cyan", "failed": "red", "pending": "yellow"}


def print_status(run_dir: Path) -> dict:
    """One line per cell and a count per state."""
    from rich.console import Console
    from rich.table import Table

    from avemotion.training.grid import grid_status, load_grid

    from avemotion.utils.io import read_json

    grid = load_grid(run_dir)
    status = grid_status(grid)
    slurm_file = grid.run_dir / "grid" / "slurm.json"
    submitted = read_json(slurm_file).get("jobs", {}) if slurm_file.exists() else {}
    table = Table(title=f"grid {run_dir}")
    for col in ("cell", "state", "where / why"):
        table.add_column(col)
    for ident, s in status.items():
        state = s["state"]
        if state == "failed":
            detail = s.get("reason") or ""
            if s.get("log_line") and s["log_line"] not in detail:
                detail += f" | log: {s['log_line']}"
        elif state == "pending":
            detail = "; ".join(x for x in (f"SLURM job {submitted[ident]}" if ident in submitted else "",
                                           "resumes from its last epoch" if s.get("resumes") else "") if x)
        else:
            detail = s.get("where") or ""
        table.add_row(ident, f"[{STATE_STYLE.get(state, 'white')}]{state}[/]", detail)
    console = Console(width=200)
    console.print(table)
    counts = {k: sum(1 for s in status.values() if s["state"] == k) for k in STATE_STYLE}
    console.print(", ".join(f"{v} {k}" for k, v in counts.items()) + f" of {len(status)} cells")
    return status


def run_grid(names: list[str], data: Path, out: Path, *, launcher: str | None, seeds: str | None,
             grid_workers: int | None, threads: int | None, slurm: dict, dry_run: bool, status: bool,
             gather: bool, train: dict) -> None:
    from avemotion.training import grid as grid_mod
    from avemotion.training import launchers

    if status:
        print_status(out)
        return
    if gather:
        _print_gather(grid_mod.gather(out))
        return
    if launcher not in launchers.LAUNCHERS:
        raise ConfigError(f"--launcher must be one of {', '.join(launchers.LAUNCHERS)}, got {launcher!r}")
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()] if seeds else None
    except ValueError:
        raise ConfigError(f"--seeds must be a comma list of integers, got {seeds!r}") from None
    progress = train.pop("progress", False)
    folds = train.pop("folds")
    unimodal_dir = train.pop("unimodal_dir")
    grid = grid_mod.plan_grid(out, data, names, seeds=seed_list, folds=folds, unimodal_dir=unimodal_dir,
                              threads=threads, **train)
    typer.echo(f"grid {out}: {len(grid.models)} model(s) x {len(grid.folds)} fold(s) x {len(grid.seeds)} seed(s): "
               f"{len(grid.cells)} cells")
    opts = launchers.slurm_options(slurm.pop("config"), **slurm)
    if dry_run:
        if launcher != "slurm":
            raise ConfigError("--dry-run prints the sbatch scripts of --launcher slurm")
        for script in launchers.slurm_scripts(out, opts):
            typer.echo(script)
        return
    launchers.launch(out, launcher, workers=grid_workers, slurm=opts, progress=progress)
    if launcher != "slurm":  # a SLURM grid is gathered once its jobs ran: reproduce --gather
        _print_gather(grid_mod.gather(out))


def _print_gather(result: dict) -> None:
    from avemotion.cli.train import _print_report

    for seed, report in result["reports"].items():
        typer.echo(f"seed {seed}:")
        _print_report(report)
    if result.get("seeds"):
        typer.echo(f"over seeds: {Path(next(iter(result['reports'].values()))['run_dir']).parent / 'seeds.md'}")
    if result["missing"]:
        typer.echo(f"missing {len(result['missing'])} cell(s): {', '.join(result['missing'])}; "
                   "run the same command again to train them")


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status_cmd(run_dir: Path = typer.Argument(..., help="a grid run folder (reproduce --launcher ... --out RUN)")) -> None:
        """Each cell of a reproduce grid: done, running (where), failed (why, its log's last line), pending."""
        print_status(run_dir)
