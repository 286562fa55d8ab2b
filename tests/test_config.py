"""The library fingerprint a cache records (config.library_fingerprint) is read without importing
librosa, and is exactly what librosa itself says."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from avemotion.config import library_fingerprint, librosa_pad_mode


def test_the_fingerprint_is_what_librosa_itself_says():
    import librosa

    assert library_fingerprint() == {"librosa": ".".join(librosa.__version__.split(".")[:2]),
                                     "stft_pad_mode": inspect.signature(librosa.stft).parameters["pad_mode"].default}


@pytest.mark.parametrize(("installed", "mode"), [("0.8.1", "reflect"), ("0.9.2", "reflect"), ("0.10.0", "constant"),
                                                 ("0.11.0", "constant"), ("1.0.0", "constant")])
def test_the_pad_mode_follows_the_version(installed, mode):
    assert librosa_pad_mode(installed) == mode


def test_opening_a_cache_does_not_import_librosa(prepared_cache):
    code = ("import sys; from avemotion.data.cache import open_cache; "
            f"open_cache({str(prepared_cache.path)!r}).records(); print('librosa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
