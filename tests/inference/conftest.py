import sys
from pathlib import Path

import pytest

# the helpers module sits beside the tests (tests/ is not a package); odd_media (writers of
# rotated, offset, audio-only ... files) is shared with the data-layer tests
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parents[1] / "data"))


@pytest.fixture(scope="session")
def crema_clips(crema_dir):
    """angry, happy, neutral: real faces and voices, about 2 s (shorter than the audio window)."""
    clips = sorted(crema_dir.glob("*.flv"))
    assert [c.name.split("_")[2] for c in clips] == ["ANG", "HAP", "NEU"]
    return clips


@pytest.fixture(scope="session")
def random_run(tmp_path_factory):
    """A run folder of random tiny CFN-SR checkpoints (two folds, unimodal fallbacks included)."""
    from inference_helpers import make_run

    return make_run(tmp_path_factory.mktemp("random_run"), val_acc={0: 0.4, 1: 0.7})


@pytest.fixture(scope="session")
def media(tmp_path_factory, crema_clips):
    """Odd inputs built once: no audio, no face, audio only, truncated, not a video."""
    import numpy as np

    from avemotion.inference import media as m
    from inference_helpers import tone, write_audio_only

    root = tmp_path_factory.mktemp("media")
    angry = crema_clips[0]
    frames = [frame for _, frame in m.iter_frames(angry)]
    files = {
        "no_audio": m.write_mp4(root / "no_audio.mp4", frames, m.video_fps(angry)),
        # flat grey frames: nothing a face detector can find; a voice-like track of 3.5 s
        "no_face": m.write_mp4(root / "no_face.mp4", [np.full((120, 160, 3), 128, np.uint8)] * 105, 30, tone(3.5)),
        "audio_only": write_audio_only(root / "voice.m4a"),
        "not_video": root / "notes.mp4",
        "truncated": root / "truncated.mp4",
    }
    files["not_video"].write_text("this is not a video\n" * 50)
    whole = m.write_mp4(root / "whole.mp4", frames, m.video_fps(angry), m.read_audio(angry))
    data = whole.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])  # mp4 from PyAV keeps its index at the end
    return files


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """CFN-SR (tiny, small preset) trained on fold 0 of a synthetic corpus of two well-separated
    emotions, happy and sad (smile and high, loud voice vs frown and low, quiet voice), 6 actors x
    2 statements. Returns (run folder, corpus folder). About a minute on 2 CPU cores.
    The tiny video network barely learns from 16 training clips; the fusion model leans on audio
    (test accuracy 1.0 on this fold), which is what the timeline test needs."""
    from avemotion.data.prepare import prepare
    from avemotion.data.synth import SynthOptions, synth_corpus
    from avemotion.training.api import train
    from avemotion.utils.io import read_json

    from inference_helpers import TEST_PREPROCESS

    root = tmp_path_factory.mktemp("trained")
    opts = SynthOptions(actors=6, statements=2, repetitions=1, emotions=("happy", "sad"), width=160, height=120)
    synth_corpus(root / "corpus", opts)
    report = prepare(root / "corpus", root / "cache", TEST_PREPROCESS, workers=1)
    assert not report.failed, report.failed
    # 3 folds of 2 actors: fold 0 tests actors 1-2, validates on 2 and trains on the other 2
    train("cfn_sr", report.cache, root / "run", preset="small", folds=[0], n_folds=3, n_val=2, epochs=15, unimodal_epochs=15)
    # a clear message when training itself did not learn, before any timeline assertion
    scores = read_json(root / "run" / "fold_0" / "cfn_sr" / "metrics.json")["metrics"]
    assert scores["accuracy"] >= 0.75, f"the fixture's CFN-SR did not learn happy vs sad: {scores['accuracy']}"
    return root / "run", root / "corpus"


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """A stand-in voice model's weights files (pretrained_helpers.write_weights) in a folder of their own."""
    from pretrained_helpers import write_weights

    folder = tmp_path_factory.mktemp("weights")
    return folder, write_weights(folder)


@pytest.fixture
def shipped(monkeypatch, weights_dir):
    """The stand-in registered as the only shipped voice model (and the default); no run in the environment."""
    from pretrained_helpers import register

    monkeypatch.delenv("AVEMOTION_RUN", raising=False)
    return register(monkeypatch, *weights_dir)
