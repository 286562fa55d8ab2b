"""Where the grid's cells run (training.grid plans them; each is run_cell(run_dir, cell_id)):

- sequential: one after another in this process, in plan order;
- local: a pool of worker processes (multiprocessing spawn), one per visible GPU (or N on the CPU),
  each pinned to its device through CUDA_VISIBLE_DEVICES; a cell is handed to an idle worker once
  its dependencies are done; a worker that dies fails its cell alone and is replaced;
- submitit: SLURM job arrays (the unimodal array, then the fusion array with an afterany
  dependency), or submitit's local / in-process debug executors; preemption and timeouts requeue
  the cell, which resumes from its last.ckpt (CellJob.checkpoint).

Every launcher skips done cells (read from the files), and one pointed at a grid another launcher
is running skips the cells the other holds (the cell lock)."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

from avemotion.errors import ConfigError
from avemotion.training.grid import Grid, cell_done, load_grid, record_state, run_cell

logger = logging.getLogger(__name__)

LAUNCHERS = ("sequential", "local", "slurm", "submitit-local", "submitit-debug")


class Progress:
    """The whole grid in one line per event: done / running / failed / pending."""

    def __init__(self, grid: Grid):
        self.grid = grid
        self.state = {c.id: ("done" if cell_done(grid, c) else "pending") for c in grid.cells}
        self.results: dict[str, dict] = {}

    def set(self, ident: str, state: str, line: str = "", result: dict | None = None) -> None:
        self.state[ident] = state
        if result is not None:
            self.results[ident] = result
        counts = {k: sum(1 for v in self.state.values() if v == k) for k in ("done", "running", "failed", "pending")}
        other = len(self.state) - sum(counts.values())
        head = (f"[{counts['done']}/{len(self.state)} done, {counts['running']} running, {counts['failed']} failed, "
                f"{counts['pending']} pending{f', {other} skipped' if other else ''}]")
        logger.info(f"{head} {ident}: {line or state}")

    def summary(self) -> dict:
        return {"cells": dict(self.state), "results": self.results}


def _done_line(result: dict) -> str:
    trained = ", ".join(result.get("trained") or []) or "nothing (reused)"
    acc = [f"{s} accuracy {m['accuracy']:.3f}" for s, m in (result.get("metrics") or {}).items()]
    secs = f" in {result['seconds']:.0f} s" if result.get("seconds") else ""
    where = f" on {result['where']}" if result.get("where") else ""
    return f"done{where}{secs}: trained {trained}; {'; '.join(acc)}"


def _blocked(grid: Grid, cell, state: dict) -> str | None:
    """Why `cell` cannot run in this launch (a dependency failed or another launcher holds it), or None."""
    for dep in cell.depends_on:
        if state.get(dep) in ("failed", "blocked"):
            return f"needs {dep} ({state[dep]})"
    return None


# --------------------------------------------------------------------------------------- sequential


def run_sequential(run_dir: str | Path, progress: bool = False) -> dict:
    grid = load_grid(run_dir)
    prog = Progress(grid)
    for cell in grid.cells:
        if prog.state[cell.id] == "done":
            continue
        why = _blocked(grid, cell, prog.state)
        if why is None and any(not cell_done(grid, grid.cell(d)) for d in cell.depends_on):
            why = f"needs {', '.join(d for d in cell.depends_on if not cell_done(grid, grid.cell(d)))} (not done)"
        if why:
            prog.set(cell.id, "blocked", f"not run: {why}")
            continue
        prog.set(cell.id, "running", "running here")
        result = run_cell(run_dir, cell.id, where="sequential", progress=progress)
        _report(prog, result)
    return prog.summary()


def _report(prog: Progress, result: dict) -> None:
    ident = result["cell"]
    if result["state"] == "done":
        prog.set(ident, "done", _done_line(result), result)
    elif result["state"] == "busy":
        prog.set(ident, "elsewhere", f"skipped: another launcher runs it ({result['holder']})", result)
    else:
        prog.set(ident, "failed", f"FAILED: {result['reason']}", result)


# --------------------------------------------------------------------------------------- local pool


def visible_devices() -> list[str]:
    """The GPUs this process may use (CUDA_VISIBLE_DEVICES, else every one torch counts); [] on a CPU machine."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d for d in env.split(",") if d.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no usable CUDA: the CPU
        return []


def _worker(index: int, run_dir: str, inbox, outbox, progress: bool) -> None:
    """A pool worker: cells from its inbox until None (or Ctrl-C), results to the outbox."""
    import signal

    label = f"worker {index}"
    try:
        while True:
            ident = inbox.get()
            if ident is None:
                return
            outbox.put(("start", index, ident, os.getpid()))
            try:
                from avemotion.training.grid import where_here

                result = run_cell(run_dir, ident, where=where_here(label), progress=progress)
            except KeyboardInterrupt:
                outbox.put(("stopped", index, ident, None))
                return
            except BaseException as err:  # noqa: BLE001 - reported, the worker goes on
                from avemotion.training.grid import failure_reason

                result = {"cell": ident, "state": "failed", "reason": failure_reason(err)}
            outbox.put(("result", index, ident, result))
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_local(run_dir: str | Path, workers: int | None = None, progress: bool = False,
              poll_s: float = 0.2) -> dict:
    """One worker per visible GPU (each sees only its own), or `workers` CPU workers on a machine
    without one (`workers` above the GPU count shares the GPUs round-robin)."""
    import multiprocessing as mp

    grid = load_grid(run_dir)
    gpus = visible_devices()
    n = workers or max(1, len(gpus))
    devices = [gpus[i % len(gpus)] if gpus else "" for i in range(n)]
    prog = Progress(grid)
    spawn = mp.get_context("spawn")
    outbox = spawn.Queue()
    procs: dict[int, tuple] = {}  # index -> (process, inbox)
    busy: dict[int, str] = {}  # worker index -> cell id
    started: dict[int, float] = {}
    deaths: dict[int, int] = {}

    def start(i: int) -> None:
        inbox = spawn.Queue()
        old = os.environ.get("CUDA_VISIBLE_DEVICES")
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[i]  # the child's environment is copied at start
        try:
            p = spawn.Process(target=_worker, args=(i, str(grid.run_dir), inbox, outbox, progress), daemon=True,
                              name=f"avemotion-grid-{i}")
            p.start()
        finally:
            if old is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = old
        procs[i] = (p, inbox)

    logger.info(f"grid {grid.run_dir}: {len(grid.cells)} cells, {n} worker(s) on "
                + (", ".join(f"GPU {d}" for d in devices) if gpus else "the CPU"))
    for i in range(n):
        start(i)
    try:
        while True:
            _assign(grid, prog, procs, busy, started)
            if not busy and not _waiting(grid, prog):
                break
            try:
                kind, i, ident, payload = outbox.get(timeout=poll_s)
            except Exception:  # queue.Empty
                _check_dead(grid, prog, procs, busy, start, deaths)
                _check_elsewhere(grid, prog)
                continue
            if kind == "start":
                prog.set(ident, "running", f"started on worker {i}" + (f" (GPU {devices[i]})" if devices[i] else " (CPU)"))
            elif kind == "result":
                busy.pop(i, None)
                _report(prog, payload)
            elif kind == "stopped":
                busy.pop(i, None)
                prog.set(ident, "pending", "stopped")
    except KeyboardInterrupt:
        logger.info("interrupted: stopping the workers (a running cell keeps its last epoch); run the same command again to continue")
        _stop(procs, busy, timeout=30)
        raise
    _stop(procs, {}, timeout=30)
    return prog.summary()


def _assign(grid, prog, procs, busy, started) -> None:
    for cell in grid.cells:
        idle = [i for i in procs if i not in busy]
        if not idle:
            return
        if prog.state[cell.id] != "pending":
            continue
        why = _blocked(grid, cell, prog.state)
        if why:
            prog.set(cell.id, "blocked", f"not run: {why}")
            continue
        if all(prog.state.get(d) == "done" for d in cell.depends_on):
            i = idle[0]
            busy[i], started[i] = cell.id, time.time()
            prog.state[cell.id] = "queued"
            procs[i][1].put(cell.id)


def _waiting(grid, prog) -> bool:
    """Cells that may still run in this launch: pending ones whose dependencies are not all failed
    (and are pending, queued, running here, or running in another launcher)."""
    return any(prog.state[c.id] in ("pending", "queued") and _blocked(grid, c, prog.state) is None
               and (not c.depends_on or all(prog.state.get(d) in ("done", "elsewhere", "pending", "queued", "running")
                                            for d in c.depends_on))
               for c in grid.cells) or any(v == "elsewhere" for v in prog.state.values())


def _check_elsewhere(grid, prog) -> None:
    """A cell another launcher held: done once its files say so; given up when its lock is gone undone."""
    from avemotion.training.grid import cell_status

    for c in grid.cells:
        if prog.state[c.id] != "elsewhere":
            continue
        status = cell_status(grid, c)
        if status["state"] == "done":
            prog.set(c.id, "done", "done by another launcher")
        elif status["state"] != "running":
            prog.set(c.id, "failed", f"another launcher left it {status['state']}")


MAX_IDLE_DEATHS = 3  # workers dying without a cell (they cannot start): give up, in one line


def _check_dead(grid, prog, procs, busy, start, deaths: dict | None = None) -> None:
    deaths = {} if deaths is None else deaths
    for i, (p, _) in list(procs.items()):
        if p.is_alive():
            continue
        ident = busy.pop(i, None)
        if ident is None:
            deaths[i] = deaths.get(i, 0) + 1
            if deaths[i] > MAX_IDLE_DEATHS:
                raise ConfigError(f"grid worker {i} keeps dying before it trains anything (exit code {p.exitcode}); "
                                  "run `reproduce --launcher sequential` to see the error")
        code = p.exitcode
        why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        if ident is not None and not cell_done(grid, grid.cell(ident)):
            reason = f"worker {i} died ({why}) while training it; a rerun resumes it"
            record_state(grid, grid.cell(ident), "failed", where=f"worker {i} (pid {p.pid})", reason=reason)
            prog.set(ident, "failed", f"FAILED: {reason}", {"cell": ident, "state": "failed", "reason": reason})
        start(i)  # a replacement on the same device


def _stop(procs, busy, timeout: float) -> None:
    for p, inbox in procs.values():
        with contextlib.suppress(Exception):
            inbox.put(None)
    deadline = time.time() + timeout
    for p, _ in procs.values():
        p.join(max(0.1, deadline - time.time()))
    for p, _ in procs.values():
        if p.is_alive():
            p.terminate()
            p.join(5)


# ----------------------------------------------------------------------------------------- submitit

try:
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # the [slurm] extra is not installed: CellJob exists, submitting says what to install
    _Checkpointable = object


class CellJob(_Checkpointable):
    """The function a submitit job runs: one cell. On preemption or timeout submitit calls
    checkpoint(): the cell lock is released and the same call is requeued; it resumes from the
    stage's last.ckpt (the last finished epoch)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = str(run_dir)

    def __call__(self, ident: str) -> dict:
        from avemotion.training.grid import where_here

        label = None
        with contextlib.suppress(Exception):
            import submitit

            env = submitit.JobEnvironment()
            label = f"job {env.job_id}"
        return run_cell(self.run_dir, ident, where=where_here(label))

    def checkpoint(self, ident: str):
        from submitit.helpers import DelayedSubmission

        from avemotion.training.grid import release_lock

        grid = load_grid(self.run_dir)
        release_lock(grid.lock(grid.cell(ident)))
        return DelayedSubmission(CellJob(self.run_dir), ident)


SLURM_DEFAULTS = {
    "partition": None,  # sbatch --partition
    "account": None,  # --account
    "qos": None,  # --qos
    "constraint": None,  # --constraint
    "time_min": 24 * 60,  # --time per cell, minutes (a timeout requeues the cell, which resumes)
    "gpus_per_task": 1,  # --gpus-per-node of each array task (one cell): 1, or 0 on a CPU partition
    "cpus_per_task": None,  # --cpus-per-task (the loader's workers + 1 is a good start)
    "mem_gb": None,  # --mem
    "array_parallelism": 64,  # the %N of --array=0-K%N: cells running at once
    "setup": [],  # shell lines before the command (module load ..., source venv/bin/activate)
    "additional": {},  # any other sbatch option, e.g. {"mail-type": "END"}
}


def slurm_options(config: str | Path | None = None, **given) -> dict:
    """SLURM_DEFAULTS, then a config file (YAML or JSON, the same keys), then the options given (not None)."""
    out = dict(SLURM_DEFAULTS)
    if config:
        import yaml

        path = Path(config)
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read the SLURM config ({err})") from None
        unknown = set(doc) - set(SLURM_DEFAULTS)
        if not isinstance(doc, dict) or unknown:
            raise ConfigError(f"{path}: unknown SLURM setting(s) {sorted(unknown)}; known: {', '.join(SLURM_DEFAULTS)}")
        out.update(doc)
    out.update({k: v for k, v in given.items() if v is not None})
    return out


def _slurm_parameters(grid: Grid, opts: dict) -> dict:
    """SlurmExecutor.update_parameters keywords: one task per cell, requeue on preemption."""
    if opts.get("gpus_per_task") not in (0, 1, None):
        raise ConfigError(f"a grid cell trains on one GPU (gpus_per_task 0 or 1, got {opts['gpus_per_task']}): "
                          "the grid spreads cells over GPUs; DDP over several GPUs is `train` under srun (docs/training.md)")
    params = {
        "job_name": f"avemotion-{grid.run_dir.name}",
        "nodes": 1,
        "ntasks_per_node": 1,
        "gpus_per_node": opts["gpus_per_task"] or None,
        "time": int(opts["time_min"]),
        "array_parallelism": int(opts["array_parallelism"]),
        "signal_delay_s": 120,  # USR2 two minutes before the end: checkpoint() requeues the cell
        "additional_parameters": {"requeue": True, **(opts.get("additional") or {})},
    }
    for key, name in (("partition", "partition"), ("account", "account"), ("qos", "qos"),
                      ("constraint", "constraint"), ("cpus_per_task", "cpus_per_task")):
        if opts.get(key) is not None:
            params[name] = opts[key]
    if opts.get("mem_gb"):
        params["mem"] = f"{int(opts['mem_gb'])}GB"
    if opts.get("setup"):
        params["setup"] = list(opts["setup"])
    return {k: v for k, v in params.items() if v is not None}


def _todo(grid: Grid) -> tuple[list, list]:
    """The cells to submit (not done, not running elsewhere): unimodal, then the others."""
    from avemotion.training.grid import cell_status

    todo = [c for c in grid.cells if cell_status(grid, c)["state"] not in ("done", "running")]
    return [c for c in todo if c.kind == "unimodal"], [c for c in todo if c.kind != "unimodal"]


def _submitit():
    try:
        import submitit
    except ImportError:
        raise ConfigError("the slurm and submitit launchers need submitit: pip install 'avemotion[slurm]'") from None
    return submitit


def slurm_scripts(run_dir: str | Path, opts: dict) -> list[str]:
    """--dry-run: the sbatch scripts submit_slurm would submit (nothing is written)."""
    from submitit.slurm.slurm import _make_sbatch_string

    import shlex
    import sys

    grid = load_grid(run_dir)
    uni, fus = _todo(grid)
    folder = grid.run_dir / "grid" / "submitit" / "%j"
    command = " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(str(folder))])
    params = _slurm_parameters(grid, opts)
    scripts = []
    for cells, dep in ((uni, None), (fus, "afterany:UNIMODAL_ARRAY_JOB_ID" if uni else None)):
        if not cells:
            continue
        extra = {"dependency": dep} if dep else {}
        map_count = {"map_count": len(cells)} if len(cells) > 1 else {}
        ids = ", ".join(c.id for c in cells)
        scripts.append(f"# {len(cells)} cell(s): {ids}\n" + _make_sbatch_string(command=command, folder=folder, **params, **extra, **map_count))
    return scripts


def submit_slurm(run_dir: str | Path, opts: dict) -> dict:
    """The unimodal cells as one job array, the others as a second array that starts after it
    (afterany: a failed unimodal cell fails only the fusion cells that need it, with that reason).
    Returns {"unimodal": job id, "fusion": job id, "jobs": {cell: job id}}; RUN/grid/slurm.json keeps it."""
    from avemotion.utils.io import write_json

    submitit = _submitit()
    grid = load_grid(run_dir)
    uni, fus = _todo(grid)
    if not uni and not fus:
        logger.info(f"grid {grid.run_dir}: every cell is done or running; nothing to submit")
        return {"jobs": {}}
    ex = submitit.SlurmExecutor(folder=grid.run_dir / "grid" / "submitit" / "%j")
    ex.update_parameters(**_slurm_parameters(grid, opts))
    job = CellJob(grid.run_dir)
    out: dict = {"jobs": {}}
    first = None
    if uni:
        jobs = ex.map_array(job, [c.id for c in uni])
        first = jobs[0].job_id.split("_")[0]
        out["unimodal"] = first
        out["jobs"].update({c.id: j.job_id for c, j in zip(uni, jobs)})
        logger.info(f"submitted the unimodal array {first}: {len(uni)} cell(s)")
    if fus:
        if first:
            ex.update_parameters(dependency=f"afterany:{first}")
        jobs = ex.map_array(job, [c.id for c in fus])
        out["fusion"] = jobs[0].job_id.split("_")[0]
        out["jobs"].update({c.id: j.job_id for c, j in zip(fus, jobs)})
        logger.info(f"submitted the fusion array {out['fusion']}: {len(fus)} cell(s)" + (f", after {first}" if first else ""))
    write_json(grid.run_dir / "grid" / "slurm.json", out)
    logger.info(f"follow it with: avemotion status {grid.run_dir}")
    return out


def run_submitit_local(run_dir: str | Path, debug: bool = False, workers: int | None = None,
                       timeout_min: int = 24 * 60) -> dict:
    """submitit's local executor (a subprocess per cell, `workers` at a time) or its in-process
    debug executor; the unimodal cells first, then the others, as the SLURM dependency would."""
    submitit = _submitit()
    grid = load_grid(run_dir)
    prog = Progress(grid)
    uni, fus = _todo(grid)
    folder = grid.run_dir / "grid" / "submitit" / "%j"
    if debug:
        ex = submitit.DebugExecutor(folder=folder)
    else:
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=timeout_min, gpus_per_node=0 if not visible_devices() else 1)
    job = CellJob(grid.run_dir)
    chunk = 1 if debug else max(1, workers or 1)
    for cells in (uni, fus):
        for start in range(0, len(cells), chunk):
            batch = []
            for c in cells[start:start + chunk]:
                why = _blocked(grid, c, prog.state)
                if why:
                    prog.set(c.id, "blocked", f"not run: {why}")
                else:
                    batch.append(c)
            if not batch:
                continue
            jobs = ex.map_array(job, [c.id for c in batch])
            for c, j in zip(batch, jobs):
                prog.set(c.id, "running", f"submitted as job {j.job_id}")
            for c, j in zip(batch, jobs):
                err = j.exception()  # waits; the debug executor runs it here (result() would open pdb on an error)
                if err is not None:
                    from avemotion.training.grid import failure_reason

                    reason = failure_reason(err)
                    record_state(grid, c, "failed", where=f"job {j.job_id}", reason=reason)
                    prog.set(c.id, "failed", f"FAILED: {reason}", {"cell": c.id, "state": "failed", "reason": reason})
                else:
                    _report(prog, j.result())
    return prog.summary()


def launch(run_dir: str | Path, launcher: str, *, workers: int | None = None, slurm: dict | None = None,
           progress: bool = False) -> dict:
    if launcher == "sequential":
        return run_sequential(run_dir, progress=progress)
    if launcher == "local":
        return run_local(run_dir, workers=workers, progress=progress)
    if launcher == "slurm":
        return submit_slurm(run_dir, slurm or slurm_options())
    if launcher in ("submitit-local", "submitit-debug"):
        return run_submitit_local(run_dir, debug=launcher == "submitit-debug", workers=workers)
    raise ConfigError(f"--launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")
