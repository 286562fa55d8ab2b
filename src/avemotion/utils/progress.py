"""Progress of a long loop, for a person at a terminal and for a log file alike.

On a terminal: rich's live bar. Elsewhere (stdout redirected to a file or a pipe, where a live bar
shows nothing until it ends): a plain line `WHAT: DONE/TOTAL UNIT (P %), S s, about R s left` every
`every` items (default: a tenth of the total) or as soon as `seconds` have passed since the last
line, whichever comes first (a timer thread: also while no item finishes, e.g. while a pool of
workers starts), and a last line at the end; the time left from the first tenth on.
"""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    def __init__(self, what: str, total: int, unit: str = "clips", *, every: int | None = None,
                 seconds: float = 5.0, terminal: bool | None = None, transient: bool = False):
        self.what, self.total, self.unit = what, total, unit
        self.every = every or max(1, total // 10)
        self.seconds = seconds
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        self.transient = transient
        self.done = 0
        self.bar = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.timer = None

    def __enter__(self) -> "Progress":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.started = self.last = time.monotonic()
        self.last_done = 0
        if self.terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            self.bar = Bar(TextColumn(self.what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           transient=self.transient)
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=self.total)
        else:
            print(f"{self.what}: {self.total} {self.unit} to do", flush=True)
            self.timer = threading.Thread(target=self._tick, name="progress-lines", daemon=True)
            self.timer.start()

    def _tick(self) -> None:
        while not self.stopped.wait(min(1.0, self.seconds)):
            with self.lock:
                now = time.monotonic()
                if now - self.last >= self.seconds and not self.stopped.is_set():
                    self._line(now)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.advance(self.task, n)
            return
        with self.lock:
            now = time.monotonic()
            if self.done - self.last_done >= self.every or now - self.last >= self.seconds:
                self._line(now)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
            return
        self.stopped.set()
        if self.timer is not None:
            self.timer.join()
            self.timer = None
        with self.lock:
            if self.done != self.last_done:
                self._line(time.monotonic())

    def _line(self, now: float) -> None:
        self.last, self.last_done = now, self.done
        elapsed = now - self.started
        share = self.done / self.total if self.total else 1.0
        # the time left once a tenth is done (the first items also pay for starting the workers)
        left = f", about {elapsed / share - elapsed:.0f} s left" if 0 < share < 1 and self.done >= self.every else ""
        print(f"{self.what}: {self.done}/{self.total} {self.unit} ({100 * share:.0f} %), {elapsed:.0f} s{left}",
              flush=True)
