"""Shared fixtures: a tiny synthetic RAVDESS-like corpus, its prepared cache, the real CREMA-D clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from avemotion.config import PreprocessConfig

# 4 actors (2 male, 2 female) x 8 emotions, one statement and repetition: 15 clips per actor, 60 in all.
SYNTH_ACTORS = 4
SMALL_CONFIG = PreprocessConfig(num_frames=8, frame_size=48)


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory) -> Path:
    """RAVDESS layout: Actor_01..04/*.mp4 (160x120 h264 + AAC 44.1 kHz) and landmarks/*.csv."""
    from avemotion.data.synth import SynthOptions, synth_corpus as make

    root = tmp_path_factory.mktemp("synth_corpus")
    make(root, SynthOptions(actors=SYNTH_ACTORS, seed=0, width=160, height=120, statements=1, repetitions=1))
    return root


@pytest.fixture(scope="session")
def small_config() -> PreprocessConfig:
    return SMALL_CONFIG


@pytest.fixture(scope="session")
def prepared_cache(synth_corpus, tmp_path_factory):
    """`synth_corpus` prepared at PreprocessConfig(num_frames=8, frame_size=48): an open ClipCache."""
    from avemotion.data.cache import open_cache
    from avemotion.data.prepare import prepare

    out = tmp_path_factory.mktemp("prepared_cache")
    report = prepare(synth_corpus, out, SMALL_CONFIG, workers=1)
    assert not report.failed, report.failed
    return open_cache(report.cache)


@pytest.fixture(scope="session")
def crema_dir() -> Path:
    """The 3 real CREMA-D clips (ODbL/DbCL, see its README) in the shared data folder."""
    path = Path(__file__).parents[1].parent / "shared/data/crema-d"
    assert path.is_dir(), f"missing {path}"
    return path
