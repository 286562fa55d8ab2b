"""The service on a real socket (uvicorn in a thread on 127.0.0.1), and a file streamed over /stream."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EMODB = SHARED / "emodb" / "03a01Fa.flac"  # happy, 1.9 s
RAVDESS = SHARED / "ravdess-speech" / "Actor_01" / "03-01-05-02-01-01-01.flac"  # angry, 3.5 s
CREMA = SHARED / "crema-d" / "1001_DFA_ANG_XX.flv"  # angry, real face and voice, 2.2 s
VOICES = (EMODB, RAVDESS, CREMA)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app):
    """uvicorn serving `app` on 127.0.0.1 in a thread; yields the base URL, stops it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def stream_file(url: str, path: Path, windows, *, realtime: bool, frame_format: str = ".png", lag: int = 0) -> list[dict]:
    """Send `path` over ws://.../stream as a client would (audio chunks at the model's rate, frames as
    lossless PNG), read the answers in a thread as they come; every message, with "t" its arrival
    time in seconds from the start, and "sent_all" the time the last chunk was sent."""
    from websockets.sync.client import connect

    from avemotion.inference.service import audio_message, frame_message
    from avemotion.inference.stream import open_source

    src, events = open_source(str(path), windows, realtime=realtime)
    messages: list[dict] = []
    t0 = time.monotonic()
    with connect(url.replace("http://", "ws://") + "/stream", max_size=None) as ws:
        ws.send(json.dumps({"type": "start", "sample_rate": windows.sample_rate, "video": src.has_video, "lag": lag}))
        ready = json.loads(ws.recv(timeout=30))
        assert ready["type"] == "ready", ready

        def read():
            while True:
                msg = json.loads(ws.recv(timeout=60))
                msg["t"] = time.monotonic() - t0
                messages.append(msg)
                if msg["type"] in ("end", "error"):
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        duration = None
        for event in events:
            if event[0] == "audio":
                ws.send(audio_message(event[1]))
            elif event[0] == "frame":
                ws.send(frame_message(event[1], event[2], frame_format))
            else:
                duration = event[1]
        sent_all = time.monotonic() - t0
        ws.send(json.dumps({"type": "end", "duration": duration}))
        reader.join(timeout=120)
    for msg in messages:
        msg["sent_all"] = sent_all
    return messages


def probs(entry: dict) -> np.ndarray:
    return np.array(list(entry["probabilities"].values()))
