"""`avemotion prepare`: scan a corpus, preprocess every clip in parallel into the cache, report failures.

Resumable: clips already in the cache are skipped, each clip is written atomically, and the report
(report.json in the cache folder) is rewritten at the end, also after an interruption.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from avemotion.config import PreprocessConfig
from avemotion.data.cache import ClipCache
from avemotion.data.datasets import ClipRecord, scan_dataset
from avemotion.errors import InputError
from avemotion.utils.io import write_json


@dataclass
class PrepareReport:
    cache: str
    dataset: str
    config_hash: str
    found: int = 0
    cached_before: int = 0
    prepared: int = 0
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    modalities: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)  # shown by the summary, kept in report.json
    duplicates: list[list[str]] = field(default_factory=list)  # clips with identical audio windows

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["reasons"] = dict(Counter(f["reason"] for f in self.failed))
        d["clips_per_s"] = round(self.prepared / self.seconds, 3) if self.seconds else None
        d["complete"] = not self.interrupted and not self.failed
        return d


def _worker_init() -> None:
    # One process per core: libraries must not start their own thread pools on top.
    os.environ["OMP_NUM_THREADS"] = "1"
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


class PrepareBug(RuntimeError):
    """An unexpected error while preprocessing a file: a bug to report, not a bad input; it stops
    the run (what is cached stays) and names the file."""


def prepare_one(record_dict: dict, cache_path: str, cfg_dict: dict) -> dict:
    """Preprocess one clip into the cache; returns {"ok": clip_id} or an InputError dict. Never raises
    for a bad input, so one file cannot stop the run: InputErrors keep their reason, a decoder or
    container error (av.error.*) the data layer did not classify is `corrupt`. Anything else is a
    bug, raised as PrepareBug naming the file (with the original error chained)."""
    import av

    from avemotion.data.preprocess import preprocess_clip

    record = ClipRecord.from_dict(record_dict)
    cfg = PreprocessConfig.from_dict(cfg_dict)
    try:
        arrays = preprocess_clip(record.path, cfg, record.landmarks)
    except InputError as err:
        return {"error": err.to_dict()}
    except av.error.FFmpegError as err:
        return {"error": {"file": str(record.path), "reason": "corrupt", "detail": f"cannot decode ({err})"}}
    except Exception as err:
        raise PrepareBug(f"{record.path}: unexpected {type(err).__name__} while preprocessing (a bug, not a bad "
                         f"file; please report it): {err}") from err
    ClipCache(Path(cache_path), cfg).write(record, arrays)
    return {"ok": record.clip_id}


def _run(todo: list[ClipRecord], cache: ClipCache, workers: int, on_result) -> None:
    args = [(r.to_dict(), str(cache.path), cache.config.to_dict()) for r in todo]
    if workers <= 1:
        _worker_init()
        for a in args:
            on_result(prepare_one(*a))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init)
    try:
        futures = [pool.submit(prepare_one, *a) for a in args]
        for fut in as_completed(futures):
            on_result(fut.result())
    finally:
        # On Ctrl-C: drop the queued clips, let running ones finish their atomic writes.
        pool.shutdown(wait=True, cancel_futures=True)


def prepare(data_dir: str | Path, out: str | Path, cfg: PreprocessConfig = PreprocessConfig(), *,
            workers: int | None = None, report_path: str | Path | None = None, dataset: str | None = None,
            progress: bool = False, on_clip=None) -> PrepareReport:
    """Prepare `data_dir` into OUT/<cfg.hash()>/; `on_clip(result)` is called after every clip."""
    start = time.perf_counter()
    scan = scan_dataset(data_dir, dataset)
    cfg = dataclasses.replace(cfg, modalities=scan.modalities)  # an audio-only corpus: no video work
    cache = ClipCache.create(out, cfg)
    todo = [r for r in scan.records if not cache.has(r.clip_id)]
    report = PrepareReport(cache=str(cache.path), dataset=scan.dataset, config_hash=cfg.hash(),
                           found=len(scan.records) + len(scan.errors), cached_before=len(scan.records) - len(todo),
                           failed=[e.to_dict() for e in scan.errors], modalities=cfg.modalities,
                           warnings=list(scan.notes))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    bar = _progress(progress, len(todo))

    def on_result(result: dict) -> None:
        if "ok" in result:
            report.prepared += 1
        else:
            report.failed.append(result["error"])
        if bar:
            bar[0].advance(bar[1])
        if on_clip:
            on_clip(result)

    try:
        _run(todo, cache, workers, on_result)
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    finally:
        if bar:
            bar[0].stop()
        report.seconds = round(time.perf_counter() - start, 3)
        records = cache.records()  # one read of every clip's JSON, for both
        report.duplicates = cache.duplicates(records)
        report.warnings += [duplicate_warning(ids) for ids in report.duplicates]
        cache.write_index(records)
        write_json(cache.path / "report.json", report.to_dict())
        if report_path:
            write_json(report_path, report.to_dict())
    return report


def duplicate_warning(ids: list[str]) -> str:
    # Both stay in the cache: they belong to one actor, so they never straddle train and test;
    # a user who wants one of them out removes the file.
    return (f"identical audio under {len(ids)} names: {', '.join(ids)} (same samples in the audio window; "
            "both kept, they belong to one actor and so to one fold)")


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("preparing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bar.start()
    return bar, bar.add_task("prepare", total=total)
