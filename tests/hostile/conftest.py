"""Inputs the hostile cases share: a run of random tiny checkpoints (as training writes it), and
audio files holding NaN samples."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "inference"))  # inference_helpers.make_run


@pytest.fixture
def tiny_run(tmp_path):
    """A fresh run folder of random tiny CFN-SR checkpoints, folds 0 and 1 (a case may damage it)."""
    from inference_helpers import make_run

    return make_run(tmp_path / "run", val_acc={0: 0.4, 1: 0.7})


def write_float_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    """A 32-bit float WAV (WAVE_FORMAT_IEEE_FLOAT): the one common format that can hold NaN and Inf."""
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", len(data)) + data)
    return path


@pytest.fixture
def nan_wav(tmp_path):
    """3 s of a 220 Hz voice-like tone, ten of its samples NaN and one infinite."""
    t = np.arange(3 * 16000) / 16000
    wave = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    wave[8000:8010] = np.nan
    wave[20000] = np.inf
    return write_float_wav(tmp_path / "nan.wav", wave)
