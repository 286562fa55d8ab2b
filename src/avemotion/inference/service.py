"""The HTTP service of `avemotion serve` (FastAPI + uvicorn, the `serve` extra): one model, loaded once.

    POST /predict    multipart field `file`: a video or audio file -> the JSON of `predict --format json`
                     (?extras=true adds the face crops the model saw and the timeline plot, for the page)
    GET  /model      the model, its classes, preprocessing and the licence of its training data
    GET  /health     liveness and the limits in force
    WS   /stream     audio (and frames) in chunks -> the emotion of the last window every hop (stream.py)
    GET  /           the web page (inference/static/: plain HTML, JS and CSS, nothing fetched elsewhere)
    GET  /docs       OpenAPI documentation as FastAPI generates it

Uploads are streamed to a private temporary file (a 0700 folder made at start, removed at shutdown;
each file 0600) that is deleted when the request ends, whatever happened. A bad upload is a 4xx
whose `detail` is the one line `predict` prints for the same file (`<name>: <reason>`): the file
goes through the same `predict_many` as the command, so the reasons are the command's own.

    from avemotion.inference.service import ServiceModel, Limits, create_app
    app = create_app(ServiceModel.load(run="runs/cfn_sr"), Limits(max_bytes=50 * 2**20))
"""


import asyncio
import base64
import json
import os
import re
import shutil
import struct
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from avemotion.errors import ConfigError

MB = 2**20
# Licence of the training data a run records (run.json "dataset"), as the page and /model state it.
DATA_LICENCES = {
    "ravdess": "RAVDESS: CC BY-NC-SA 4.0 (non-commercial)",
    "cremad": "CREMA-D: Open Database License 1.0, contents DbCL 1.0",
    "emodb": "EmoDB: CC0 1.0 (audb edition)",
    "nemo": "nEMO: CC BY-NC-SA 4.0 (non-commercial)",
    "iemocap": "IEMOCAP: USC SAIL release licence (research only, no redistribution)",
    "synth": "synthetic corpus made by `avemotion synth` (no third-party data)",
}
UNKNOWN_LICENCE = "the run does not record its training corpus: its data's own licence applies"
# HTTP status of a file predict refuses, by reason (errors.REASONS); any other reason is 422.
STATUS_BY_REASON = {"too_long": 413}
SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
STATIC = "static"  # inside avemotion.inference: index.html, app.js, style.css


@dataclass(frozen=True)
class Limits:
    """What one service accepts: upload size, media length, predictions at once, requests waiting
    for them (beyond: 503), WebSocket streams at once, and windows a stream may fall behind before
    the oldest are skipped."""

    max_bytes: int = 100 * MB
    max_seconds: float = 600.0
    max_concurrent: int = 1
    max_waiting: int = 32
    max_streams: int = 4
    stream_lag: int = 3

    def __post_init__(self):
        for name in ("max_bytes", "max_seconds", "max_concurrent"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"service limit {name} must be positive, got {getattr(self, name)}")
        for name in ("max_waiting", "max_streams", "stream_lag"):
            if getattr(self, name) < 0:
                raise ConfigError(f"service limit {name} must be >= 0, got {getattr(self, name)}")


class UploadRefused(Exception):
    """A request refused before prediction: HTTP `status`, the one-line `detail`, a `reason` code."""

    def __init__(self, status: int, detail: str, reason: str):
        super().__init__(detail)
        self.status, self.detail, self.reason = status, detail, reason


class ServiceModel:
    """The recogniser a service answers with (a run's `Recognizer` or a shipped `VoiceRecognizer`),
    what it says about itself, and prediction of one uploaded file as `predict` does it."""

    def __init__(self, recognizer, *, origin: dict):
        from avemotion.inference.stream import window_model

        self.recognizer = recognizer
        self.origin = origin  # {"run": path} or {"weights": name}
        self.windows = window_model(recognizer)
        self.is_voice = origin.get("weights") is not None

    @classmethod
    def load(cls, run: str | Path | None = None, weights: str | None = None, **options) -> "ServiceModel":
        """The run's Recognizer (options: model, fold, ensemble, allow_missing, pad_short, window,
        hop, smooth, detector, onnx, device), else the shipped voice weights (default: the default);
        one-line ConfigError when neither can be had."""
        if run is None:
            given = [k for k, v in options.items() if v not in (None, False)]
            if given:
                raise ConfigError(f"{', '.join('--' + k.replace('_', '-') for k in given)} go with --run RUN; "
                                  f"without --run the shipped voice model answers (option: --weights)")
            from avemotion.inference.pretrained import get_weights

            entry = get_weights(weights)
            return cls(entry.load(), origin={"weights": entry.name})
        if weights is not None:
            raise ConfigError("--weights picks a shipped voice model when no --run is given; with --run the run's models answer")
        from avemotion.inference import Recognizer

        options = {k: v for k, v in options.items() if v is not None}
        return cls(Recognizer.from_run(run, **options), origin={"run": str(run)})

    @property
    def name(self) -> str:
        return self.windows.name

    def describe(self) -> dict:
        """What `predict --format json` puts at the top of its document."""
        return self.recognizer.describe()

    def info(self) -> dict:
        """GET /model: the model, classes, preprocessing, licence of the training data."""
        rec = self.recognizer
        if self.is_voice:
            from avemotion.inference.pretrained import headline

            meta = rec.meta
            return {"kind": "voice", "name": rec.name, "model": meta.get("model"), "classes": list(rec.labels),
                    "modalities": ["audio"], "preprocessing": rec.cfg.to_dict(), "corpora": meta.get("corpora"),
                    "licence": meta.get("licence"), "licence_note": meta.get("licence_short") or meta.get("licence"),
                    "headline": headline(rec), "weights": meta.get("weights"), "describe": self.describe(),
                    "stream": {"sample_rate": self.windows.sample_rate, "video": False}}
        dataset = rec.run.record.dataset
        licence = DATA_LICENCES.get(str(dataset).lower().replace("-", ""), UNKNOWN_LICENCE) if dataset else UNKNOWN_LICENCE
        return {"kind": "run", "name": rec.run.model, "model": rec.run.model, "classes": list(rec.labels),
                "modalities": list(rec.modalities), "preprocessing": rec.cfg.to_dict(), "run": str(rec.run.path),
                "folds": list(rec.folds), "dataset": dataset, "licence": licence, "licence_note": licence,
                "headline": f"run {rec.run.path.name}: {rec.run.model}, fold{'s' if len(rec.folds) > 1 else ''} "
                            f"{', '.join(map(str, rec.folds))}",
                "window": rec.window, "hop": rec.hop, "describe": self.describe(),
                "stream": {"sample_rate": self.windows.sample_rate, "video": self.windows.uses_video}}

    # --- one upload -------------------------------------------------------------------------------

    def predict_upload(self, path: Path, name: str, limits: Limits, extras: bool = False) -> tuple[int, dict]:
        """(HTTP status, JSON document) for an uploaded file saved at `path`, shown as `name`: the
        document `predict --format json` writes for it (its "file" is `name`); for a bad file a 4xx
        whose `detail` is predict's line `<name>: <reason>`."""
        from avemotion.inference import FileError, outputs

        self._check_duration(path, name, limits)
        result = next(self.recognizer.predict_many([path], progress=False))
        doc = json.loads(outputs.to_json([result], self.describe()))
        doc = _renamed(doc, str(path), name)
        if isinstance(result, FileError):
            from avemotion.inference.recognizer import fallback_possible

            entry = doc["results"][0]
            detail = f"{name}: {entry['error']['detail']}"
            doc.update(detail=detail, reason=result.reason)
            if fallback_possible(result.reason, result.detail) and not self.is_voice:
                doc["hint"] = "the service predicts from the other modality when started with --allow-missing"
            return STATUS_BY_REASON.get(result.reason, 422), doc
        if extras:
            doc["extras"] = self._extras(path, result)
        return 200, doc

    def _check_duration(self, path: Path, name: str, limits: Limits) -> None:
        from avemotion.inference import features

        try:
            duration = features.probe(path).duration
        except Exception:  # noqa: BLE001 - a file that does not probe is refused by predict_many, with its reason
            return
        if duration > limits.max_seconds:
            raise UploadRefused(413, f"{name}: {duration:.0f} s long; this service predicts files up to "
                                     f"{limits.max_seconds:g} s", "too_long")

    def _extras(self, path: Path, result) -> dict:
        """What the page shows beside the probabilities: the face crops of the first window (or a
        note why there are none) and, for a timeline, its plot (PNG data URLs)."""
        from avemotion.inference.results import Timeline

        out = {"faces": [], "faces_note": None, "plot": None}
        if not self.windows.uses_video:
            out["faces_note"] = "the voice model sees no faces: it hears the audio only"
        else:
            out["faces"], out["faces_note"] = self._faces(path, result)
        if isinstance(result, Timeline):
            from avemotion.inference.plot import plot_result

            png = path.with_name(path.name + ".plot.png")
            try:
                plot_result(result, png)
                out["plot"] = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
            finally:
                png.unlink(missing_ok=True)
        return out

    def _faces(self, path: Path, result, most: int = 8) -> tuple[list[str], str | None]:
        from avemotion.errors import InputError
        from avemotion.inference import features
        from avemotion.inference.windows import is_long

        rec = self.recognizer
        if "video" not in result.modalities:
            return [], "no face found: predicted from audio only"
        info = features.probe(path)
        spans = [(0.0, rec.window)] if is_long(info.duration, rec.window) else None
        try:
            arrays = features.extract(path, rec.cfg, info, spans, None, ("video",))
        except InputError as err:
            return [], err.detail
        first = arrays[0]
        if isinstance(first, InputError):
            return [], first.detail
        crops = first.video[:: max(1, len(first.video) // most)][:most]
        span = f"{first.start:.1f}-{first.end:.1f} s"
        return [_jpeg_url(c) for c in crops], f"{len(crops)} of the {len(first.video)} face crops of {span}"


def _jpeg_url(rgb) -> str:
    import cv2

    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode()


def _renamed(doc, temp: str, name: str):
    """The document with the temporary file's path replaced by the upload's name (file, details)."""
    if isinstance(doc, dict):
        return {k: _renamed(v, temp, name) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_renamed(v, temp, name) for v in doc]
    if isinstance(doc, str) and temp in doc:
        return doc.replace(temp, name)
    return doc


def upload_name(filename: str | None) -> str:
    """A display name for an uploaded file: its base name, control characters removed, at most 120
    characters; "upload" when the client sent none."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:120]
    return name or "upload"


# --- the upload, streamed to disk -------------------------------------------------------------------


class _Upload:
    """Callbacks of python-multipart's streaming parser: the part named `file` goes to a private
    temporary file in `folder`, counted against `max_bytes`; other parts are ignored."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder, self.max_bytes = folder, max_bytes
        self.path: Path | None = None
        self.name: str | None = None
        self.size = 0
        self.done = False
        self._file = None
        self._headers: dict[bytes, bytes] = {}
        self._field = self._value = b""
        self._writing = False

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": self._hfield, "on_header_value": self._hvalue,
                "on_header_end": self._hend, "on_headers_finished": self._headers_done, "on_part_data": self._data,
                "on_part_end": self._part_end, "on_end": self._end}

    def _begin(self):
        self._headers, self._field, self._value, self._writing = {}, b"", b"", False

    def _hfield(self, data, start, end):
        self._field += data[start:end]

    def _hvalue(self, data, start, end):
        self._value += data[start:end]

    def _hend(self):
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field, self._value = b"", b""

    def _headers_done(self):
        from python_multipart.multipart import parse_options_header

        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") != b"file" or self.path is not None:
            return
        self.name = upload_name(params.get(b"filename", b"").decode("utf-8", "replace"))
        suffix = Path(self.name).suffix
        fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=suffix if SAFE_SUFFIX.match(suffix) else "", dir=self.folder)
        self.path, self._file, self._writing = Path(tmp), os.fdopen(fd, "wb"), True

    def _data(self, data, start, end):
        if not self._writing:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise UploadRefused(413, f"{self.name}: larger than this service's upload limit of {_size(self.max_bytes)}", "too_large")
        self._file.write(data[start:end])

    def _part_end(self):
        if self._writing:
            self._file.close()
            self._writing = False

    def _end(self):
        self.done = True

    def close(self):
        if self._file is not None and not self._file.closed:
            self._file.close()

    def remove(self):
        self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"


async def _receive(request, folder: Path, limits: Limits) -> _Upload:
    """Stream the request body through the multipart parser into `folder`; UploadRefused (4xx) for
    a body that is not multipart, too large, cut short, or without a `file` part."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadRefused(415, "send the file as multipart/form-data in the field `file` "
                                 "(curl -F file=@clip.mp4 .../predict)", "bad_request")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limits.max_bytes + 64 * 1024:
        raise UploadRefused(413, f"upload of {_size(int(length))} is larger than this service's upload limit of "
                                 f"{_size(limits.max_bytes)}", "too_large")
    upload = _Upload(folder, limits.max_bytes)
    parser = MultipartParser(params[b"boundary"], upload.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except UploadRefused:
        upload.remove()
        raise
    except Exception as err:  # noqa: BLE001 - a malformed body (the parser's own errors) is the client's
        upload.remove()
        raise UploadRefused(400, f"malformed multipart body ({str(err).splitlines()[0] if str(err) else type(err).__name__})", "bad_request") from None
    upload.close()
    if upload.path is None:
        upload.remove()
        raise UploadRefused(400, "no file in the upload: send the video or audio as the multipart field `file`", "bad_request")
    if not upload.done:
        upload.remove()
        raise UploadRefused(400, f"{upload.name}: the upload was cut short (the multipart body has no end)", "bad_request")
    return upload


# --- the app --------------------------------------------------------------------------------------


def static_folder() -> Path:
    from importlib import resources

    folder = resources.files("avemotion.inference").joinpath(STATIC)
    if not isinstance(folder, Path):
        raise ConfigError("avemotion is installed as a zip archive; the web page needs a regular install")
    return folder


def require_serve_extra() -> None:
    """ConfigError (one line) when FastAPI, uvicorn or python-multipart is missing."""
    missing = []
    for module, package in (("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("python_multipart", "python-multipart")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise ConfigError(f"the service needs {', '.join(missing)}: pip install 'avemotion[serve]'")


def create_app(model: ServiceModel, limits: Limits | None = None, *, upload_dir: str | Path | None = None):
    """The FastAPI app of one model. `upload_dir`: where the private upload folder is made (default:
    the system's temporary folder); it is removed at shutdown."""
    require_serve_extra()
    from contextlib import asynccontextmanager

    import anyio
    from fastapi import FastAPI, Request, WebSocket
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    limits = limits or Limits()
    folder = Path(tempfile.mkdtemp(prefix="avemotion-serve-", dir=upload_dir))  # 0700: only this user reads uploads
    state = {"in_flight": 0, "streams": 0, "predictions": 0}
    slots: dict[str, asyncio.Semaphore] = {}

    def slot() -> asyncio.Semaphore:  # made inside the running loop
        if "predict" not in slots:
            slots["predict"] = asyncio.Semaphore(limits.max_concurrent)
        return slots["predict"]

    @asynccontextmanager
    async def lifespan(app):
        yield
        shutil.rmtree(folder, ignore_errors=True)

    from avemotion import __version__

    app = FastAPI(title="avemotion", version=__version__, lifespan=lifespan,
                  description=f"Emotion from video and voice. Model: {model.info()['headline']}. "
                              f"Training data licence: {model.info()['licence_note']}.")
    app.state.model, app.state.limits, app.state.upload_dir, app.state.counters = model, limits, folder, state

    def refused(err: UploadRefused) -> JSONResponse:
        return JSONResponse({"detail": err.detail, "reason": err.reason}, status_code=err.status)

    upload_schema = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary", "description": "a video or audio file"}}}}}}}

    @app.post("/predict", openapi_extra=upload_schema, summary="Emotion of an uploaded video or audio file",
              responses={413: {"description": "upload or media too large/long"}, 415: {"description": "not multipart"},
                         422: {"description": "a file predict refuses: detail is predict's line"},
                         503: {"description": "too many requests waiting"}})
    async def predict(request: Request, extras: bool = False):
        """The JSON of `avemotion predict --format json` for the file in the multipart field `file`
        (`extras=true`: plus the face crops the model saw and the timeline plot)."""
        if state["in_flight"] >= limits.max_concurrent + limits.max_waiting:
            return JSONResponse({"detail": f"busy: {state['in_flight']} requests in progress or waiting; try again",
                                 "reason": "busy"}, status_code=503, headers={"Retry-After": "1"})
        state["in_flight"] += 1
        upload = None
        try:
            upload = await _receive(request, folder, limits)
            async with slot():
                status, doc = await anyio.to_thread.run_sync(model.predict_upload, upload.path, upload.name, limits, extras)
            state["predictions"] += 1
            return JSONResponse(doc, status_code=status)
        except UploadRefused as err:
            return refused(err)
        finally:
            state["in_flight"] -= 1
            if upload is not None:
                upload.remove()

    @app.get("/model", summary="The model, its classes, preprocessing and training data licence")
    async def model_info():
        return model.info()

    @app.get("/health", summary="Liveness and the limits in force")
    async def health():
        return {"status": "ok", "model": model.name, "in_flight": state["in_flight"], "streams": state["streams"],
                "predictions": state["predictions"], "limits": asdict(limits)}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(static_folder() / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=static_folder()), name="static")

    @app.websocket("/stream")
    async def stream(ws: WebSocket):
        await ws.accept()
        if state["streams"] >= limits.max_streams:
            await ws.send_json({"type": "error", "detail": f"busy: {state['streams']} streams open (limit {limits.max_streams})"})
            await ws.close(code=1013)
            return
        state["streams"] += 1
        try:
            await _serve_stream(ws, model, limits, slot)
        finally:
            state["streams"] -= 1

    return app


class StreamProtocolError(Exception):
    pass


def _start_options(msg: dict, model: ServiceModel) -> dict:
    if not isinstance(msg, dict) or msg.get("type") != "start":
        raise StreamProtocolError('the first message must be {"type": "start", "sample_rate": N, ...}')
    try:
        rate = int(msg.get("sample_rate") or model.windows.sample_rate)
        window = float(msg.get("window", getattr(model.recognizer, "window", 3.0)))
        hop = float(msg.get("hop", getattr(model.recognizer, "hop", 1.0)))
        lag = msg.get("lag")
    except (TypeError, ValueError):
        raise StreamProtocolError("start: sample_rate, window and hop must be numbers") from None
    if not 8000 <= rate <= 192000:
        raise StreamProtocolError(f"start: sample_rate {rate} outside 8000-192000 Hz")
    if not (0.5 <= window <= 30 and 0.1 <= hop <= window):
        raise StreamProtocolError(f"start: window {window:g} s and hop {hop:g} s must satisfy 0.5 <= window <= 30, 0.1 <= hop <= window")
    return {"rate": rate, "window": window, "hop": hop, "video": bool(msg.get("video", model.windows.uses_video)),
            "audio": bool(msg.get("audio", True)), "lag": None if lag is None else int(lag)}


async def _serve_stream(ws, model: ServiceModel, limits: Limits, slot) -> None:
    """One WebSocket stream: a `start` message, then binary chunks (1: float32 mono audio at the
    declared rate; 2: a float64 time then a JPEG or PNG frame), `{"type": "end"}`; one `window`
    message per hop, `skipped` when the model falls behind, `end` last."""
    import anyio
    from starlette.websockets import WebSocketDisconnect

    from avemotion.inference.stream import StreamSession

    try:
        opts = _start_options(await ws.receive_json(), model)
        session = StreamSession(model.windows, opts["window"], opts["hop"], input_rate=opts["rate"],
                                video=opts["video"], audio=opts["audio"])
    except (StreamProtocolError, ConfigError, json.JSONDecodeError, KeyError) as err:
        await ws.send_json({"type": "error", "detail": str(err)})
        await ws.close(code=1003)
        return
    except WebSocketDisconnect:
        return
    lag = limits.stream_lag if opts["lag"] is None else opts["lag"]
    await ws.send_json({"type": "ready", "model": model.name, "classes": list(model.windows.labels),
                        "sample_rate": model.windows.sample_rate, "input_rate": opts["rate"], "window": session.window,
                        "hop": session.hop, "video": session.has_video, "audio": session.has_audio, "lag": lag})
    queue: asyncio.Queue = asyncio.Queue()
    counts = {"windows": 0, "skipped": 0}

    async def answer():
        while True:
            item = await queue.get()
            if item is None:
                return
            if lag and queue.qsize() >= lag:  # behind: answer the newest window, skip the others
                skipped = [item]
                while queue.qsize() and queue._queue[0] is not None:  # noqa: SLF001 - peek without taking the end mark
                    skipped.append(queue.get_nowait())
                item = skipped.pop()
                counts["skipped"] += len(skipped)
                await ws.send_json({"type": "skipped", "count": len(skipped), "start": skipped[0][0][0], "end": skipped[-1][0][1]})
            span, snap = item
            async with slot():
                result = await anyio.to_thread.run_sync(session.predict, span, snap)
            counts["windows"] += 1
            await ws.send_json(result.to_dict())

    worker = asyncio.create_task(answer())
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                worker.cancel()
                return
            if msg.get("bytes") is not None:
                _feed_bytes(session, msg["bytes"])
            elif msg.get("text") is not None:
                data = json.loads(msg["text"])
                if data.get("type") == "end":
                    session.end(data.get("duration"))
            for item in session.due():
                queue.put_nowait(item)
            if session.ended:
                break
        queue.put_nowait(None)
        await worker
        await ws.send_json({"type": "end", **counts})
        await ws.close()
    except (StreamProtocolError, json.JSONDecodeError, ValueError) as err:
        worker.cancel()
        await ws.send_json({"type": "error", "detail": str(err)})
        await ws.close(code=1003)
    except WebSocketDisconnect:
        worker.cancel()


def _feed_bytes(session, data: bytes) -> None:
    import numpy as np

    if not data:
        raise StreamProtocolError("empty binary message")
    kind = data[0]
    if kind == 1:
        if (len(data) - 1) % 4:
            raise StreamProtocolError("audio message: the samples must be float32 (4 bytes each)")
        session.add_audio(np.frombuffer(data[1:], "<f4"))
    elif kind == 2:
        if len(data) < 10:
            raise StreamProtocolError("frame message: 1 byte kind, 8 bytes float64 time, then the image")
        import cv2

        (t,) = struct.unpack("<d", data[1:9])
        bgr = cv2.imdecode(np.frombuffer(data[9:], np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise StreamProtocolError("frame message: the image does not decode (JPEG or PNG expected)")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        from avemotion.inference.stream import LIVE_MAX_HEIGHT, _scaled

        session.add_frame(t, _scaled(rgb, LIVE_MAX_HEIGHT) if rgb.shape[0] > LIVE_MAX_HEIGHT else rgb)
    else:
        raise StreamProtocolError(f"unknown binary message kind {kind} (1: audio, 2: frame)")


def frame_message(t: float, rgb, fmt: str = ".jpg", quality: int = 85) -> bytes:
    """A frame as the /stream protocol sends it: kind 2, float64 time, the encoded image."""
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == ".jpg" else []
    ok, data = cv2.imencode(fmt, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    return b"\x02" + struct.pack("<d", float(t)) + data.tobytes()


def audio_message(samples) -> bytes:
    """Audio as the /stream protocol sends it: kind 1, float32 little-endian mono samples."""
    import numpy as np

    return b"\x01" + np.asarray(samples, "<f4").tobytes()


def serve(model: ServiceModel, limits: Limits, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run the service with uvicorn until Ctrl-C."""
    import uvicorn

    app = create_app(model, limits)
    started = time.strftime("%H:%M:%S")
    print(f"{started} avemotion serve: {model.info()['headline']} on http://{host}:{port}/ (docs: /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
