"""Transfers: HTTP(S) with Range requests, and file:// (a mirror on a shared disk).

A file is written to `NAME.part` and only the caller renames it, after its checksum matched, so an
interrupted or refused download never leaves a truncated file under its final name. A rerun continues
the `.part` with `Range: bytes=N-` (a server that ignores the Range header answers 200 and the file
starts over). Transient failures (a dropped connection, a timeout, HTTP 408/425/429/5xx) are retried
with exponential back-off; every retry that follows received bytes starts the count afresh, so a
flaky server still gets through a large file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import queue
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from avemotion.errors import AvemotionError

CHUNK = 1 << 20
TIMEOUT = 60.0  # seconds without a byte before a read counts as a transient failure
RETRY_WAIT = 1.0  # first back-off in seconds; doubles after each failure without progress
RETRY_WAIT_MAX = 60.0
TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
USER_AGENT = "avemotion-download/1 (+https://github.com; research corpus download)"
MIRROR_ENV = "AVEMOTION_MIRROR"


class FetchError(AvemotionError):
    """One file could not be fetched or was refused: `<name>: <reason>`."""


class ChecksumMismatch(FetchError):
    pass


class Interrupted(Exception):
    """The stop event was set (Ctrl-C in the main thread): the `.part` file is kept."""


class _Transient(Exception):
    pass


# what a network transfer raises; anything else is a bug and is not turned into a one-line failure
NETWORK_ERRORS = (_Transient, urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout,
                  TimeoutError, ssl.SSLError)


def as_url(location: str) -> str:
    """A URL as given, or a local folder as a file:// URL."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", location):
        return location
    return Path(location).expanduser().resolve().as_uri()


def resolve(url: str, mirror: str | None) -> str:
    """Where `url` is fetched from: itself, or its copy in a mirror laid out as `wget -x` lays out
    downloads, MIRROR/<host>/<path> (the query string dropped)."""
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    return as_url(mirror).rstrip("/") + "/" + parts.netloc + parts.path


def new_hash(algorithm: str):
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    if algorithm == "sha256":
        return hashlib.sha256()
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def file_digest(path: Path, algorithm: str, limit: int | None = None) -> str:
    """`algorithm:hexdigest` of the file (of its first `limit` bytes)."""
    h = new_hash(algorithm)
    left = limit
    with open(path, "rb") as f:
        while left is None or left > 0:
            chunk = f.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return f"{algorithm}:{h.hexdigest()}"


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"cannot connect ({err.reason})"
    if isinstance(err, http.client.IncompleteRead):
        return "the connection closed before the end of the file"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return f"no data for {TIMEOUT:.0f} s"
    return str(err) or type(err).__name__


def _is_transient(err: BaseException) -> bool:
    if isinstance(err, urllib.error.HTTPError):
        return err.code in TRANSIENT_HTTP
    return isinstance(err, (_Transient, urllib.error.URLError, http.client.HTTPException, ConnectionError,
                            socket.timeout, TimeoutError, ssl.SSLError))


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a `Content-Range: bytes a-b/total` header (total may be '*')."""
    m = re.match(r"bytes\s+(\d+|\*)-?(\d*)/(\d+|\*)", value or "")
    if not m:
        return None, None
    start = None if m.group(1) == "*" else int(m.group(1))
    total = None if m.group(3) == "*" else int(m.group(3))
    return start, total


class _Response:
    """status, first byte, total size (None: unknown), and a readable body."""

    def __init__(self, status: int, start: int, total: int | None, body):
        self.status, self.start, self.total, self.body = status, start, total, body

    def close(self) -> None:
        self.body.close()


def _open(url: str, offset: int) -> _Response:
    if url.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise FetchError(f"{path}: not in the mirror") from None
        except OSError as err:
            raise FetchError(f"{path}: cannot read ({err.strerror or err})") from None
        total = os.fstat(f.fileno()).st_size
        if offset > total:
            f.close()
            return _Response(416, 0, total, open(os.devnull, "rb"))
        f.seek(offset)
        return _Response(206 if offset else 200, offset, total, f)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT)
    except urllib.error.HTTPError as err:
        if err.code == 416:
            _, total = _content_range(err.headers.get("Content-Range"))
            err.close()
            return _Response(416, 0, total, open(os.devnull, "rb"))
        raise
    length = resp.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if resp.status == 206:
        start, total = _content_range(resp.headers.get("Content-Range"))
        return _Response(206, start if start is not None else -1, total, resp)
    return _Response(resp.status, 0, length, resp)


def get_bytes(url: str, *, name: str, retries: int = 5, limit: int = 64 << 20, stop: threading.Event | None = None) -> bytes:
    """A small document (metadata: a record, a pointer, a file list), retried like a file."""
    failures = 0
    while True:
        try:
            resp = _open(url, 0)
            try:
                data = resp.body.read(limit + 1)
            finally:
                resp.close()
            if len(data) > limit:
                raise FetchError(f"{name}: larger than {limit} bytes, not the metadata expected ({url})")
            return data
        except FetchError:
            raise
        except NETWORK_ERRORS as err:
            failures = _retry(err, name, url, failures, retries, stop, f" ({url}; gave up after {retries} retries)")


def _retry(err: BaseException, name: str, url: str, failures: int, retries: int, stop: threading.Event | None,
           gave_up: str) -> int:
    """After a network error: a FetchError when it is not transient or the retries are spent (the
    line ends with `gave_up`: what was given up and kept), else wait with back-off; the failures so far."""
    if not _is_transient(err):
        raise FetchError(f"{name}: {_describe(err)} ({url})") from None
    failures += 1
    if failures > retries:
        raise FetchError(f"{name}: {_describe(err)}{gave_up}") from None
    _wait(failures, stop)
    return failures


def _wait(failures: int, stop: threading.Event | None) -> None:
    delay = min(RETRY_WAIT * 2 ** (failures - 1), RETRY_WAIT_MAX)
    if stop is not None:
        if stop.wait(delay):
            raise Interrupted()
    elif delay:
        time.sleep(delay)


def fetch_file(url: str, part: Path, *, name: str, size: int | None = None, checksum: str | None = None,
               retries: int = 5, on_bytes: Callable[[int], None] | None = None,
               stop: threading.Event | None = None) -> tuple[str, int]:
    """Fetch `url` into `part`, continuing what `part` already holds; return (algorithm:hexdigest, size).

    `checksum` ("md5:..." / "sha256:...") is checked at the end: a mismatch raises ChecksumMismatch and
    keeps `part` (a rerun that finds such a complete `.part` starts it over). Without a checksum the
    SHA-256 is computed for the caller to check otherwise. `on_bytes(n)` reports progress (negative
    when a restart drops bytes already counted)."""
    algorithm = checksum.split(":", 1)[0] if checksum else "sha256"
    report = on_bytes or (lambda n: None)
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0

    def restart() -> None:
        nonlocal offset, h
        report(-offset)
        with open(part, "wb"):
            pass
        offset, h = 0, new_hash(algorithm)

    h = new_hash(algorithm)
    if size is not None and offset > size:  # longer than the file: not a part of it
        with open(part, "wb"):
            pass
        offset = 0
    elif offset:
        with open(part, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
    report(offset)
    if size is not None and offset == size:
        digest = f"{algorithm}:{h.hexdigest()}"
        if checksum is None or digest == checksum:
            return digest, offset
        restart()  # a complete .part refused earlier: fetch it again

    failures = 0
    while True:
        if stop is not None and stop.is_set():
            raise Interrupted()
        try:
            resp = _open(url, offset)
            try:
                if resp.status == 416:
                    if offset and resp.total == offset and (size is None or size == offset):
                        break  # complete already (a .part whose size was not known)
                    restart()
                    raise _Transient("the server refused the range: starting the file again")
                if resp.status == 200 and offset:
                    restart()  # the server ignores Range: start over
                elif resp.status == 206 and resp.start != offset:
                    restart()
                    raise _Transient(f"the server answered from byte {resp.start}, not {offset}")
                total = resp.total  # 200: Content-Length; 206: the total of Content-Range
                if size is not None and total is not None and total != size:
                    raise FetchError(f"{name}: the server has {total} bytes, the file list says {size} ({url})")
                expected = size if size is not None else total
                read = getattr(resp.body, "read1", resp.body.read)  # what has arrived, up to CHUNK
                with open(part, "ab") as out:
                    while True:
                        if stop is not None and stop.is_set():
                            raise Interrupted()
                        chunk = read(CHUNK)
                        if not chunk:
                            break
                        if expected is not None and offset + len(chunk) > expected:
                            raise FetchError(f"{name}: the server sent more than the {expected} bytes expected ({url})")
                        try:
                            out.write(chunk)
                        except OSError as err:
                            raise FetchError(f"{name}: cannot write {part} ({err.strerror or err})") from None
                        h.update(chunk)
                        offset += len(chunk)
                        failures = 0
                        report(len(chunk))
                if expected is not None and offset < expected:
                    raise _Transient(f"the connection closed at byte {offset} of {expected}")
            finally:
                resp.close()
            break
        except (FetchError, Interrupted):
            raise
        except NETWORK_ERRORS as err:
            failures = _retry(err, name, url, failures, retries, stop,
                              f"; gave up after {retries} retries, {offset} bytes kept in {part.name} (run again to resume)")
    digest = f"{algorithm}:{h.hexdigest()}"
    if checksum is not None and digest != checksum:
        raise ChecksumMismatch(f"{name}: checksum mismatch ({digest}, expected {checksum}); the download is kept "
                               f"as {part} and not used")
    return digest, offset


class Workers:
    """`fn(item)` for every item on `jobs` daemon threads; iterate for (item, result, error) as each
    finishes. Daemon threads, so Ctrl-C never waits for a transfer blocked in a read: `halt()` sets
    the stop event, gives the threads `grace` seconds to leave their `.part` files between two chunks,
    and returns (a thread still blocked ends with the process; what it wrote is a valid prefix)."""

    def __init__(self, fn: Callable, items, jobs: int, stop: threading.Event):
        self.stop = stop
        self._todo: queue.Queue = queue.Queue()
        self._done: queue.Queue = queue.Queue()
        items = list(items)
        for item in items:
            self._todo.put(item)
        self._left = len(items)

        def work() -> None:
            while not stop.is_set():
                try:
                    item = self._todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    self._done.put((item, fn(item), None))
                except BaseException as err:  # noqa: BLE001 - handed to the consumer, which decides
                    self._done.put((item, None, err))

        self._threads = [threading.Thread(target=work, daemon=True, name=f"avemotion-download-{i}")
                         for i in range(min(max(1, jobs), len(items)))]
        for t in self._threads:
            t.start()

    def __iter__(self):
        while self._left:
            try:
                result = self._done.get(timeout=0.2)
            except queue.Empty:
                if not any(t.is_alive() for t in self._threads) and self._done.empty():
                    return  # stopped
                continue
            self._left -= 1
            yield result

    def halt(self, grace: float = 3.0) -> None:
        self.stop.set()
        deadline = time.monotonic() + grace
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
