"""`avemotion serve` (the HTTP service and its web page) and `avemotion live` (a camera, a stream or
a file, one line per hop). Both answer with a run's models (--run) or the shipped voice model."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from avemotion.errors import ConfigError


class LiveFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("live")(live)


RUN_HELP = ("Run folder written by `avemotion train` (default: $AVEMOTION_RUN). Without it: the voice model "
            "that ships with avemotion.")
# The options `serve` and `live` share: which model answers, and where it runs.
RUN = typer.Option(None, "--run", envvar="AVEMOTION_RUN", help=RUN_HELP)
WEIGHTS = typer.Option(None, "--weights", help="Without --run: which shipped voice model (default: the default one, see `avemotion weights`).")
MODEL = typer.Option(None, help="Model of the run to use when it holds several (default: its one fusion model, or its one model).")
FOLD = typer.Option(None, help="This fold's checkpoint (default: the best-validated fold).")
ENSEMBLE = typer.Option(False, "--ensemble", help="Average every fold's probabilities.")
ONNX = typer.Option(None, "--onnx", help="Forward pass through onnxruntime (a file from `avemotion export`; default: none, PyTorch).")
DEVICE = typer.Option(None, help="Torch device.", show_default="cpu")


def _load(run, weights, model, fold, ensemble, allow_missing, pad_short, detector, onnx, device, window, hop):
    from avemotion.inference.service import ServiceModel

    return ServiceModel.load(run=run, weights=weights, model=model, fold=fold, ensemble=ensemble or None,
                             allow_missing=allow_missing or None, pad_short=pad_short, detector=detector, onnx=onnx,
                             device=device, window=window, hop=hop)


def serve(
    run: Optional[Path] = RUN,
    weights: Optional[str] = WEIGHTS,
    model: Optional[str] = MODEL,
    fold: Optional[int] = FOLD,
    ensemble: bool = ENSEMBLE,
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Without audio or face, answer from the other modality."),
    pad_short: Optional[bool] = typer.Option(None, "--pad-short/--no-pad-short", help="A clip shorter than the model's audio window: zero-padded, with a note (--pad-short), or refused as too_short (--no-pad-short).", show_default="pad-short"),
    detector: Optional[str] = typer.Option(None, "--detector", help="Face detector for videos (default: the run's crop rule)."),
    onnx: Optional[Path] = ONNX,
    device: Optional[str] = DEVICE,
    window: Optional[float] = typer.Option(None, help="Window length (s) of long files' timelines and of streams.", show_default="3.0"),
    hop: Optional[float] = typer.Option(None, help="Seconds between windows.", show_default="1.0"),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface; think before you do)."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port."),
    max_upload_mb: float = typer.Option(100.0, "--max-upload-mb", help="Largest upload accepted (MB)."),
    max_seconds: float = typer.Option(600.0, "--max-seconds", help="Longest media accepted (s)."),
    max_concurrent: int = typer.Option(1, "--max-concurrent", min=1, help="Predictions run at once (the others wait)."),
    max_waiting: int = typer.Option(32, "--max-waiting", min=0, help="Requests that may wait for a prediction; beyond: 503."),
    max_streams: int = typer.Option(4, "--max-streams", min=0, help="WebSocket streams open at once."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level."),
) -> None:
    """An HTTP service: POST /predict (a file -> predict's JSON), GET /model, GET /health, WebSocket
    /stream, and a web page at / (upload, record, live). Loads the model once."""
    from avemotion.inference.service import MB, Limits, require_serve_extra
    from avemotion.inference.service import serve as run_service

    require_serve_extra()
    limits = Limits(max_bytes=int(max_upload_mb * MB), max_seconds=max_seconds, max_concurrent=max_concurrent,
                    max_waiting=max_waiting, max_streams=max_streams)
    service_model = _load(run, weights, model, fold, ensemble, allow_missing, pad_short, detector, onnx, device, window, hop)
    run_service(service_model, limits, host=host, port=port, log_level=log_level)


def live(
    source: str = typer.Option(..., "--source", help="A camera number (0: /dev/video0 and the default microphone), a file, or a URL (rtsp://, http://, ...)."),
    realtime: bool = typer.Option(False, "--realtime", help="Play a file at its own pace (as a camera would give it)."),
    run: Optional[Path] = RUN,
    weights: Optional[str] = WEIGHTS,
    model: Optional[str] = MODEL,
    fold: Optional[int] = FOLD,
    ensemble: bool = ENSEMBLE,
    allow_missing: bool = typer.Option(False, "--allow-missing", help="A window without a face is answered from the audio."),
    detector: Optional[str] = typer.Option(None, "--detector", help="Face detector (default: the run's crop rule)."),
    onnx: Optional[Path] = ONNX,
    device: Optional[str] = DEVICE,
    window: float = typer.Option(3.0, help="Window length (s)."),
    hop: float = typer.Option(1.0, help="Seconds between answers."),
    fmt: LiveFormat = typer.Option(LiveFormat.text, "--format", help="text: one line per hop; jsonl: one JSON object per hop."),
    show: bool = typer.Option(False, "--show", help="Show the video with the emotion drawn on it (needs an OpenCV build with a GUI)."),
    audio_device: Optional[str] = typer.Option(None, "--audio-device", help="With a camera number: the ALSA microphone (default: `default`)."),
) -> None:
    """The emotion of the last window every hop, from a camera and microphone, a stream or a file;
    ends at the end of the input or on Ctrl-C (exit 0 either way, after the last line)."""
    from avemotion.inference.stream import StreamSession, open_source

    is_run = run is not None
    service_model = _load(run, weights, model, fold, ensemble, allow_missing, None, detector, onnx, device,
                          window if is_run else None, hop if is_run else None)
    windows = service_model.windows
    src, events = open_source(source, windows, realtime=realtime, audio_device=audio_device)
    session = StreamSession(windows, window, hop, audio=src.has_audio and windows.uses_audio, video=src.has_video)
    viewer = _Viewer() if show else None
    typer.echo(f"{service_model.info()['headline']}; {src.kind} {src.name}: {window:g} s windows every {hop:g} s"
               + ("" if session.has_video or not windows.uses_video else " (no video: audio only)"), err=True)
    for note in src.notes:
        typer.echo(f"note: {note}", err=True)
    count = 0
    last = None
    try:
        for event in events:
            session.feed(event)
            if viewer is not None and event[0] == "frame":
                viewer.show(event[2], last)
            for span, snap in session.due():
                last = session.predict(span, snap)
                count += 1
                _print(last, fmt)
        typer.echo(f"end of {src.kind}: {count} windows", err=True)
    except KeyboardInterrupt:
        typer.echo(f"stopped (Ctrl-C) after {count} windows", err=True)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
        if viewer is not None:
            viewer.close()


def _print(result, fmt: LiveFormat) -> None:
    text = json.dumps(result.to_dict()) if fmt is LiveFormat.jsonl else result.line()
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class _Viewer:
    """An OpenCV window with the last answer drawn on each frame."""

    NAME = "avemotion live"

    def __init__(self):
        import cv2

        try:
            cv2.namedWindow(self.NAME)
        except cv2.error:
            raise ConfigError("--show needs OpenCV with a GUI (opencv-python, not opencv-python-headless) and a "
                              "display; without it, `live` prints one line per hop") from None

    def show(self, rgb, result) -> None:
        import cv2

        from avemotion.inference.annotate import draw_label

        frame = draw_label(rgb.copy(), result.prediction) if result is not None and result.prediction is not None else rgb
        cv2.imshow(self.NAME, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            raise KeyboardInterrupt

    def close(self) -> None:
        import cv2

        cv2.destroyAllWindows()
