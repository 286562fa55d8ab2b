"""Streaming (inference/stream.py): windows answered every hop equal the offline timeline of the same
file, in process, over the service's WebSocket at real time, and through `avemotion live`, which
ends cleanly at the end of the file and on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from avemotion.inference import Recognizer
from avemotion.inference.stream import StreamSession, WindowResult, open_source, run_session, window_model

from service_helpers import probs

AVEMOTION = str(Path(sys.executable).with_name("avemotion"))
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def joined(tmp_path_factory, crema_clips) -> Path:
    """The three real CREMA-D clips joined: 6.1 s of real faces and voices, a timeline of 5 windows."""
    from avemotion.inference import media

    return media.concat_videos(crema_clips, tmp_path_factory.mktemp("stream") / "joined.mp4")


@pytest.fixture(scope="module")
def voice():
    return Recognizer.pretrained()


def offline_run(recognizer, path) -> list:
    timeline = recognizer.predict(path)
    return timeline.windows


def assert_same(stream: list[dict], offline: list, modalities: bool = True) -> None:
    assert [(w["start"], w["end"]) for w in stream] == [(round(p.start, 3), round(p.end, 3)) for p in offline]
    for w, p in zip(stream, offline):
        np.testing.assert_allclose(probs(w), p.probs_array(), atol=TOLERANCE, err_msg=f"window {w['start']}-{w['end']}")
        assert w["emotion"] == p.emotion
        if modalities:
            assert w["modalities"] == list(p.modalities)


def voice_windows_from_scratch(voice, path: Path, tmp: Path) -> list:
    """Each window of the file's voice written to a wav of its own and predicted by the voice
    model's own predict, as if each were a file (the reference a stream must reproduce)."""
    import soundfile

    from avemotion.data.media import probe
    from avemotion.data.voice import decode_voice
    from avemotion.inference.windows import plan_windows

    sr = voice.cfg.sample_rate
    wave = decode_voice(path, voice.cfg)
    out = []
    for i, (start, end) in enumerate(plan_windows(probe(path).duration, 3.0, 1.0)):
        piece = tmp / f"w{i}.wav"
        soundfile.write(piece, wave[round(start * sr):round(end * sr)], sr, subtype="FLOAT")
        p = voice.predict(piece)
        out.append(p.__class__.from_probs(p.probs_array(), p.modalities, start, end, names=voice.labels))
    return out


def test_session_equals_offline_timeline_of_a_run(random_run, joined):
    """A run's CFN-SR (stand-in weights) on frames and audio held in memory: the same windows,
    face crops and MFCCs as Recognizer.predict's timeline, so the same probabilities."""
    rec = Recognizer.from_run(random_run)
    model = window_model(rec)
    src, events = open_source(str(joined), model)
    results = run_session(StreamSession(model, 3.0, 1.0, audio=src.has_audio, video=src.has_video), events)
    assert_same([r.to_dict() for r in results], offline_run(rec, joined))
    assert [r.final for r in results] == [False] * 4 + [True]  # the window flush with the end comes last


def test_voice_session_equals_each_window_predicted_from_scratch(voice, joined, tmp_path):
    model = window_model(voice)
    src, events = open_source(str(joined), model)
    results = run_session(StreamSession(model, 3.0, 1.0), events)
    assert_same([r.to_dict() for r in results], voice_windows_from_scratch(voice, joined, tmp_path))


def test_session_in_chunks_resampled_and_silence(voice):
    """Audio given at another rate in odd chunks is resampled as one signal; a silent window is an
    error entry for that hop, not the end of the stream."""
    model = window_model(voice)
    session = StreamSession(model, 3.0, 1.0, input_rate=44100)
    rate = 44100
    t = np.arange(int(2.0 * rate)) / rate
    tone = (0.2 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    signal_ = np.concatenate([np.zeros(3 * rate, np.float32), tone, np.zeros(rate, np.float32)])
    results: list[WindowResult] = []
    for i in range(0, len(signal_), 3001):
        session.add_audio(signal_[i:i + 3001])
        results += [session.predict(span, snap) for span, snap in session.due()]
    session.end()
    results += [session.predict(span, snap) for span, snap in session.due()]
    assert [(r.start, r.end) for r in results] == [(0.0, 3.0), (1.0, 4.0), (2.0, 5.0), (3.0, 6.0)]
    assert results[0].reason == "too_short" and "no speech found" in results[0].detail
    assert all(r.prediction is not None for r in results[1:])


def test_websocket_at_real_time_equals_offline(random_run, joined, tmp_path):
    """The service's /stream over a real socket, fed the file at its own pace (audio chunks and
    lossless frames as they are decoded): one answer per hop, while the file still plays, equal to
    Recognizer.predict's timeline of the file."""
    pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from avemotion.inference.service import ServiceModel, create_app
    from service_helpers import running, stream_file

    model = ServiceModel.load(run=random_run)
    app = create_app(model, upload_dir=tmp_path)
    t = time.monotonic()
    with running(app) as url:
        messages = stream_file(url, joined, model.windows, realtime=True)
    elapsed = time.monotonic() - t
    windows = [m for m in messages if m["type"] == "window"]
    assert messages[-1] == {**messages[-1], "type": "end", "windows": 5, "skipped": 0}
    assert_same(windows, offline_run(Recognizer.from_run(random_run), joined))
    assert elapsed >= 5.5  # played at its own pace (6.1 s)
    assert windows[0]["t"] < windows[0]["sent_all"] - 1.5  # the first hop was answered while the file still played


def test_websocket_protocol_errors(tmp_path):
    pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

    from avemotion.inference.service import ServiceModel, audio_message, create_app

    app = create_app(ServiceModel.load(), upload_dir=tmp_path)
    with TestClient(app) as client:
        with client.websocket_connect("/stream") as ws:
            ws.send_json({"type": "hello"})
            assert ws.receive_json() == {"type": "error", "detail": 'the first message must be {"type": "start", "sample_rate": N, ...}'}
        with client.websocket_connect("/stream") as ws:
            ws.send_json({"type": "start", "sample_rate": 16000})
            assert ws.receive_json()["type"] == "ready"
            ws.send_bytes(audio_message(np.zeros(1600)))
            ws.send_bytes(b"\x07abc")
            assert ws.receive_json() == {"type": "error", "detail": "unknown binary message kind 7 (1: audio, 2: frame)"}


def _terminal_sigint() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _live(*args) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("AVEMOTION_RUN", None)
    return subprocess.Popen([AVEMOTION, "live", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True, preexec_fn=_terminal_sigint)


def test_live_cli_realtime_ends_at_end_of_file(voice, joined, tmp_path):
    proc = _live("--source", joined, "--realtime", "--format", "jsonl")
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert_same(lines, voice_windows_from_scratch(voice, joined, tmp_path))
    assert err.strip().splitlines()[-1] == "end of file: 5 windows"
    assert "Traceback" not in err


def test_live_cli_ends_cleanly_on_ctrl_c(joined):
    proc = _live("--source", joined, "--realtime")
    try:
        first = proc.stdout.readline()  # the first hop (3 s into the file)
        assert first.strip(), proc.stderr.read()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("stopped (Ctrl-C) after ")
    assert len((first + out).splitlines()) < 5  # stopped before the end of the file
