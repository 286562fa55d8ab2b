"""Shared fixtures: a tiny synthetic RAVDESS-like corpus, its prepared cache, the real CREMA-D clips."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from avemotion.config import PreprocessConfig

# 4 actors (2 male, 2 female) x 8 emotions, one statement and repetition: 15 clips per actor, 60 in all.
SYNTH_ACTORS = 4
SMALL_CONFIG = PreprocessConfig(num_frames=8, frame_size=48)


@pytest.fixture(autouse=True)
def _avemotion_logging():
    """Each test starts and ends with the "avemotion" logger as a library user has it: what a CLI run
    in this process set up (cli.main: its own handler, not propagated) is undone, so that caplog,
    on the root logger, sees the library's lines."""
    _library_logging()
    yield
    _library_logging()


def _library_logging() -> None:
    logger = logging.getLogger("avemotion")
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


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


@pytest.fixture(scope="session")
def ravdess_speech_dir() -> Path:
    """The complete real RAVDESS speech audio (1440 FLAC, CC BY-NC-SA 4.0, see its README)."""
    path = Path(__file__).parents[1].parent / "shared/data/ravdess-speech"
    assert path.is_dir(), f"missing {path}"
    return path


SPEECH_ACTORS = range(1, 9)  # 8 real actors (4 male, 4 female); Actor_07 holds the duplicate pair


def declare_subset(root: Path, actors) -> None:
    """A corpus folder of some RAVDESS actors, declared complete as it is (avemotion-corpus.json):
    without it, training refuses it as a partial RAVDESS corpus (24 actors)."""
    from avemotion.data.datasets import EXTENT_FILE, Extent
    from avemotion.data.datasets.ravdess import CLIPS_PER_ACTOR, gender_of
    from avemotion.utils.io import write_json

    extent = Extent({a: gender_of(a) for a in actors}, CLIPS_PER_ACTOR * len(actors), "RAVDESS actors, a test subset")
    write_json(root / EXTENT_FILE, extent.to_dict())


@pytest.fixture(scope="session")
def speech_subset_prepared(ravdess_speech_dir, tmp_path_factory):
    """Actors 1-8 of the real speech audio, prepared at the paper's audio settings: (report, cache)."""
    from avemotion.data.cache import open_cache
    from avemotion.data.prepare import prepare

    root = tmp_path_factory.mktemp("ravdess_speech_subset")
    for actor in SPEECH_ACTORS:
        (root / f"Actor_{actor:02d}").symlink_to(ravdess_speech_dir / f"Actor_{actor:02d}")
    declare_subset(root, SPEECH_ACTORS)
    report = prepare(root, tmp_path_factory.mktemp("speech_cache"), PreprocessConfig(), workers=2)
    return report, open_cache(report.cache)


@pytest.fixture(scope="session")
def speech_run(speech_subset_prepared, tmp_path_factory):
    """The audio CNN trained on real voices: small preset, 4 folds of 2 actors, folds 0 and 1
    (5 training actors, 1 validation actor each), 20 epochs. (report, run folder)."""
    from avemotion.training import train

    _, cache = speech_subset_prepared
    out = tmp_path_factory.mktemp("speech_run")
    report = train("audio", cache.path, out, preset="small", folds=[0, 1], n_folds=4, n_val=1, epochs=20)
    return report, out


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def emodb_dir() -> Path:
    """The real EmoDB (535 German utterances, 16 kHz FLAC) beside the checkout."""
    return SHARED_DATA / "emodb"


