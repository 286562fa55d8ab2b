import sys
from pathlib import Path

import pytest

# the helpers module sits beside the tests (tests/ is not a package)
sys.path.insert(0, str(Path(__file__).parent))


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
