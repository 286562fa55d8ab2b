"""`avemotion prepare`: scan a corpus, preprocess every clip in parallel into the cache, report failures.

Resumable: clips already in the cache are skipped (unless their face source would change: their
landmark CSV appeared or went away), each clip is written atomically under a per-clip lock (so two
prepare processes on one cache share the work), and the report (report.json in the cache folder)
is rewritten at the end, also after an interruption.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from avemotion.config import PreprocessConfig, default_audio_window
from avemotion.data.cache import ClipCache
from avemotion.data.datasets import ClipRecord, scan_dataset
from avemotion.errors import ConfigError, InputError
from avemotion.utils.io import write_json


@dataclass
class PrepareReport:
    cache: str
    dataset: str
    config_hash: str
    found: int = 0
    labels: tuple[str, ...] = ()  # the corpus's class names in label order (recorded in the cache)
    padded: list[str] = field(default_factory=list)  # cached clips whose audio window was zero-padded
    cached_before: int = 0
    prepared: int = 0
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    modalities: tuple[str, ...] = ()
    audio_window: str = ""  # where the audio window lies (PreprocessConfig.audio_window)
    warnings: list[str] = field(default_factory=list)  # shown by the summary, kept in report.json
    duplicates: list[list[str]] = field(default_factory=list)  # clips with identical audio windows
    cached: int = 0  # clips in the cache at the end
    redone: list[str] = field(default_factory=list)  # cached clips prepared again: face source changed
    others: int = 0  # clips left to another prepare process working on the same cache
    face_sources: dict[str, int] = field(default_factory=dict)  # cached clips by face source
    no_landmarks: list[str] = field(default_factory=list)  # clips without the landmark CSV others have

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["reasons"] = dict(Counter(f["reason"] for f in self.failed))
        d["clips_per_s"] = round(self.prepared / self.seconds, 3) if self.seconds else None
        d["complete"] = not self.interrupted and not self.failed and not self.others
        return d


class PrepareInterrupted(KeyboardInterrupt):
    """Ctrl-C during prepare, after the report was written; `report` says what was kept."""

    def __init__(self, report: PrepareReport):
        super().__init__("prepare interrupted")
        self.report = report


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


@contextlib.contextmanager
def _single_threaded():
    """_worker_init for an in-process prepare (workers=1), undone after it: a `train` that follows
    in the same process (a notebook, the tests) keeps its thread pools."""
    import cv2
    import torch

    before = os.environ.get("OMP_NUM_THREADS"), cv2.getNumThreads(), torch.get_num_threads()
    _worker_init()
    try:
        yield
    finally:
        if before[0] is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before[0]
        cv2.setNumThreads(before[1])
        torch.set_num_threads(before[2])


def _pool_init() -> None:
    # Ctrl-C reaches the whole process group: workers finish their clip, the main process stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _worker_init()


class PrepareBug(RuntimeError):
    """An unexpected error while preprocessing a file: a bug to report, not a bad input; it stops
    the run (what is cached stays) and names the file."""


def needs_work(cache: ClipCache, record: ClipRecord) -> bool:
    """Not cached yet, or cached with a face source that would now change: its landmark CSV
    appeared (it was cropped by the detector) or went away, or the side of the frame its face is
    taken from (`face`, IEMOCAP's --iemocap-left) is another."""
    if not cache.has(record.clip_id):
        return True
    if "video" not in cache.modalities:
        return False
    cached = cache.record(record.clip_id)
    # IEMOCAP: the half of the frame the speaker's face is taken from (--iemocap-left) changed
    if cached.get("face") != record.face:
        return True
    return (cached.get("landmarks") is None) != (record.landmarks is None)


def prepare_one(record_dict: dict, cache_path: str, cfg_dict: dict) -> dict:
    """Preprocess one clip into the cache under its lock; returns {"ok": clip_id, "face_source"},
    {"other": clip_id, "detail"} (another prepare holds it or did it meanwhile) or an InputError
    dict, each with the warnings raised meanwhile (kept out of the terminal). Never raises for a bad
    input, so one file cannot stop the run: InputErrors keep their reason, a decoder or container
    error (av.error.*) the data layer did not classify is `corrupt`. A cache that cannot be written
    stops the run (ConfigError); anything else is a bug, raised as PrepareBug naming the file (with
    the original error chained)."""
    record = ClipRecord.from_dict(record_dict)
    cache = ClipCache(Path(cache_path), PreprocessConfig.from_dict(cfg_dict))
    with cache.lock(record.clip_id) as holder:
        if holder or not needs_work(cache, record):
            return {"other": record.clip_id, "detail": holder or "prepared by another process meanwhile"}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _preprocess(record, cache.config)
        if not isinstance(result, dict):
            _write(cache, record, result)
            result = {"ok": record.clip_id, "face_source": result.face_source}
    result["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return result


def _which_segment(record: ClipRecord, detail: str) -> str:
    """`detail` prefixed with the clip id (unless it is the file's stem) and its span, unless the
    detail already says which span (a bad segment's reason does)."""
    if record.start is None:
        return f"{record.clip_id}: {detail}" if record.clip_id != Path(record.path).stem else detail
    if f"{record.start:.2f}-" in detail:
        return detail
    span = f"{record.start:.2f}-" + ("end" if record.end is None else f"{record.end:.2f} s")
    return f"{record.clip_id}, {span}: {detail}"


def _preprocess(record: ClipRecord, cfg: PreprocessConfig):
    """ClipArrays, or {"error": InputError dict} for a bad input."""
    import av

    from avemotion.data.preprocess import preprocess

    segment = record.start is not None or record.audio_path is not None
    try:
        if segment:  # end None: to the end of the file
            return preprocess(record.path, cfg, span=(record.start or 0.0, record.end), landmarks=record.landmarks,
                              audio_path=record.audio_path, face=record.face)
        return preprocess(record.path, cfg, landmarks=record.landmarks)
    except InputError as err:
        error = err.to_dict()
        if segment:  # many clips may share one recording: the line must say which one failed
            error["detail"] = _which_segment(record, error["detail"])
        return {"error": error}
    except av.error.FFmpegError as err:
        return {"error": {"file": str(record.path), "reason": "corrupt", "detail": f"cannot decode ({err})"}}
    except Exception as err:
        raise PrepareBug(f"{record.path}: unexpected {type(err).__name__} while preprocessing (a bug, not a bad "
                         f"file; please report it): {err}") from err


def _write(cache: ClipCache, record: ClipRecord, arrays) -> None:
    try:
        cache.write(record, arrays)
    except OSError as err:  # permission, a full disk: every other clip would fail the same way
        raise ConfigError(f"{err.filename or cache.clips}: cannot write the cache ({err.strerror or err})") from None


def _run(todo: list[ClipRecord], cache: ClipCache, workers: int, on_result) -> None:
    args = [(r.to_dict(), str(cache.path), cache.config.to_dict()) for r in todo]
    if workers <= 1:
        with _single_threaded():  # as a pool worker runs, then the caller's thread pools again
            for a in args:
                on_result(prepare_one(*a))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_pool_init)
    try:
        with _sigint_held():  # the workers start (on submit) with Ctrl-C held, then ignore it
            futures = [pool.submit(prepare_one, *a) for a in args]
        for fut in as_completed(futures):
            on_result(fut.result())
    finally:
        # On Ctrl-C: drop the queued clips, let running ones finish their atomic writes.
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _sigint_held():
    """Block SIGINT in this thread meanwhile: processes started here inherit the mask, so a worker
    is never interrupted while it imports (a traceback); a Ctrl-C then reaches this process."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def prepare(data_dir: str | Path, out: str | Path, cfg: PreprocessConfig | None = None, *,
            workers: int | None = None, report_path: str | Path | None = None, dataset: str | None = None,
            progress: bool = False, on_clip=None, options: dict | None = None) -> PrepareReport:
    """Prepare `data_dir` (a corpus folder, or a manifest CSV) into OUT/<cfg.hash()>/; `on_clip(result)`
    is called after every clip; `options` go to the dataset adapter (e.g. {"labels": (...)} for a
    manifest). The cache records the corpus's class names and speaker names. Ctrl-C raises
    PrepareInterrupted once the report is written. `cfg` None: the default settings with the
    corpus's audio window (config.default_audio_window: the paper's for RAVDESS, else speech)."""
    start = time.perf_counter()
    scan = scan_dataset(data_dir, dataset, **(options or {}))
    cfg = cfg or PreprocessConfig(audio_window=default_audio_window(scan.dataset))
    cfg = dataclasses.replace(cfg, modalities=scan.modalities)  # an audio-only corpus: no video work
    cache = ClipCache.create(out, cfg, labels=scan.labels, speakers=scan.speakers)
    if scan.extent is not None:
        cache.write_extent(scan.extent.to_dict())
    if scan.protocol is not None:
        cache.write_protocol(scan.protocol)
    todo = [r for r in scan.records if needs_work(cache, r)]
    report = PrepareReport(cache=str(cache.path), dataset=scan.dataset, config_hash=cfg.hash(),
                           labels=scan.labels, audio_window=cfg.audio_window,
                           found=len(scan.records) + len(scan.errors), cached_before=len(scan.records) - len(todo),
                           failed=[e.to_dict() for e in scan.errors], modalities=cfg.modalities,
                           warnings=list(scan.notes), redone=[r.clip_id for r in todo if cache.has(r.clip_id)],
                           no_landmarks=missing_landmarks(scan))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    bar = _progress(progress, len(todo))
    caught: dict[str, list[str]] = {}  # warning -> files

    def on_result(result: dict) -> None:
        if "ok" in result:
            report.prepared += 1
        elif "other" in result:
            report.others += 1
        else:
            report.failed.append(result["error"])
        for w in result.get("warnings", ()):
            caught.setdefault(w, []).append(result.get("ok") or result.get("other") or result["error"]["file"])
        if bar:
            bar.advance()
        if on_clip:
            on_clip(result)

    try:
        _run(todo, cache, workers, on_result)
    except KeyboardInterrupt:
        report.interrupted = True
        raise PrepareInterrupted(report) from None
    finally:
        if bar:
            bar.stop()
        report.seconds = round(time.perf_counter() - start, 3)
        _finish(report, cache, caught)
        write_json(cache.path / "report.json", report.to_dict())
        if report_path:
            write_json(report_path, report.to_dict())
    return report


def _finish(report: PrepareReport, cache: ClipCache, caught: dict[str, list[str]]) -> None:
    """Counts and warnings from the cache's records (one read of every clip's JSON) and the run."""
    records = cache.records()
    report.cached = len(records)
    report.duplicates = cache.duplicates(records)
    cache.write_index(records)
    report.face_sources = cache.face_sources(records)
    report.padded = [r["clip_id"] for r in records if (r.get("prep") or {}).get("padded")]
    if report.padded:
        report.warnings.append(padded_warning(report.padded, cache.config))
    report.warnings += [duplicate_warning(ids) for ids in report.duplicates] + _face_warnings(report, records)
    if report.others:
        report.warnings.append(f"{report.others} clips left to another prepare working on this cache")
    report.warnings += [f"{w} while preprocessing {len(files)} file(s), e.g. {Path(files[0]).name}"
                        for w, files in caught.items()]


def padded_warning(ids: list[str], cfg: PreprocessConfig) -> str:
    """The summary line counting the clips whose audio window was zero-padded."""
    if cfg.audio_window == "speech":
        what = (f"hold less than {cfg.audio_duration:.2f} s of speech, the window zero-padded on both sides of it "
                "(speech window)")
    else:
        what = f"are shorter than the {cfg.min_duration:.2f} s audio window, their audio zero-padded (--pad-short)"
    return f"{len(ids)} clips {what}: {_names(ids)} (report.json padded lists them)"


def _face_warnings(report: PrepareReport, records: list[dict]) -> list[str]:
    """One line per kind of landmark-to-detector fallback, and for the clips prepared again."""
    unusable = [r["clip_id"] for r in records
                if r.get("landmarks") and (r.get("prep") or {}).get("face_source") == "detector"]
    lines = []
    if report.no_landmarks:
        lines.append(f"{len(report.no_landmarks)} clips have no landmark CSV, so their faces come from the "
                     f"detector: {_names(report.no_landmarks)} (report.json no_landmarks lists them)")
    if unusable:
        lines.append(f"{len(unusable)} clips have a landmark CSV without a row marked as a face (success = 1), "
                     f"so their faces come from the detector: {_names(unusable)}")
    if report.redone:
        lines.append(f"{len(report.redone)} cached clips prepared again, their landmark CSV appeared or went "
                     f"away or their face's side of the frame changed: {_names(report.redone)}")
    return lines


def missing_landmarks(scan) -> list[str]:
    """Video clips without a landmark CSV, when the adapter expects one for every clip or the corpus
    has one for others (a partial landmark set: the rest silently fell back to the detector)."""
    if "video" not in scan.modalities:
        return []
    missing = [r.clip_id for r in scan.records if r.landmarks is None]
    return missing if scan.expects_landmarks or len(missing) < len(scan.records) else []


def _names(ids: list[str], shown: int = 10) -> str:
    return ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def duplicate_warning(ids: list[str]) -> str:
    # Both stay in the cache: they belong to one actor, so they never straddle train and test;
    # a user who wants one of them out removes the file.
    return (f"identical audio under {len(ids)} names: {', '.join(ids)} (same samples in the audio window; "
            "both kept, they belong to one actor and so to one fold)")


def _progress(enabled: bool, total: int):
    """A bar on a terminal, else a line every tenth of the clips or every 5 s (utils.progress)."""
    if not enabled:
        return None
    from avemotion.utils.progress import Progress

    bar = Progress("preparing", total)
    bar.start()
    return bar
