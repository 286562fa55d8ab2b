"""`avemotion download`: plan (metadata), licence, free space, then fetch, verify and extract.

DIR holds the corpus in the layout `prepare` reads, its licence record `LICENCE-<corpus>.md`, and
`.downloads/` (archives being fetched as `NAME.part`, kept archives with --keep-archives, and
`state.json`: what each archive placed, the CREMA-D pointers read). A rerun skips every archive
whose placed files are all there with their sizes and every file whose checksum matches, continues
the `.part` files, and fetches the rest.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from avemotion.data.download import sources
from avemotion.data.download.extract import ArchiveError, clean_temporaries, extract
from avemotion.data.download.fetch import FetchError, Interrupted, Workers, fetch_file, file_digest, resolve
from avemotion.data.download.sources import DOWNLOADS, Corpus, Item, Plan
from avemotion.errors import ConfigError

STATE_FILE = "state.json"


class DownloadInterrupted(Exception):
    """Ctrl-C: `parts` are the partial files kept for the rerun."""

    def __init__(self, parts: list[Path]):
        super().__init__(f"{len(parts)} partial files kept")
        self.parts = parts


@dataclass
class Result:
    fetched: list[str] = field(default_factory=list)
    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def human(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


# ------------------------------------------------------------------------------------------ state

def state_path(dest: Path) -> Path:
    return dest / DOWNLOADS / STATE_FILE


def load_state(dest: Path) -> dict:
    from avemotion.utils.io import read_json

    try:
        state = read_json(state_path(dest))
    except FileNotFoundError:
        return {}
    return state if isinstance(state, dict) else {}


def save_state(dest: Path, state: dict) -> None:
    from avemotion.utils.io import write_json

    write_json(state_path(dest), state)


def check_folder(dest: Path, corpus: Corpus) -> dict:
    """DIR's state; a folder that is a file, or that holds another corpus's download, is refused."""
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest}: not a folder")
    state = load_state(dest) if dest.is_dir() else {}
    other = state.get("corpus")
    if other and other != corpus.name:
        raise ConfigError(f"{dest}: holds a {other} download; download {corpus.name} into a folder of its own "
                          "(each corpus has its own layout)")
    return state


# ------------------------------------------------------------------------------------------ licence

def licence_file(dest: Path, corpus: Corpus) -> Path:
    return dest / f"LICENCE-{corpus.name}.md"


def licence_text(corpus: Corpus) -> str:
    lines = [f"{corpus.title}", f"Licence: {corpus.licence} ({corpus.licence_url})", corpus.terms, "Please cite:"]
    lines += [f"  {c}" for c in corpus.citation]
    lines.append(f"Source: {corpus.source}")
    return "\n".join(lines)


def licence_accepted(dest: Path, corpus: Corpus) -> bool:
    path = licence_file(dest, corpus)
    try:
        return f"Licence: {corpus.licence}" in path.read_text()
    except OSError:
        return False


def record_licence(dest: Path, corpus: Corpus, how: str) -> Path:
    from avemotion.utils.io import write_text

    when = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    path = licence_file(dest, corpus)
    cite = "\n".join(f"- {c}" for c in corpus.citation)
    write_text(path, f"# {corpus.name}: terms of use\n\n{corpus.title}\n\nLicence: {corpus.licence} ({corpus.licence_url})\n\n"
                     f"{corpus.terms}\n\nPlease cite:\n\n{cite}\n\nSource: {corpus.source}\n\n"
                     f"Accepted {when} ({how}) with `avemotion download {corpus.name}`; keep this file with the data.\n")
    return path


# ------------------------------------------------------------------------------------------ plan

def make_plan(plan: Plan, *, mirror: str | None, retries: int, jobs: int, state: dict | None = None,
              stop: threading.Event | None = None, progress: Callable[[], None] | None = None) -> Plan:
    """Fill `plan` with the files to fetch, from the source's metadata (one request for RAVDESS and
    EmoDB; the file list and one pointer per clip for CREMA-D: on Ctrl-C, plan.pointers holds those read)."""
    corpus = plan.corpus
    if corpus.name == "ravdess":
        sources.plan_ravdess(plan, mirror=mirror, retries=retries)
    elif corpus.name == "crema-d":
        sources.plan_crema(plan, mirror=mirror, retries=retries, jobs=jobs, known=(state or {}).get("pointers", {}),
                           stop=stop, progress=progress)
    elif corpus.name == "emodb":
        sources.plan_emodb(plan)
    return plan


def item_status(item: Item, state: dict) -> tuple[str, int]:
    """("complete" | "extract" | "fetch", bytes already on disk for a fetch)."""
    if item.is_archive:
        entry = state.get("archives", {}).get(item.name)
        if entry and (item.checksum is None or entry.get("checksum") == item.checksum) and _covers(entry, item) \
                and all(_has(item.dest.parent.parent / rel, size) for rel, size in entry.get("files", {}).items()):
            return "complete", 0
        if item.checksum and item.dest.is_file() and item.dest.stat().st_size == item.size \
                and file_digest(item.dest, item.checksum.split(":")[0]) == item.checksum:
            return "extract", 0
    elif item.dest.is_file() and item.dest.stat().st_size == item.size \
            and file_digest(item.dest, item.checksum.split(":")[0]) == item.checksum:
        return "complete", 0
    part = item.part_path
    return "fetch", part.stat().st_size if part.is_file() else 0


def _covers(entry: dict, item: Item) -> bool:
    placed = entry.get("actors")
    return placed is None or (item.actors is not None and set(item.actors) <= set(placed))


def _has(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def space_needed(plan: Plan, statuses: dict[str, tuple[str, int]], *, keep_archives: bool, jobs: int) -> int:
    """Bytes still to be written: the files left to fetch, the archives' contents, and the archives
    themselves while they wait to be extracted (all of them with --keep-archives)."""
    need, archives = 0, []
    for item in plan.items:
        status, have = statuses[item.name]
        if status == "complete":
            continue
        size = item.size if item.size is not None else sources.EMODB_NOMINAL_SIZE
        if status == "fetch":
            need += max(0, size - have)
        if item.is_archive:
            need += size  # its contents, about as large (media is stored compressed already)
            archives.append(size)
    if archives and not keep_archives:
        need -= sum(archives)
        need += sum(sorted(archives, reverse=True)[:max(1, jobs)])
    return need


def free_space(dest: Path) -> int:
    probe = dest
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_space(dest: Path, need: int) -> None:
    free = free_space(dest)
    if need > free:
        raise ConfigError(f"{dest}: this download needs {human(need)} of free disk space, {human(free)} is free "
                          "(choose another folder, fewer --actors or --parts)")


# ------------------------------------------------------------------------------------------ run

def run(plan: Plan, *, mirror: str | None, jobs: int = 4, retries: int = 5, keep_archives: bool = False,
        trust_unverified: bool = False, state: dict | None = None, statuses: dict | None = None,
        console=None, show_progress: bool = True) -> Result:
    """Fetch, verify and extract every planned file; failures are collected, not raised."""
    from rich.console import Console

    dest = plan.dest
    console = console or Console(stderr=True)
    downloads = dest / DOWNLOADS
    downloads.mkdir(parents=True, exist_ok=True)
    clean_temporaries(downloads)
    state = state if state is not None else load_state(dest)
    state["corpus"] = plan.corpus.name
    state.setdefault("archives", {})
    if plan.pointers:
        state.setdefault("pointers", {}).update(plan.pointers)
    save_state(dest, state)

    result = Result(failed=list(plan.failed), notes=list(plan.notes))
    statuses = statuses or {item.name: item_status(item, state) for item in plan.items}
    to_fetch = [i for i in plan.items if statuses[i.name][0] == "fetch"]
    to_extract = [i for i in plan.items if statuses[i.name][0] == "extract"]
    result.skipped = [i.name for i in plan.items if statuses[i.name][0] == "complete"]

    known = [i.size for i in to_fetch]
    total = None if any(s is None for s in known) else sum(known)
    stop = threading.Event()
    lines = show_progress and not console.is_terminal and len(to_fetch) <= 50
    progress = _progress(console) if show_progress and console.is_terminal else None
    task = progress.add_task(f"{plan.corpus.name}", total=total) if progress else None

    def on_bytes(n: int) -> None:
        if progress is not None:
            progress.advance(task, n)

    def fetch_one(item: Item) -> tuple[str, int]:
        digest, size = fetch_file(resolve(item.url, mirror), item.part_path, name=item.name, size=item.size,
                                  checksum=item.checksum, retries=retries, on_bytes=on_bytes, stop=stop)
        if item.checksum is not None:  # verified: under its final name
            item.dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(item.part_path, item.dest)
        return digest, size

    workers = None
    try:
        if progress:
            progress.start()
        for item in to_extract:
            _extract(item, item.dest, item.checksum, item.size, dest, state, result, keep_archives, trust_unverified)
        workers = Workers(fetch_one, to_fetch, jobs, stop)
        for item, done, err in workers:
            if isinstance(err, (FetchError, OSError)):
                result.failed.append((item.name, _reason(err, item)))
                state.get("pointers", {}).pop(item.name, None)  # read its pointer again next time (it may be fixed)
                continue
            if err is not None:
                raise err
            digest, size = done
            result.fetched.append(item.name)
            result.bytes += size
            if lines:
                console.print(f"fetched {item.name} ({human(size)})", markup=False, highlight=False)
            if item.is_archive:
                source = item.dest if item.checksum is not None else item.part_path
                _extract(item, source, digest, size, dest, state, result, keep_archives, trust_unverified)
    except (KeyboardInterrupt, Interrupted):
        stopped = True
    else:
        stopped = False
    finally:
        stop.set()  # done, interrupted or a bug: no thread starts another file
        if progress:
            progress.stop()
    if stopped:
        if workers is not None:
            workers.halt()
        save_state(dest, state)
        raise DownloadInterrupted(sorted({i.part_path for i in plan.items if i.part_path.is_file()}))
    save_state(dest, state)
    _finish(plan, result)
    return result


def _reason(err: BaseException, item: Item) -> str:
    text = str(err)
    if isinstance(err, OSError) and not isinstance(err, FetchError):
        text = f"{err.strerror or err} ({err.filename or item.dest})"
    prefix = f"{item.name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _extract(item: Item, source: Path, digest: str, size: int, dest: Path, state: dict, result: Result,
             keep_archives: bool, trust_unverified: bool) -> None:
    def check_samples(folder: Path, placed: list[str]) -> None:
        try:
            sources.emodb_verify(folder, placed, item.name)
        except ArchiveError as err:
            if not trust_unverified:
                raise ArchiveError(f"{err}; the archive is kept as {source} (--trust-unverified accepts it)") from None
            result.warnings.append(f"{err}; accepted (--trust-unverified)")

    verify = check_samples if item.layout == "emodb" else None
    try:
        _check_extract_space(source, dest)
        placed = extract(source, dest, dest / DOWNLOADS, sources.place_rule(item), name=item.name, verify=verify)
        if not placed:
            raise ArchiveError(f"{item.name}: none of its files belongs to the {item.layout} layout (a wrong archive?)")
    except (ArchiveError, OSError) as err:
        result.failed.append((item.name, _reason(err, item)))
        return
    state["archives"][item.name] = {"checksum": digest, "size": size,
                                    "actors": list(item.actors) if item.actors is not None else None, "files": placed}
    save_state(dest, state)
    result.extracted.append(item.name)
    if item.checksum is None:
        result.notes.append(f"{item.name}: no published checksum; its content matched the release, {digest} "
                            f"({size} bytes) is recorded in {state_path(dest)}")
    if keep_archives:
        if source != item.dest:
            os.replace(source, item.dest)
    else:
        source.unlink(missing_ok=True)


def _check_extract_space(archive: Path, dest: Path) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            need = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # extract() says what is wrong with it
    free = free_space(dest)
    if need > free:
        raise ArchiveError(f"{archive.name}: its files need {human(need)}, {human(free)} is free on {dest}")


def _finish(plan: Plan, result: Result) -> None:
    """Files written beside the clips: CREMA-D's demographics and the audio part's manifest."""
    from avemotion.utils.io import atomic_path

    dest = plan.dest
    if plan.corpus.name != "crema-d":
        return
    demographics = plan.metadata.get("VideoDemographics.csv")
    folders = [dest] + ([dest / "audio"] if "audio" in plan.parts else [])
    for folder in folders:
        if demographics is not None:
            with atomic_path(folder / "VideoDemographics.csv") as tmp:
                tmp.write_bytes(demographics)
    if "audio" in plan.parts:
        rows = sources.crema_manifest(dest / "audio", dest / "VideoDemographics.csv")
        result.notes.append(f"{dest / 'audio' / 'manifest.csv'}: {rows} audio clips (the CREMA-D adapter reads "
                            "video files; prepare the audio with --manifest)")


def _progress(console):
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)
