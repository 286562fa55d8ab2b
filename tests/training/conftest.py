"""A synthetic corpus large enough to learn from: 8 actors, so that every outer fold trains on 4
actors it never tests on (the shared 4-actor fixture leaves only 2 training actors per fold)."""

from __future__ import annotations

import pytest
import torch

from avemotion.config import PreprocessConfig

TRAIN_ACTORS = 8
TRAIN_CONFIG = PreprocessConfig(num_frames=8, frame_size=48)


@pytest.fixture(scope="session")
def train_cache(tmp_path_factory):
    """8 actors x 15 clips (160x120, one statement and repetition), prepared at 8 frames of 48 px."""
    from avemotion.data.cache import open_cache
    from avemotion.data.prepare import prepare
    from avemotion.data.synth import SynthOptions, synth_corpus

    root = tmp_path_factory.mktemp("train_corpus")
    synth_corpus(root, SynthOptions(actors=TRAIN_ACTORS, seed=1, width=160, height=120, statements=1, repetitions=1), workers=2)
    report = prepare(root, tmp_path_factory.mktemp("train_cache"), TRAIN_CONFIG, workers=2)
    assert not report.failed, report.failed
    return open_cache(report.cache)


@pytest.fixture
def random_batch():
    """A batch as the loader gives it (uint8 video 8x48x48, MFCC, labels), the same on every call."""
    def make(n: int = 4) -> dict:
        g = torch.Generator().manual_seed(0)
        return {
            "video": torch.randint(0, 256, (n, 3, 8, 48, 48), dtype=torch.uint8, generator=g),
            "audio": torch.randn(n, 13, 212, generator=g),
            "label": torch.arange(n) % 8,
        }

    return make
