"""Streaming: the emotion of the last window, every hop, from audio (and frames) that arrive in chunks.

    model = window_model(recognizer)              # a run's Recognizer or the shipped VoiceRecognizer
    session = StreamSession(model, window=3.0, hop=1.0)
    for event in read_source("talk.mp4", model):  # ("audio", samples) / ("frame", t, rgb) / ("end", duration)
        session.feed(event)
        for span, snapshot in session.due():      # windows whose media has all arrived
            print(session.predict(span, snapshot).to_dict())

Windows follow the grid of the offline timeline (windows.plan_windows: [k * hop, k * hop + window],
then, at the end, one window flush with the end when the grid leaves a tail, or the whole input
when it is shorter than a window), so a file streamed at any pace gives the windows `predict` gives
for it. Each window gets the treatment `predict` gives it, on the media held in memory instead of
the file:
- a run's models (`RunWindows`): the audio at the run's rate on the clip's clock (sample 0 is the
  first video frame), cut and turned into MFCCs by the data layer's `window_audio` and
  `compute_mfcc`; the frames the data layer would sample (`sample_times`, the last frame shown at
  each time), the face found and followed by the data layer's detector, `follow_face`,
  `smooth_boxes`, `fill_boxes` and `crop_frame`; a window without a face falls back to the run's
  audio model when the recogniser allows it (`allow_missing`), as `predict` does;
- the shipped voice model (`VoiceWindows`): the window's audio at 16 kHz, trimmed and levelled by
  `prepare_wave`, then the model; a window without speech is an error entry for that hop.

`read_source` decodes a file, a URL (rtsp://, http://, ...) or a local camera and microphone
(`0`, `1`, ...) into those events, at the model's audio rate, on the clock `decode_audio` uses; with
`realtime=True` a file is played at its own pace.

The command line is `avemotion live` (cli/serve.py); the service's WebSocket `/stream`
(inference/service.py) feeds a StreamSession with what the browser or any client sends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from avemotion.errors import ConfigError, InputError
from avemotion.inference.results import Prediction
from avemotion.inference.windows import plan_windows

_EPS = 1e-6
# Frames held by a session at most (bytes): beyond it, frames no grid window samples are dropped
# (the end-of-stream window then uses the nearest frame kept). 3 s of 480x360 at 30 fps is 47 MB.
FRAME_BUDGET = 256 * 2**20
# Camera and stream frames taller than this are scaled down before they are held (a file's are kept
# as they are, so that it gives what `predict` gives): the detector works at 360 rows and crops are 224.
LIVE_MAX_HEIGHT = 480
STREAM_LABEL = Path("stream")  # the "file" named by a window's InputError


# --- the window models ----------------------------------------------------------------------------


class VoiceWindows:
    """The shipped voice model on windows of audio: `prepare_wave` (speech trimmed, level set), then
    the model, as `VoiceRecognizer.predict` treats a file."""

    uses_video = False
    uses_audio = True

    def __init__(self, recognizer):
        self.recognizer = recognizer
        self.sample_rate = recognizer.cfg.sample_rate
        self.labels = tuple(recognizer.labels)
        self.name = recognizer.name

    def predict_window(self, audio: np.ndarray | None, frames: list, start: float, end: float) -> Prediction:
        from avemotion.data.audio import check_finite
        from avemotion.data.voice import prepare_wave

        if audio is None:
            raise InputError(STREAM_LABEL, "no_audio", "no audio in the stream")
        utt = prepare_wave(STREAM_LABEL, check_finite(STREAM_LABEL, audio), self.recognizer.cfg)
        probs = self.recognizer.probabilities(utt.wave)
        speech = f"{utt.speech_end - utt.speech_start:.1f} s of speech"
        return Prediction.from_probs(probs, ("audio",), start, end, notes=(speech,), names=self.labels)

    def crops(self, frames: list, start: float, end: float):
        return None


class RunWindows:
    """A run's Recognizer on windows held in memory: the data layer's audio window and MFCC, and
    its face sampling, detection, following and crop on the frames."""

    def __init__(self, recognizer):
        self.recognizer = recognizer
        self.cfg = recognizer.cfg
        self.sample_rate = self.cfg.sample_rate
        self.uses_video = "video" in recognizer.modalities
        self.uses_audio = "audio" in recognizer.modalities
        self.labels = tuple(recognizer.labels)
        self.name = recognizer.run.model

    def predict_window(self, audio: np.ndarray | None, frames: list, start: float, end: float) -> Prediction:
        from avemotion.data.preprocess import ClipArrays

        rec, modalities, notes = self.recognizer, tuple(self.recognizer.modalities), []
        if self.uses_audio and audio is None:
            modalities = self._fall_back(modalities, "audio", "no audio in the stream", "no_audio")
            notes.append("no audio; predicted from video only")
        video = mfcc = None
        if "video" in modalities:
            video = window_faces(frames, self.cfg, start, end)
            if isinstance(video, InputError):
                modalities = self._fall_back(modalities, "video", video.detail, "no_face")
                notes.append("no face found; predicted from audio only")
                video = None
        if "audio" in modalities:
            mfcc = window_mfcc(audio, self.cfg, end - start)
        arrays = ClipArrays(video, mfcc, None, start, end, "detector" if video is not None else "none")
        probs = rec.probabilities([arrays], modalities)[0]
        return Prediction.from_probs(probs, modalities, start, end, notes=notes, names=self.labels)

    def _fall_back(self, modalities, missing: str, detail: str, code: str) -> tuple[str, ...]:
        remaining = tuple(m for m in modalities if m != missing)
        if not remaining or not self.recognizer.can_use(remaining):
            raise InputError(STREAM_LABEL, code, detail)
        return remaining

    def crops(self, frames: list, start: float, end: float):
        """The face crops this window gives the model (T, S, S, 3), or the InputError saying none was found."""
        return window_faces(frames, self.cfg, start, end) if self.uses_video else None


def window_model(recognizer):
    """The window model of a recogniser: VoiceWindows for a VoiceRecognizer, RunWindows for a run's."""
    from avemotion.inference.voice import VoiceRecognizer

    return VoiceWindows(recognizer) if isinstance(recognizer, VoiceRecognizer) else RunWindows(recognizer)


def window_mfcc(audio: np.ndarray | None, cfg, seconds: float) -> np.ndarray:
    """MFCCs of a window's audio (sample 0 = the window's start), as `predict` computes a window's."""
    from avemotion.data.audio import compute_mfcc, window_audio

    if audio is None:
        raise InputError(STREAM_LABEL, "no_audio", "no audio in the stream")
    piece, _ = window_audio(STREAM_LABEL, audio, 0.0, cfg, seconds, strict=False)
    return compute_mfcc(piece, cfg)


def window_faces(frames: list, cfg, start: float, end: float):
    """Face crops (T, S, S, 3) uint8 of one window from its sampled frames (one RGB frame per
    sample time, `pick_frames`), or InputError(no_face): the steps of face_plan.window_videos for
    one window without landmarks (detector on the searched positions, one face followed, boxes
    smoothed where the detector asks it, filled: face_plan.follow_boxes; cropped)."""
    from avemotion.data import faces
    from avemotion.data.face_plan import follow_boxes

    if not frames:
        return InputError(STREAM_LABEL, "no_face", f"no video frame in the window {start:.1f}-{end:.1f} s")
    search = faces.searched(cfg, None)
    found: dict[int, np.ndarray] = {}
    candidates = []
    for frame, looked in zip(frames, search):
        if not looked:
            candidates.append(faces.NO_FACE)
            continue
        key = id(frame)  # a frame shown at several sample times is searched once
        if key not in found:
            found[key] = faces.detect_faces(frame, cfg.detector)
        candidates.append(found[key])
    followed = follow_boxes(candidates, faces.smooths(cfg, None))
    if followed is None:
        return InputError(STREAM_LABEL, "no_face", f"no face found in the window {start:.1f}-{end:.1f} s")
    _, box = followed
    crops = [faces.crop_frame(frame, b, cfg) for frame, b in zip(frames, box)]
    return np.ascontiguousarray(np.stack(crops), dtype=np.uint8)


# --- the session ----------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """What one window needs, copied out of the session's buffers when it became due."""

    audio: np.ndarray | None  # the window's samples at the model's rate (sample 0 = its start)
    frames: list  # one RGB frame per sample time (num_frames), [] without video
    due_at: float  # time.perf_counter() when its last sample arrived
    final: bool = False  # an end-of-stream window (flush with the end, or the whole short input)


@dataclass
class WindowResult:
    """The answer for one hop: a Prediction, or the reason the window could not be predicted."""

    start: float
    end: float
    prediction: Prediction | None = None
    reason: str | None = None
    detail: str | None = None
    latency: float = 0.0  # seconds from the window's last sample to its answer
    compute: float = 0.0  # seconds spent predicting it
    final: bool = False  # the end-of-stream window (flush with the end, or the whole short input)

    def to_dict(self) -> dict:
        head = {"type": "window", "start": round(self.start, 3), "end": round(self.end, 3),
                "latency_ms": round(self.latency * 1000, 1), "compute_ms": round(self.compute * 1000, 1)}
        if self.prediction is None:
            return {**head, "kind": "error", "error": {"reason": self.reason, "detail": self.detail}}
        body = {k: v for k, v in self.prediction.to_dict().items() if k not in ("file", "start", "end")}
        return {**head, **body, "kind": "window"}

    def line(self) -> str:
        """One line for a terminal: `  3.0-  6.0 s  happy     0.83  audio+video  (41 ms)`."""
        span = f"{self.start:6.1f}-{self.end:6.1f} s"
        if self.prediction is None:
            return f"{span}  -  {self.detail}"
        p = self.prediction
        return f"{span}  {p.emotion:<9} {p.probability:.2f}  {'+'.join(p.modalities):<11} ({self.latency * 1000:.0f} ms)"


class StreamSession:
    """Buffers of a stream's audio (at the model's rate) and frames, the windows due, their answers.

    `feed(("audio", samples))` takes mono float32 samples at `input_rate` (resampled when it is not
    the model's rate); `feed(("frame", t, rgb))` an upright RGB frame shown from t seconds (the
    clock of the audio: sample 0 is time 0); `feed(("end", duration))` ends the stream (duration:
    the input's stated length, else the audio's). `due()` returns the windows whose media has all
    arrived; `predict(span, snapshot)` answers one."""

    def __init__(self, model, window: float = 3.0, hop: float = 1.0, *, input_rate: int | None = None,
                 video: bool | None = None, audio: bool = True):
        from avemotion.inference.windows import check_window

        cfg = getattr(model, "cfg", None)
        if cfg is not None:
            check_window(window, hop, cfg.min_duration, cfg.short_clip == "pad")
        elif window <= 0 or hop <= 0:
            raise ConfigError(f"--window and --hop must be positive (got {window}, {hop})")
        self.model, self.window, self.hop = model, float(window), float(hop)
        self.rate = model.sample_rate
        self.has_audio = bool(audio)
        self.has_video = model.uses_video if video is None else bool(video) and model.uses_video
        self.num_frames = cfg.num_frames if cfg is not None else 0
        self._resampler = _Resampler(input_rate, self.rate) if input_rate and input_rate != self.rate else None
        self._audio = np.zeros(0, np.float32)
        self._audio_base = 0  # absolute index of self._audio[0]
        self._samples = 0  # samples received (at the model's rate)
        self._frame_times: list[float] = []
        self._frames: list[np.ndarray] = []
        self._frame_bytes = 0
        self._next = 0  # index of the next grid window
        self._ended: float | None = None
        self._emitted: set[tuple[float, float]] = set()

    # -- input ---------------------------------------------------------------------------------

    def feed(self, event) -> None:
        kind = event[0]
        if kind == "audio":
            self.add_audio(event[1])
        elif kind == "frame":
            self.add_frame(event[1], event[2])
        elif kind == "end":
            self.end(event[1] if len(event) > 1 else None)
        else:
            raise ValueError(f"unknown stream event {kind!r}")

    def add_audio(self, samples: np.ndarray) -> None:
        if not self.has_audio or self._ended is not None:
            return
        samples = np.asarray(samples, np.float32).reshape(-1)
        if self._resampler is not None:
            samples = self._resampler.push(samples)
        if len(samples):
            self._audio = np.concatenate([self._audio, samples])
            self._samples += len(samples)

    def add_frame(self, t: float, rgb: np.ndarray) -> None:
        if not self.has_video or self._ended is not None:
            return
        if self._frame_times and t <= self._frame_times[-1]:
            return  # frames arrive in time order; a repeated or late one is dropped
        self._frame_times.append(float(t))
        self._frames.append(rgb)
        self._frame_bytes += rgb.nbytes
        if self._frame_bytes > FRAME_BUDGET:
            self._thin()

    def end(self, duration: float | None = None) -> None:
        if self._resampler is not None and self._ended is None:
            rest = self._resampler.flush()
            self._audio = np.concatenate([self._audio, rest])
            self._samples += len(rest)
        self._ended = float(duration) if duration is not None else self.clock

    @property
    def clock(self) -> float:
        """Seconds of the stream received: of audio when it has audio, else up to the last frame."""
        if self.has_audio:
            return self._samples / self.rate
        return self._frame_times[-1] if self._frame_times else 0.0

    @property
    def ended(self) -> bool:
        return self._ended is not None

    # -- windows -------------------------------------------------------------------------------

    def _grid(self, k: int) -> tuple[float, float]:
        return round(k * self.hop, 6), round(k * self.hop + self.window, 6)  # as windows.plan_windows

    def _complete(self, start: float, end: float) -> bool:
        if self._ended is not None:
            return True
        if self.has_audio and self._samples < round(end * self.rate):
            return False
        if self.has_video:
            last_sample = start + (self.num_frames - 1) * (end - start) / max(self.num_frames, 1)
            if not self._frame_times or self._frame_times[-1] <= last_sample + _EPS:
                return False  # a frame shown at the last sample time may still come
            if not self.has_audio and self._frame_times[-1] < end:
                return False
        return True

    def due(self) -> list[tuple[tuple[float, float], Snapshot]]:
        """The windows whose media has all arrived, in order, each with its snapshot; after the end,
        the end-of-stream windows of windows.plan_windows not given yet."""
        out = []
        while True:
            span = self._grid(self._next)
            if self._ended is not None and span[1] > self._ended + _EPS:
                break
            if not self._complete(*span):
                break
            out.append((span, self._snapshot(*span)))
            self._emitted.add(span)
            self._next += 1
        if self._ended is not None and self._ended > 0:
            for span in plan_windows(self._ended, self.window, self.hop):
                if span not in self._emitted:
                    snap = self._snapshot(*span)
                    snap.final = True
                    out.append((span, snap))
                    self._emitted.add(span)
        self._trim()
        return out

    def _snapshot(self, start: float, end: float) -> Snapshot:
        audio = None
        if self.has_audio and self._samples:
            first, last = round(start * self.rate) - self._audio_base, round(end * self.rate) - self._audio_base
            audio = self._audio[max(0, first):max(0, last)].copy()
        frames = self.pick_frames(start, end) if self.has_video else []
        return Snapshot(audio, frames, time.perf_counter())

    def pick_frames(self, start: float, end: float) -> list[np.ndarray]:
        """The frame shown at each of the window's sample times (face_plan.sample_times): the last
        frame that starts at or before it, the first frame for a time before any (stream_frames)."""
        from avemotion.data.face_plan import sample_times

        if not self._frames:
            return []
        times = sample_times(start, end, self.num_frames)
        index = np.searchsorted(np.asarray(self._frame_times), times + _EPS, side="right") - 1
        return [self._frames[max(0, int(i))] for i in index]

    def _trim(self) -> None:
        """Drop what no window still to come can use: audio before the next window's start, and
        frames before the last one shown at that start (the end-of-stream window may start up to a
        window before the clock: that much is kept too)."""
        keep_from = min(self._grid(self._next)[0], max(0.0, self.clock - self.window - self.hop))
        cut = round(keep_from * self.rate) - self._audio_base
        if cut > 0:
            self._audio = self._audio[cut:]
            self._audio_base += cut
        if self._frame_times:
            i = int(np.searchsorted(np.asarray(self._frame_times), keep_from + _EPS, side="right")) - 1
            if i > 0:
                self._frame_bytes -= sum(f.nbytes for f in self._frames[:i])
                del self._frames[:i], self._frame_times[:i]

    def _thin(self) -> None:
        """Over FRAME_BUDGET: keep only the frames some grid window still to come samples."""
        from avemotion.data.face_plan import sample_times

        if len(self._frames) < 2:
            return
        last = self._frame_times[-1]
        times = [sample_times(*self._grid(k), self.num_frames) for k in range(self._next, self._next + int(self.window / self.hop) + 2)]
        wanted = np.concatenate(times)
        index = set(int(i) for i in np.searchsorted(np.asarray(self._frame_times), wanted + _EPS, side="right") - 1)
        index.add(len(self._frames) - 1)
        keep = [i for i in range(len(self._frames)) if i in index or self._frame_times[i] > last - _EPS]
        self._frames = [self._frames[i] for i in keep]
        self._frame_times = [self._frame_times[i] for i in keep]
        self._frame_bytes = sum(f.nbytes for f in self._frames)

    def predict(self, span: tuple[float, float], snap: Snapshot) -> WindowResult:
        """The answer for one window: a Prediction, or its InputError as an error entry."""
        start, end = span
        t = time.perf_counter()
        try:
            prediction = self.model.predict_window(snap.audio, snap.frames, start, end)
            result = WindowResult(start, end, prediction)
        except InputError as err:
            result = WindowResult(start, end, None, err.code, err.detail)
        done = time.perf_counter()
        result.compute, result.latency, result.final = done - t, done - snap.due_at, snap.final
        return result


class _Resampler:
    """Stateful resampling of mono float32 chunks (libswresample through PyAV): the chunks join as
    one signal, without edge effects at their seams."""

    def __init__(self, source: int, target: int):
        import av

        self.source, self.target = int(source), int(target)
        self._r = av.AudioResampler(format="flt", layout="mono", rate=self.target)

    def _frame(self, samples: np.ndarray):
        import av

        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32)[None], format="flt", layout="mono")
        frame.sample_rate = self.source
        return frame

    def push(self, samples: np.ndarray) -> np.ndarray:
        out = [f.to_ndarray().reshape(-1) for f in self._r.resample(self._frame(samples))]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)

    def flush(self) -> np.ndarray:
        out = [f.to_ndarray().reshape(-1) for f in self._r.resample(None)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def run_session(session: StreamSession, events, on_result=None) -> list[WindowResult]:
    """Feed `events` to `session`, answering each window as it becomes due (in this thread);
    `on_result(result)` is called per window. Returns every answer, in order."""
    results = []
    for event in events:
        session.feed(event)
        for span, snap in session.due():
            result = session.predict(span, snap)
            results.append(result)
            if on_result is not None:
                on_result(result)
    if not session.ended:
        session.end()
        for span, snap in session.due():
            result = session.predict(span, snap)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


# --- sources ----------------------------------------------------------------------------------------


@dataclass
class SourceInfo:
    kind: str  # "file", "url", "device"
    name: str
    has_audio: bool
    has_video: bool
    duration: float | None = None  # stated length of a file
    notes: list[str] = field(default_factory=list)


def describe_source(source: str) -> tuple[str, str]:
    """("device", "0") for a camera number, ("url", s) for scheme://..., ("file", path) otherwise."""
    if source.isdigit():
        return "device", source
    if "://" in source:
        return "url", source
    return "file", source


def open_source(source: str, model, *, realtime: bool = False, audio_device: str | None = None):
    """(SourceInfo, iterator of events) for a file, URL or camera number, at the model's audio rate.

    Files and URLs: PyAV demuxes the container; audio is resampled to the model's rate and placed on
    the clock of the first video frame exactly as `decode_audio` places it; frames are turned
    upright. `realtime` (files) paces the events at the file's own speed. A camera number opens
    /dev/videoN (v4l2) and the default microphone (ALSA, or `audio_device`); with only one of them
    there, the stream has what there is (a note says so)."""
    kind, name = describe_source(source)
    if kind == "file":
        from avemotion.inference.recognizer import check_readable

        path = Path(name)
        check_readable(path)
        from avemotion.data.media import probe

        info = probe(path)  # InputError for a text file, an image, a damaged file: one line
        src = SourceInfo("file", name, info.has_audio, info.has_video, info.duration)
        events = _container_events(lambda: _av_open(name), model, realtime=realtime, downscale=False,
                                   duration=info.duration)
        return src, events
    if kind == "url":
        container = _av_open(name)
        src = SourceInfo("url", name, bool(container.streams.audio), bool(container.streams.video))
        return src, _container_events(lambda: container, model, realtime=False, downscale=True, duration=None)
    return _device_source(int(name), model, audio_device)


def _av_open(target: str, **options):
    import av

    try:
        return av.open(target, **options)
    except (av.error.FFmpegError, OSError) as err:
        raise ConfigError(f"{target}: cannot open ({getattr(err, 'strerror', None) or err})") from None


def _stream_start(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0


def _container_events(opener, model, *, realtime: bool, downscale: bool, duration: float | None) -> Iterator:
    """Events of one container (file or URL): audio chunks and frames in demux order, then ("end", d)."""
    import av

    from avemotion.data.audio import audio_lead
    from avemotion.data.media import upright_rgb

    container = opener()
    try:
        vs = container.streams.video[0] if (container.streams.video and model.uses_video) else None
        aus = container.streams.audio[0] if (container.streams.audio and model.uses_audio) else None
        if vs is None and aus is None:
            raise ConfigError(f"{container.name}: no {'audio' if model.uses_audio else 'video'} stream for the model")
        if vs is not None:
            vs.thread_type = "AUTO"
        t0 = _stream_start(container.streams.video[0]) if container.streams.video else None
        audio = _AudioClock(model.sample_rate, t0, audio_lead)
        pace = _Pace(realtime)
        count = 0
        for packet in container.demux([s for s in (vs, aus) if s is not None]):
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                continue  # a damaged packet: what comes after it still decodes (a live stream goes on)
            for frame in decoded:
                if packet.stream is aus:
                    chunk = audio.add(frame)
                    if chunk is not None and len(chunk):
                        pace.wait(audio.seconds)
                        yield ("audio", chunk)
                else:
                    t = float(frame.pts * vs.time_base) - (t0 or 0.0) if frame.pts is not None else count / 30
                    count += 1
                    rgb = upright_rgb(frame, vs)
                    if downscale and rgb.shape[0] > LIVE_MAX_HEIGHT:
                        rgb = _scaled(rgb, LIVE_MAX_HEIGHT)
                    pace.wait(t)
                    yield ("frame", t, rgb)
        rest = audio.flush()
        if rest is not None and len(rest):
            yield ("audio", rest)
        yield ("end", duration)
    finally:
        container.close()


class _AudioClock:
    """Resampled mono audio of one stream on the clip's clock (audio.decode_audio's placement:
    zeros before audio that starts after the first frame, samples dropped before it)."""

    def __init__(self, rate: int, video_start: float | None, audio_lead):
        self.rate, self.video_start, self.audio_lead = rate, video_start, audio_lead
        self.resampler, self.setup, self.skip, self.started, self.total = None, None, 0, False, 0

    @property
    def seconds(self) -> float:
        return self.total / self.rate

    def add(self, frame) -> np.ndarray | None:
        import av

        out = []
        setup = (frame.format.name, frame.layout.name, frame.sample_rate)
        if setup != self.setup:
            if self.resampler is not None:
                out += list(self.resampler.resample(None))
            self.resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=self.rate)
            self.setup = setup
        first_time = frame.time
        out += list(self.resampler.resample(frame))
        chunk = self._mono(out)
        if not self.started:
            self.started = True
            lead = self.audio_lead(first_time if first_time is not None else 0.0, self.video_start)
            pad, self.skip = max(0, round(lead * self.rate)), max(0, round(-lead * self.rate))
            chunk = np.concatenate([np.zeros(pad, np.float32), chunk])
        return self._kept(chunk)

    def flush(self) -> np.ndarray | None:
        if self.resampler is None:
            return None
        return self._kept(self._mono(list(self.resampler.resample(None))))

    def _mono(self, frames) -> np.ndarray:
        parts = [f.to_ndarray().mean(axis=0, dtype=np.float32) for f in frames]  # planar -> mono, as decode_audio
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _kept(self, chunk: np.ndarray) -> np.ndarray:
        if self.skip:
            dropped = min(self.skip, len(chunk))
            chunk, self.skip = chunk[dropped:], self.skip - dropped
        self.total += len(chunk)
        return chunk


class _Pace:
    """Sleeps until the wall clock reaches a media time (realtime playback of a file)."""

    def __init__(self, enabled: bool):
        self.enabled, self.t0 = enabled, None

    def wait(self, media_time: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now - media_time
        delay = self.t0 + media_time - now
        if delay > 0:
            time.sleep(delay)


def _scaled(rgb: np.ndarray, height: int) -> np.ndarray:
    import cv2

    width = round(rgb.shape[1] * height / rgb.shape[0])
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def _device_source(index: int, model, audio_device: str | None):
    """Camera /dev/videoN (v4l2) and a microphone (ALSA `default`, or `audio_device`), read by two
    threads into one queue of events on the wall clock since the start."""
    import queue
    import threading

    notes = []
    video = audio = None
    if model.uses_video:
        try:
            video = _av_open(f"/dev/video{index}", format="v4l2")
        except ConfigError as err:
            notes.append(f"no camera: {err}")
    if model.uses_audio:
        try:
            audio = _av_open(audio_device or "default", format="alsa")
        except ConfigError as err:
            notes.append(f"no microphone: {err}")
    if video is None and audio is None:
        raise ConfigError(f"camera {index}: neither /dev/video{index} nor a microphone could be opened"
                          + (f" ({'; '.join(notes)})" if notes else ""))
    src = SourceInfo("device", str(index), audio is not None, video is not None, None, notes)
    events: queue.Queue = queue.Queue(maxsize=256)
    stop = threading.Event()
    t0 = time.monotonic()

    def read_video():
        from avemotion.data.media import upright_rgb

        stream = video.streams.video[0]
        for frame in video.decode(stream):
            if stop.is_set():
                break
            rgb = upright_rgb(frame, stream)
            events.put(("frame", time.monotonic() - t0, _scaled(rgb, LIVE_MAX_HEIGHT) if rgb.shape[0] > LIVE_MAX_HEIGHT else rgb))

    def read_audio():
        clock = _AudioClock(model.sample_rate, None, lambda first, start: 0.0)
        for frame in audio.decode(audio.streams.audio[0]):
            if stop.is_set():
                break
            chunk = clock.add(frame)
            if chunk is not None and len(chunk):
                events.put(("audio", chunk))

    def iterate():
        threads = [threading.Thread(target=f, daemon=True) for f, c in ((read_video, video), (read_audio, audio)) if c is not None]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads) or not events.empty():
                try:
                    yield events.get(timeout=0.5)
                except queue.Empty:
                    continue
            yield ("end", None)
        finally:
            stop.set()
            for c in (video, audio):
                if c is not None:
                    c.close()

    return src, iterate()


# --- offline reference ------------------------------------------------------------------------------


def offline_windows(recognizer, path: str | Path, window: float = 3.0, hop: float = 1.0) -> list[WindowResult]:
    """The windows of a whole file predicted without streaming, for comparison (tests, bench):
    a run's `Recognizer.predict` timeline, or, for the voice model (which gives one answer per
    file), each window of the file's voice predicted on its own."""
    from avemotion.inference.results import Timeline
    from avemotion.inference.voice import VoiceRecognizer

    if isinstance(recognizer, VoiceRecognizer):
        from avemotion.data.media import probe
        from avemotion.data.voice import decode_voice

        model = VoiceWindows(recognizer)
        wave = decode_voice(path, recognizer.cfg)
        sr = recognizer.cfg.sample_rate
        out = []
        for start, end in plan_windows(probe(path).duration, window, hop):  # the stated length, as open_source
            try:
                p = model.predict_window(wave[round(start * sr):round(end * sr)], [], start, end)
                out.append(WindowResult(start, end, p))
            except InputError as err:
                out.append(WindowResult(start, end, None, err.code, err.detail))
        return out
    result = recognizer.predict(path)
    if not isinstance(result, Timeline):
        return [WindowResult(result.start, result.end, result)]
    return [WindowResult(p.start, p.end, p) for p in result.windows]
