"""Issue 16, item 11: two `prepare` processes on one cache share the work through per-clip lock
files (each clip is prepared once, the cache ends as a single prepare leaves it); a lock left by a
dead process is taken over, one held by a live process is respected."""

import json
import subprocess
import sys
import time
from pathlib import Path

from avemotion.data.cache import ClipCache
from avemotion.utils import locks
from avemotion.utils.locks import take_lock as _take_lock
from avemotion.data.prepare import prepare

sys.path.insert(0, str(Path(__file__).parent))
from hostile import SMALL, corpus, dead_pid, leftovers, lock_file, no_traceback, start_prepares, stop  # noqa: E402

N = 6


def _contents(clips: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(clips.iterdir())}


def test_two_prepares_share_one_cache(synth_corpus, tmp_path):
    root = tmp_path / "corpus"
    corpus(synth_corpus, root, N)
    # the reference is a single prepare process too: the same thread settings give the same bits
    [single] = _wait(start_prepares(1, root, tmp_path / "single", "--workers", "1"))
    results = _wait(start_prepares(2, root, tmp_path / "shared", "--workers", "1"))
    prepared = [int(stdout.split(" prepared,")[0].rsplit(" ", 1)[1]) for stdout in results]
    assert sum(prepared) == N, results  # every clip once: the other process skipped it or found it done
    single, shared = tmp_path / "single" / SMALL.hash(), tmp_path / "shared" / SMALL.hash()
    assert json.loads((shared / "report.json").read_text())["cached"] == N
    assert _contents(shared / "clips") == _contents(single / "clips") and not leftovers(shared)
    assert (shared / "index.jsonl").read_text() == (single / "index.jsonl").read_text()


def _wait(procs) -> list[str]:
    """Wait for prepare processes; each must exit 0 without a traceback. Their stdouts."""
    try:
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            stop(p)
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, stdout + stderr
        no_traceback(stdout + stderr)
    return [stdout for stdout, _ in results]


def test_stale_lock_is_taken_over_and_a_live_one_respected(synth_corpus, tmp_path):
    root, out = tmp_path / "corpus", tmp_path / "cache"
    clips = corpus(synth_corpus, root, 2)
    cache = ClipCache.create(out, SMALL)
    stale = lock_file(cache.path, clips[0].stem, dead_pid())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        live = lock_file(cache.path, clips[1].stem, sleeper.pid)
        report = prepare(root, out, SMALL, workers=1)
        assert report.prepared == 1 and report.others == 1 and not report.failed
        assert cache.has(clips[0].stem) and not stale.exists()
        assert not cache.has(clips[1].stem) and live.exists()
        assert "1 clips left to another prepare working on this cache" in report.warnings
        assert report.to_dict()["complete"] is False
    finally:
        sleeper.kill()
        sleeper.wait()
    report = prepare(root, out, SMALL, workers=1)  # its process is gone: the lock is stale now
    assert report.prepared == 1 and cache.has(clips[1].stem) and not leftovers(cache.path)


def test_lock_without_owner(tmp_path):
    """A lock being written (no owner yet) is respected; one left empty by a killed writer goes
    stale after LOCK_GRACE."""
    import os

    path = tmp_path / "a.lock"
    path.write_text("")
    assert "another process" in _take_lock(path)
    old = time.time() - locks.LOCK_GRACE - 1
    os.utime(path, (old, old))
    assert _take_lock(path) is None and json.loads(path.read_text())["pid"] == os.getpid()
