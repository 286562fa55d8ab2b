"""Issue 16, items 9 and 3: a cache is opened only when its config.json is consistent and recorded
with the running libraries (an explicit escape accepts another fingerprint); files get the mode
open() would give them; a cache that cannot be read is one line naming the file."""

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from avemotion.config import cache_fingerprint
from avemotion.data.cache import ClipCache, open_cache
from avemotion.errors import ConfigError
from avemotion.utils.io import read_json, write_json

sys.path.insert(0, str(Path(__file__).parent))
from hostile import (SMALL, corpus, deny_read, edited_settings, no_traceback, prepare_args,  # noqa: E402
                     recorded_elsewhere, run_cli, stamp, unchanged)


@pytest.fixture()
def cache(tmp_path):
    return ClipCache.create(tmp_path / "cache", SMALL)


def test_config_records_the_fingerprint_and_opens(cache):
    meta = read_json(cache.path / "config.json")
    assert {k: meta[k] for k in cache_fingerprint()} == cache_fingerprint()
    assert open_cache(cache.path).config == SMALL


def test_another_fingerprint_is_refused_in_one_line_unless_accepted(cache, monkeypatch):
    recorded_elsewhere(cache.path, librosa="0.8", stft_pad_mode="reflect")
    before = stamp(cache.path)
    with pytest.raises(ConfigError) as err:
        open_cache(cache.path)
    message = str(err.value)
    assert message.startswith(f"{cache.path}: prepared with librosa 0.8 (running {cache_fingerprint()['librosa']}), "
                              "stft_pad_mode reflect (running constant)")
    assert "AVEMOTION_ACCEPT_FINGERPRINT=1" in message and "check_fingerprint=False" in message and "\n" not in message
    assert open_cache(cache.path, check_fingerprint=False).config == SMALL
    monkeypatch.setenv("AVEMOTION_ACCEPT_FINGERPRINT", "1")
    assert open_cache(cache.path).config == SMALL
    assert not unchanged(before, stamp(cache.path))


def test_another_feature_revision_is_refused(cache):
    recorded_elsewhere(cache.path, feature_revision=1)
    with pytest.raises(ConfigError, match=r"prepared with feature_revision 1 \(running 2\)"):
        open_cache(cache.path)


def test_edited_settings_are_refused_even_when_accepted(cache):
    edited_settings(cache.path, frame_size=64)
    for check in (True, False):
        with pytest.raises(ConfigError, match=f"^{cache.path / 'config.json'}: stored hash {cache.path.name} does not "
                                              "match the settings and fingerprint it holds"):
            open_cache(cache.path, check_fingerprint=check)


def test_a_cache_written_before_feature_revision_was_recorded_opens(cache):
    meta = read_json(cache.path / "config.json")
    del meta["feature_revision"]
    write_json(cache.path / "config.json", meta)
    assert open_cache(cache.path).config == SMALL


def test_damaged_or_unreadable_config_is_one_line(cache, monkeypatch):
    config = cache.path / "config.json"
    deny_read(monkeypatch, config)
    with pytest.raises(ConfigError, match=f"^{config}: cannot read \\(Permission denied\\)$"):
        open_cache(cache.path)
    monkeypatch.undo()
    config.write_text('{"hash": ')
    with pytest.raises(ConfigError, match=f"^{config}: not valid JSON"):
        open_cache(cache.path)
    config.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=f"^{config}: not a JSON file"):
        open_cache(cache.path)


def test_prepare_on_a_tampered_or_unreadable_cache_exits_2_in_one_line(synth_corpus, tmp_path, monkeypatch, capsys):
    root, out = tmp_path / "corpus", tmp_path / "cache"
    corpus(synth_corpus, root, 1)
    cache = ClipCache.create(out, SMALL)
    edited_settings(cache.path, margin=0.5)
    before = stamp(out)
    code, stdout, stderr = run_cli(monkeypatch, capsys, *prepare_args(root, out, "--workers", "1"))
    assert code == 2 and stderr.count("\n") == 1 and "stored hash" in stderr and str(cache.path) in stderr, stderr
    no_traceback(stdout + stderr)
    assert not unchanged(before, stamp(out)) and len(cache) == 0

    edited_settings(cache.path, margin=0.25)  # consistent again, now unreadable
    deny_read(monkeypatch, cache.path / "config.json")
    code, stdout, stderr = run_cli(monkeypatch, capsys, *prepare_args(root, out, "--workers", "1"))
    assert code == 2 and stderr == f"error: {cache.path / 'config.json'}: cannot read (Permission denied)\n", stderr


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"a": 1})
        cache = ClipCache.create(tmp_path / "cache", SMALL)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == mode
    assert stat.S_IMODE((cache.path / "config.json").stat().st_mode) == mode


def test_a_rewritten_file_keeps_its_mode(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"a": 1})
    path.chmod(0o640)
    write_json(path, {"a": 2})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and json.loads(path.read_text()) == {"a": 2}


def test_prepared_clips_follow_the_umask(synth_corpus, tmp_path):
    from avemotion.data.prepare import prepare

    corpus(synth_corpus, tmp_path / "corpus", 1)
    old = os.umask(0o027)
    try:
        report = prepare(tmp_path / "corpus", tmp_path / "cache", SMALL, workers=1)
    finally:
        os.umask(old)
    files = [p for p in Path(report.cache).rglob("*") if p.is_file()]
    assert {"config.json", "report.json", "index.jsonl", "corpus.json"} <= {p.name for p in files}
    assert any(p.parent.name == "clips" for p in files)  # the clip's arrays and record too
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o640}


def test_unreadable_or_missing_clip_arrays_are_one_line(prepared_cache, monkeypatch):
    clip = prepared_cache.clip_ids()[0]
    mfcc = prepared_cache.clips / f"{clip}.mfcc.npy"
    deny_read(monkeypatch, mfcc)
    with pytest.raises(ConfigError, match=f"^{mfcc}: cannot read \\(Permission denied\\)$"):
        prepared_cache.load(clip)
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="missing from the cache"):
        prepared_cache.load("01-01-08-02-02-02-99")
