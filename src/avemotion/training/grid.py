"""The reproduce grid: models x folds x seeds, planned once as cells that any launcher can run,
skip, resume or re-run (training.launchers: sequential, a local process pool, submitit/SLURM).

    RUN/grid.json                     the plan: data, training options, models, folds, seeds, cells
    RUN/seed_S/                       an ordinary run folder per seed (run.json, folds/, fold_K/<stage>/,
                                      report.*): every reader of a run folder reads it as it is
    RUN/seed_S/fold_K/<stage>/cell.lock
                                      held while a process trains the cell (pid and host)
    RUN/grid/cells/<cell>.json        the cell's last attempt: state, where, when, the reason it failed
    RUN/grid/logs/<cell>.log          its log lines (and the traceback of a failure)
    RUN/seeds.json, RUN/seeds.md      gather: every model's mean +- std over seeds (evaluation.seeds)

A cell is one function call, run_cell(run_dir, cell_id): the stages of one model on one fold for
one seed ("video" and "audio" are cells of their own; a fusion cell depends on its fold's and
seed's unimodal cells). Whether a cell is done is read from its stage folders alone (metrics.json
and best.json of every stage), so what ran where does not matter. A cell takes its own lock, never
the run's train.lock (training.api.run_lock holds that for a whole sequential training): cells of
one grid train side by side; a cell refuses to start while a plain `train` holds its seed folder's
train.lock, and two launchers on one grid skip each other's running cells.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from avemotion.errors import ConfigError
from avemotion.run_layout import REFIT, UNIMODAL, RunLayout
from avemotion.utils import logs
from avemotion.utils.io import read_json, write_json

logger = logging.getLogger(__name__)

GRID_JSON = "grid.json"
# the keys of grid.json that must not change under a grid's finished cells
FIXED = ("data", "train", "unimodal_dir")


@dataclass(frozen=True)
class Cell:
    id: str  # "s0-f1-cfn_sr"
    kind: str  # "unimodal" or "fusion" (any model trained on its own: end-to-end)
    model: str
    fold: int
    seed: int
    stages: tuple[str, ...]  # the stage folders it trains, in order
    depends_on: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict) -> "Cell":
        return cls(d["id"], d["kind"], d["model"], int(d["fold"]), int(d["seed"]), tuple(d["stages"]),
                   tuple(d.get("depends_on", ())))


def cell_id(model: str, fold: int, seed: int) -> str:
    return f"s{seed}-f{fold}-{model}"


def seed_dir(run_dir: str | Path, seed: int) -> Path:
    return Path(run_dir) / f"seed_{seed}"


# ------------------------------------------------------------------------------------------ plan


@dataclass(frozen=True)
class Grid:
    run_dir: Path
    data: str
    train: dict  # the keyword arguments of training.train_many (preset and TrainConfig overrides)
    models: tuple[str, ...]
    folds: tuple[int, ...]
    seeds: tuple[int, ...]
    unimodal_dir: str | None
    threads: int | None  # torch CPU threads per cell (None: torch's default); part of what a CPU result depends on
    cells: tuple[Cell, ...]

    def cell(self, ident: str) -> Cell:
        for c in self.cells:
            if c.id == ident:
                return c
        raise ConfigError(f"no cell {ident!r} in {self.run_dir / GRID_JSON}")

    def layout(self, seed: int) -> RunLayout:
        uni = Path(self.unimodal_dir) / f"seed_{seed}" if self.unimodal_dir else None
        return RunLayout.for_training(seed_dir(self.run_dir, seed), uni)

    def stage_dir(self, cell: Cell, stage: str | None = None) -> Path:
        return self.layout(cell.seed).stage_dir(cell.fold, stage or cell.stages[0])

    def lock(self, cell: Cell) -> Path:
        return self.stage_dir(cell) / "cell.lock"

    def state_file(self, cell: Cell) -> Path:
        return self.run_dir / "grid" / "cells" / f"{cell.id}.json"

    def log_file(self, cell: Cell) -> Path:
        return self.run_dir / "grid" / "logs" / f"{cell.id}.log"

    def config(self, seed: int):
        """The TrainConfig of the grid's seed-`seed` run (as train_many resolves it; says the corpus's
        folds, as train does)."""
        from avemotion.training.api import corpus_folds
        from avemotion.training.presets import get_preset

        overrides = {k: v for k, v in self.train.items() if k not in ("preset",)}
        overrides = {**overrides, **corpus_folds(self.data, overrides)}
        return get_preset(self.train.get("preset", "small"), **overrides).replace(seed=seed)

    def to_dict(self) -> dict:
        return {"data": self.data, "train": self.train, "models": list(self.models), "folds": list(self.folds),
                "seeds": list(self.seeds), "unimodal_dir": self.unimodal_dir, "threads": self.threads,
                "cells": [asdict(c) for c in self.cells]}


def plan_cells(models: list[str], folds: list[int], seeds: list[int], cfg) -> list[Cell]:
    """Unimodal cells first, then every other model per seed and fold, each with its dependencies."""
    from avemotion.training.protocol import stages_for

    refit = (REFIT,) if cfg.refit else ()
    two_stage = cfg.recipe != "end-to-end"
    fusion = [m for m in models if m not in UNIMODAL]
    unimodal = [u for u in UNIMODAL if u in models or (two_stage and fusion)]
    cells = []
    for seed in seeds:
        for fold in folds:
            for u in unimodal:
                cells.append(Cell(cell_id(u, fold, seed), "unimodal", u, fold, seed, (u, *(u + r for r in refit))))
    for seed in seeds:
        for fold in folds:
            for m in fusion:
                stages = tuple(s for s in stages_for(m, cfg) if s.removesuffix(REFIT) not in UNIMODAL)
                deps = tuple(cell_id(u, fold, seed) for u in UNIMODAL) if two_stage else ()
                cells.append(Cell(cell_id(m, fold, seed), "fusion", m, fold, seed, stages, deps))
    return cells


def plan_grid(run_dir: str | Path, data: str | Path, models: list[str], *, seeds: list[int] | None = None,
              folds: str | list[int] = "all", unimodal_dir: str | Path | None = None, threads: int | None = None,
              **train) -> Grid:
    """Check everything once (open each seed's run as train_many would: cache, options, folds; this
    writes its run.json and fold manifests), write RUN/grid.json, and return the grid. A grid folder
    is refused with other data or training options; models, folds, seeds and threads may change."""
    from avemotion.models import model_info
    from avemotion.training.run import open_run, select_folds

    for name in models:
        model_info(name)
    run_dir = Path(run_dir)
    train = {k: v for k, v in train.items() if v is not None and k != "progress"}
    grid = Grid(run_dir, str(Path(data).resolve()), train, tuple(models), (), (), 
                str(Path(unimodal_dir).resolve()) if unimodal_dir else None, threads, ())
    base = grid.config(0)
    seeds = list(seeds) if seeds else [base.seed]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds: {seeds} repeats a seed")
    path = run_dir / GRID_JSON
    if path.exists():
        old = read_json(path)
        changed = [k for k in FIXED if old.get(k) != grid.to_dict()[k]]
        if changed:
            raise ConfigError(f"{run_dir} holds a grid with other {', '.join(changed)}; use a new --out "
                              "(or the same options to resume)")
    fold_list: list[int] | None = None
    for seed in seeds:
        cfg = base.replace(seed=seed)
        with _quiet_lock(grid.layout(seed)), logs.muted():  # said once above, not per seed
            ctx = open_run(grid.layout(seed).root, data, cfg, models=list(models),
                           unimodal_dir=grid.layout(seed).unimodal_root if unimodal_dir else None,
                           folds=folds)
        fold_list = [f.index for f in select_folds(ctx, folds)]
    grid = Grid(run_dir, grid.data, train, tuple(models), tuple(fold_list), tuple(seeds), grid.unimodal_dir, threads,
                tuple(plan_cells(list(models), fold_list, seeds, base)))
    write_json(path, grid.to_dict())
    return grid


@contextlib.contextmanager
def _quiet_lock(layout: RunLayout):
    """Planning writes run.json and the manifests: not while a plain `train` writes into the folder."""
    from avemotion.utils.locks import holding

    with holding(layout.lock, f"another training into {layout.root}"):
        yield


def load_grid(run_dir: str | Path) -> Grid:
    run_dir = Path(run_dir)
    path = run_dir / GRID_JSON
    if not path.exists():
        raise ConfigError(f"{run_dir}: no {GRID_JSON} (not a grid run; `reproduce --launcher ...` plans one)")
    d = read_json(path)
    return Grid(run_dir, d["data"], d["train"], tuple(d["models"]), tuple(d["folds"]), tuple(d["seeds"]),
                d.get("unimodal_dir"), d.get("threads"), tuple(Cell.from_dict(c) for c in d["cells"]))


# ------------------------------------------------------------------------------------------ state


def cell_done(grid: Grid, cell: Cell) -> bool:
    """From the files alone: every stage of the cell holds metrics.json and best.json."""
    layout = grid.layout(cell.seed)
    return all(layout.is_done(cell.fold, s) for s in cell.stages)


def cell_status(grid: Grid, cell: Cell) -> dict:
    """{"state": done|running|failed|stopped|pending, "where", "reason", ...} read from the files."""
    from avemotion.utils.locks import live_holder

    record = _read_state(grid, cell)
    if cell_done(grid, cell):
        return {"state": "done", "where": record.get("where"), "seconds": record.get("seconds")}
    lock = grid.lock(cell)
    holder = live_holder(lock) if lock.exists() else None
    if holder:
        return {"state": "running", "where": record.get("where") or holder, "holder": holder}
    if record.get("state") == "failed":
        return {"state": "failed", "where": record.get("where"), "reason": record.get("reason"),
                "log_line": last_log_line(grid, cell)}
    if record.get("state") == "running":  # its process died without a word (killed, node lost)
        return {"state": "failed", "where": record.get("where"), "reason": "its process ended without finishing "
                "(killed, or its node lost); a rerun resumes it", "log_line": last_log_line(grid, cell)}
    return {"state": "pending", "resumes": grid.layout(cell.seed).has_start(cell.fold, cell.stages[0])}


def grid_status(grid: Grid) -> dict[str, dict]:
    return {c.id: cell_status(grid, c) for c in grid.cells}


def last_log_line(grid: Grid, cell: Cell) -> str | None:
    path = grid.log_file(cell)
    if not path.exists():
        return None
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else None


def _read_state(grid: Grid, cell: Cell) -> dict:
    path = grid.state_file(cell)
    try:
        return read_json(path) if path.exists() else {}
    except ConfigError:  # a torn file: as if absent
        return {}


def record_state(grid: Grid, cell: Cell, state: str, **fields) -> None:
    write_json(grid.state_file(cell), {"cell": cell.id, "state": state, "time": time.time(), **fields})


def where_here(label: str | None = None) -> str:
    device = os.environ.get("CUDA_VISIBLE_DEVICES")
    dev = f"cuda:{device}" if device else "cpu"
    return f"{label + ', ' if label else ''}pid {os.getpid()} on {socket.gethostname()} ({dev})"


# ------------------------------------------------------------------------------------------- run


def run_cell(run_dir: str | Path, ident: str, *, where: str | None = None, progress: bool = False) -> dict:
    """Train exactly the stages of one cell (finished ones are reused), under the cell's lock.

    Returns {"cell", "state": "done" | "busy" | "failed", "trained": [stages], "reused": [stages],
    "metrics": {stage: test metrics}, "reason"}. "busy": another process holds the cell (nothing
    was done, nothing recorded). A failure is recorded in RUN/grid/cells/<cell>.json with its
    reason and returned; KeyboardInterrupt is recorded as "stopped" and raised."""
    from avemotion.utils.locks import live_holder, take_lock

    grid = load_grid(run_dir)
    cell = grid.cell(ident)
    where = where or where_here()
    if cell_done(grid, cell):
        return {"cell": cell.id, "state": "done", "trained": [], "reused": list(cell.stages), "metrics": _metrics(grid, cell)}
    lock = grid.lock(cell)
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = take_lock(lock)
    if holder is not None:
        return {"cell": cell.id, "state": "busy", "holder": holder, "trained": [], "reused": []}
    log_path = grid.log_file(cell)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    try:
        with logs.to_file(log_path):  # the cell's lines, its stages' included, go to its log alone
            logger.info(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {cell.id} on {where}")
            record_state(grid, cell, "running", where=where, pid=os.getpid(), host=socket.gethostname(), started=start)
            try:
                train_lock = grid.layout(cell.seed).lock
                if train_lock.exists() and (other := live_holder(train_lock)):
                    raise ConfigError(f"a plain training into {train_lock.parent} is running in {other}")
                trained, reused = _train_cell(grid, cell, progress)
            except KeyboardInterrupt:
                logger.info("stopped (interrupted); a rerun resumes it")
                record_state(grid, cell, "stopped", where=where)
                raise
            except Exception as err:  # noqa: BLE001 - a cell fails alone, with its reason
                reason = failure_reason(err)
                logger.info(traceback.format_exc().rstrip())
                logger.info(f"FAILED: {reason}")
                record_state(grid, cell, "failed", where=where, reason=reason, seconds=time.time() - start)
                return {"cell": cell.id, "state": "failed", "reason": reason, "trained": [], "reused": []}
            seconds = time.time() - start
            logger.info(f"done in {seconds:.1f} s (trained {trained or 'nothing'}, reused {reused or 'nothing'})")
            record_state(grid, cell, "done", where=where, seconds=seconds, trained=trained)
            return {"cell": cell.id, "state": "done", "trained": trained, "reused": reused,
                    "metrics": _metrics(grid, cell), "seconds": seconds, "where": where}
    finally:
        release_lock(lock)


def failure_reason(err: BaseException) -> str:
    """One line: what failed (the error's kind, its first line); out of memory said so."""
    from avemotion.errors import AvemotionError

    text = (str(err).strip().splitlines() or ["(no message)"])[0]
    if isinstance(err, AvemotionError):
        return text
    if isinstance(err, MemoryError) or "out of memory" in text.lower():
        return f"out of memory: {type(err).__name__}: {text}"
    return f"{type(err).__name__}: {text}"


def release_lock(lock: Path) -> None:
    """Remove the cell lock if this process holds it (also from submitit's checkpoint on preemption)."""
    try:
        owner = json.loads(lock.read_text())
    except (OSError, ValueError):
        return
    if owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _train_cell(grid: Grid, cell: Cell, progress: bool) -> tuple[list[str], list[str]]:
    """What train_many does for one model on one fold (run_stage per stage), for this cell's stages only."""
    from avemotion.training.protocol import plan_stage
    from avemotion.training.run import open_run, run_stage, select_folds

    if grid.threads:
        import torch

        torch.set_num_threads(int(grid.threads))
    for dep in cell.depends_on:
        other = grid.cell(dep)
        if not cell_done(grid, other):
            raise ConfigError(f"needs cell {dep}, which is not done")
    layout = grid.layout(cell.seed)
    with logs.muted():  # the grid said the corpus's folds when it was planned
        cfg = grid.config(cell.seed)
    ctx = open_run(layout.root, grid.data, cfg, models=list(grid.models),
                   unimodal_dir=layout.unimodal_root if grid.unimodal_dir else None, progress=progress,
                   folds=[cell.fold])
    fold = select_folds(ctx, [cell.fold])[0]
    trained, reused = [], []
    for stage in cell.stages:
        done = ctx.layout.has_result(fold.index, stage)
        run_stage(ctx, plan_stage(ctx, fold, stage, cell.model))
        (reused if done else trained).append(stage)
    return trained, reused


def _metrics(grid: Grid, cell: Cell) -> dict:
    layout = grid.layout(cell.seed)
    return {s: layout.read_result(cell.fold, s).metrics for s in cell.stages}


# ---------------------------------------------------------------------------------------- gather


def gather(run_dir: str | Path) -> dict:
    """Rebuild every seed folder's report from its files, the over-seeds summary when there are
    several seeds, and say which cells are missing. {"reports": {seed: report}, "missing": {...}}."""
    from avemotion.evaluation.report import build_report

    grid = load_grid(run_dir)
    status = grid_status(grid)
    missing = {c: s for c, s in status.items() if s["state"] != "done"}
    primary = "cfn_sr" if "cfn_sr" in grid.models else grid.models[-1]
    reports = {}
    for seed in grid.seeds:
        folder = seed_dir(grid.run_dir, seed)
        if RunLayout(folder, folder).has_run():
            reports[seed] = build_report(folder, primary=primary)
    summary = seeds_summary(grid, reports) if len(reports) > 1 else None
    done = len(status) - len(missing)
    logger.info(f"grid {grid.run_dir}: {done} of {len(status)} cells done"
                + (f"; missing: {', '.join(c + ' (' + s['state'] + ')' for c, s in missing.items())}" if missing else ""))
    return {"reports": reports, "missing": missing, "seeds": summary, "status": status}


def seeds_summary(grid: Grid, reports: dict) -> dict:
    """Every model reported by all seed folders: evaluation.seeds over them (RUN/seeds.json, .md)."""
    from avemotion.evaluation.seeds import summarize_seeds
    from avemotion.utils.io import write_text

    folders = [seed_dir(grid.run_dir, s) for s in sorted(reports)]
    models = [m for m in reports[min(reports)]["models"] if all(m in r["models"] for r in reports.values())]
    out = {}
    for m in models:
        try:
            out[m] = summarize_seeds(folders, m)
        except ConfigError as err:  # e.g. a model missing a fold in one seed
            out[m] = {"error": str(err)}
    write_json(grid.run_dir / "seeds.json", out)
    lines = ["# Over seeds", "", f"seeds {', '.join(map(str, sorted(reports)))}: mean +- std over seeds of the fold means", "",
             "| model | accuracy | UAR | macro-F1 |", "|---|---:|---:|---:|"]
    for m, s in out.items():
        if "error" in s:
            lines.append(f"| {m} | {s['error']} | | |")
            continue
        cells = [f"{s['over_seeds'][k]['mean'] * 100:.1f} +- {s['over_seeds'][k]['std'] * 100:.1f}" for k in ("accuracy", "uar", "macro_f1")]
        lines.append(f"| {m} | {' | '.join(cells)} |")
    write_text(grid.run_dir / "seeds.md", "\n".join(lines) + "\n")
    return out
