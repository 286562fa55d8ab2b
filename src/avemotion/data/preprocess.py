"""The one preprocessing path shared by `prepare`, training and prediction (SPEC 2).

Video: frames at start + i * (end - start) / T, a face box per frame (landmarks, else the Haar
detector), crop (fixed or legacy) to uint8 RGB S x S. Audio: the clip's own track, mono 44.1 kHz,
`audio_offset` s skipped, `audio_duration` s kept, 13 MFCCs padded/cropped to `mfcc_frames`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemotion.config import PreprocessConfig
from avemotion.errors import InputError

# Files shorter than this are refused even with short_clip="pad": too little audio to mean anything.
MIN_PAD_DURATION = 1.0
# The speech window (audio_window="speech"): the energy-based activity detector of data.voice (25 ms
# frames every 10 ms). Frames are speech when their RMS level is within SPEECH_TOP_DB of the clip's
# loudest frame (relative, as librosa.effects.trim; 40 dB rather than its 60 leaves out breath and room
# noise of a quiet studio) and above SPEECH_FLOOR_DB dBFS (absolute: a clip of near-silence holds no
# speech). Only leading and trailing silence is trimmed; pauses inside the speech stay.
SPEECH_TOP_DB = 40.0
SPEECH_FLOOR_DB = -60.0
# Less speech than this is refused by prepare (a clip, not a window of a longer recording).
MIN_SPEECH = 0.5
# A stream that ends more than max(slack, fraction * stated duration) before the duration the
# container states was cut short (intact files differ by a frame or two).
TRUNCATION_SLACK = 0.5
TRUNCATION_FRACTION = 0.15
# Streams whose first timestamps differ by at most this are taken to start together (encoder
# priming, FLV's 27 ms video start); a larger offset is applied so that audio and video line up.
SYNC_TOLERANCE = 0.05
# Sampled frames without a face of their own stay whole in memory until their window's box is known,
# up to this many bytes; the others are decoded a second time (long videos where the face is often lost).
FACELESS_BUDGET = 256 * 2**20
# Frames sampled from this many seconds into a file on are reached by seeking (to the keyframe
# before them) instead of decoding from the start: a clip cut from a long recording decodes its span.
SEEK_AFTER = 1.0
SEEK_MARGIN = 0.5  # seconds before the first wanted time that the seek aims at
# A segment may end this far past the file's stated duration (the last frame's display time).
SEGMENT_SLACK = 0.1
# Container signatures: a file that starts like a media container but fails to open is "corrupt";
# anything else (text, random bytes) is "not_video". ISO BMFF / QuickTime (mp4, mov, m4a, 3gp) is
# recognised by its first box type at bytes 4-8, the others by their first bytes.
MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"uuid")
MEDIA_SIGNATURES = (
    b"FLV", b"\x1a\x45\xdf\xa3",  # Matroska / WebM (EBML)
    b"RIFF", b"OggS", b"ID3", b"fLaC", b"FORM", b"caff", b"#!AMR",  # avi/wav, ogg, mp3 tag, flac, aiff, caf, amr
    b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3",  # MPEG program stream, MPEG video
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF / WMV
    b"GIF8", b"\x89PNG", b"\xff\xd8\xff",  # images (refused below as not_video when they open)
)
# Demuxers of still or animated images: a picture, not a video with a voice.
IMAGE_DEMUXERS = ("image2", "image2pipe", "gif", "apng", "webp")
IMAGE_CODECS = {"mjpeg": "jpeg"}  # how an image's codec is named to the user


def looks_like_media(head: bytes) -> bool:
    """Whether the first bytes of a file carry a media container or stream signature."""
    if len(head) >= 8 and head[4:8] in MP4_BOXES:
        return True
    if head.startswith(MEDIA_SIGNATURES):
        return True
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG audio / ADTS AAC frame sync
        return True
    return len(head) > 188 and head[0] == head[188] == 0x47  # MPEG transport stream packets


@dataclass
class MediaInfo:
    duration: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0


@dataclass
class ClipArrays:
    video: np.ndarray | None  # uint8 (T, S, S, 3) RGB
    mfcc: np.ndarray | None  # float32 (n_mfcc, mfcc_frames)
    boxes: np.ndarray | None  # float32 (T, 4) x0, y0, x1, y1 in upright source pixels (before margin)
    start: float
    end: float
    face_source: str  # "landmarks" / "detector" / "none" (audio only)
    padded: bool = False  # the audio window was zero-padded (short_clip="pad", a clip shorter than it)


def _open(path: Path):
    """The open container; InputError unreadable / corrupt (looks like media, does not open) /
    not_video (anything else, or an image)."""
    import av

    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except FileNotFoundError:
        raise InputError(path, "unreadable", "file not found") from None
    except OSError as err:  # permission, a directory, an I/O error
        raise InputError(path, "unreadable", f"cannot read file ({err.strerror or err})") from None
    if not head:
        raise InputError(path, "corrupt", "empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        if looks_like_media(head):
            raise InputError(path, "corrupt", f"cannot open container, truncated or damaged ({err.strerror or err})") from None
        raise InputError(path, "not_video", "not a media file (unrecognised content)") from None
    names = container.format.name.split(",")
    if any(n in IMAGE_DEMUXERS or n.endswith("_pipe") for n in names):
        kind = container.streams.video[0].codec_context.name if container.streams.video else names[0]
        container.close()
        raise InputError(path, "not_video", f"an image ({IMAGE_CODECS.get(kind, kind)}), not a video")
    return container


def _seconds(value, time_base) -> float | None:
    return float(value * time_base) if value is not None and time_base else None


def _start(stream) -> float:
    """The stream's first timestamp in seconds (0 when not stated)."""
    return _seconds(stream.start_time, stream.time_base) or 0.0


def _hms(text: str | None) -> float | None:
    """'00:00:04.471000000' (Matroska's per-track DURATION tag) in seconds."""
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d*)?)", (text or "").strip())
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3]) if match else None


# Raw elementary audio streams (ADTS AAC, MP3 without a header stating it, AC-3) carry no duration:
# FFmpeg estimates one from the first bitrate, often seconds off; their packets are counted instead.
RAW_AUDIO_FORMATS = ("aac", "mp3", "ac3", "eac3", "dts")


def packet_span(path: str, index: int) -> float:
    """Seconds covered by the packets of stream `index` (demuxed, not decoded: fast)."""
    import av

    end = first = None
    with av.open(path) as c:
        stream = c.streams[index]
        for packet in c.demux(stream):
            if packet.pts is None:
                continue
            first = packet.pts if first is None else min(first, packet.pts)
            end = max(end or 0, packet.pts + (packet.duration or 0))
    return float((end - first) * stream.time_base) if end is not None else 0.0


def stated_span(container, stream) -> float:
    """Seconds from the stream's first timestamp to its end, as the container states them (0 if unknown).

    The stream's own duration where the container has one (mp4, mov); else its end from Matroska's
    DURATION tag or the container's duration, minus the stream's start: Matroska states ends as
    timestamps (a file starting at 1.5 s and lasting 4.5 s says 6.0 s), other containers state a
    duration from the earliest stream. A start within SYNC_TOLERANCE of the container's counts as it."""
    if container.format.name in RAW_AUDIO_FORMATS and stream.type == "audio":
        return packet_span(container.name, stream.index)  # its stated duration is a bitrate guess
    duration = _seconds(stream.duration, stream.time_base)
    if duration:
        return duration
    matroska = "matroska" in container.format.name
    first = _seconds(container.start_time, 1e-6) or 0.0
    start = _start(stream)
    if start - first <= SYNC_TOLERANCE:
        start = first
    tags = {k.lower(): v for k, v in stream.metadata.items()}
    end = _hms(tags.get("duration")) if matroska else None
    if end is None and container.duration:
        end = container.duration / 1_000_000 + (0.0 if matroska else first)
    return max(0.0, end - start) if end else 0.0


def _duration(container) -> float:
    """The clip's duration: its video stream's (its audio's for an audio-only file)."""
    streams = container.streams.video or container.streams.audio
    if streams:
        return stated_span(container, streams[0])
    return container.duration / 1_000_000 if container.duration else 0.0


def probe(path: str | Path) -> MediaInfo:
    """Container facts without decoding; InputError(unreadable/corrupt/not_video) when it cannot open.
    Width and height are the stored frame's (a phone video's rotation is applied when decoding)."""
    path = Path(path)
    with _open(path) as c:
        vs = c.streams.video[0] if c.streams.video else None
        return MediaInfo(
            duration=_duration(c), has_video=vs is not None, has_audio=bool(c.streams.audio),
            width=vs.codec_context.width if vs else 0, height=vs.codec_context.height if vs else 0,
            fps=float(vs.average_rate) if vs is not None and vs.average_rate else 0.0,
        )


def video_geometry(path: Path) -> tuple[int, int, int]:
    """(width, height) of the upright frame (as landmarks measure it) and the frame count: the
    container's, else estimated from the duration and frame rate. Decodes the first frame only."""
    import av

    with _open(path) as c:
        if not c.streams.video:
            raise InputError(path, "not_video", "no video stream")
        stream = c.streams.video[0]
        try:
            frame = next(c.decode(stream))
        except (StopIteration, av.error.FFmpegError) as err:
            raise InputError(path, "corrupt", f"video does not decode ({err or 'no frame'})") from None
        height, width = upright_rgb(frame, stream).shape[:2]
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        frames = stream.frames or round(_duration(c) * rate)
    return width, height, int(frames)


def rotation(frame, stream) -> int:
    """Counter-clockwise quarter turns that show a decoded frame upright: from its display matrix
    (phones store portrait video as landscape frames plus a rotation), else from a `rotate` tag
    (clockwise degrees, as old muxers and Matroska tags write it)."""
    degrees = getattr(frame, "rotation", 0) or 0
    if not degrees:
        tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), None)
        try:
            degrees = -float(tag) if tag else 0
        except ValueError:
            degrees = 0
    return round(degrees / 90) % 4


def upright_rgb(frame, stream) -> np.ndarray:
    """A decoded frame as upright RGB uint8 (H, W, 3), as a player shows it."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = rotation(frame, stream)
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def sample_times(start: float, end: float, n: int) -> np.ndarray:
    return start + np.arange(n) * (end - start) / n


def _shown(frame, stream) -> float:
    """How long a decoded video frame is shown (its duration, else one frame at the average rate)."""
    if frame.duration:
        return float(frame.duration * stream.time_base)
    return 1 / float(stream.average_rate) if stream.average_rate else 0.0


def check_complete(path: Path, kind: str, reached: float, stated: float) -> None:
    """corrupt when a stream ends well before the duration the container states.

    A truncated FLV or MKV still decodes up to the cut; intact files end within a frame or two of
    the stated duration (CREMA-D: audio 2.27 s of 2.235 s, video 2.23 s), hence the slack."""
    if stated > 0 and stated - reached > max(TRUNCATION_SLACK, TRUNCATION_FRACTION * stated):
        raise InputError(path, "corrupt", f"truncated: {kind} stream ends at {reached:.1f} s of {stated:.1f} s")


def stream_frames(path: Path, times: np.ndarray, stats: dict | None = None,
                  seek: bool = False) -> Iterator[tuple[int, np.ndarray, list[int]]]:
    """(frame index, upright RGB frame, positions in `times`) for each decoded frame shown at some of
    `times` (the last frame with pts <= t, t in seconds from the first frame), in decode order.

    One sequential decode that stops after the last time; only yielded frames are converted to RGB
    (and turned upright when the file says it is rotated) and none is kept here, so the caller
    decides what stays in memory. Timestamps, not frame counts, place the frames, so variable frame
    rates and streams that do not start at 0 are sampled at the right times. A stream that fails to
    decode or ends well short of its stated duration before the last time is `corrupt` (not padded
    with its last frame).

    `seek` (segments of a long recording): times from SEEK_AFTER seconds on are reached by a seek to
    the keyframe before the first of them, so a segment decodes its span, not the file up to it;
    frame indices then come from the timestamps (pts x frame rate), as a decode from the start of a
    constant-rate file counts them.
    `stats["decoded"]` (when given) counts the frames decoded."""
    import av

    order = np.argsort(times, kind="stable")
    k, prev, prev_i, reached = 0, None, -1, 0.0
    with _open(path) as c:
        if not c.streams.video:
            raise InputError(path, "not_video", "no video stream")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        t0 = _start(stream)
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        seek = seek and bool(len(times)) and float(times.min()) > SEEK_AFTER and rate > 0 and bool(stream.time_base)
        if seek:
            c.seek(int((t0 + float(times.min()) - SEEK_MARGIN) / stream.time_base), stream=stream, backward=True)
        try:
            for n, frame in enumerate(c.decode(stream)):
                if stats is not None:
                    stats["decoded"] = stats.get("decoded", 0) + 1
                ft = float(frame.pts * stream.time_base) - t0 if frame.pts is not None else n / 30
                i = round(ft * rate) if seek and frame.pts is not None else n
                taken = []
                while k < len(order) and ft > times[order[k]] + 1e-6 and prev is not None:
                    taken.append(int(order[k]))
                    k += 1
                if taken:
                    yield prev_i, upright_rgb(prev, stream), taken
                if k == len(order):
                    return
                prev, prev_i, reached = frame, i, ft + _shown(frame, stream)
        except av.error.FFmpegError as err:
            if prev is None:
                raise InputError(path, "corrupt", f"video does not decode ({err})") from None
            raise InputError(path, "corrupt", f"truncated or damaged: video does not decode past {reached:.1f} s ({err})") from None
        if prev is None:
            raise InputError(path, "corrupt", "no decodable video frame")
        check_complete(path, "video", reached, _duration(c))
        yield prev_i, upright_rgb(prev, stream), [int(j) for j in order[k:]]


class _Samples:
    """A growing float32 buffer: the decoded track is held once (not as chunks plus their
    concatenation), sized from the stated duration so that it rarely has to grow."""

    def __init__(self, expected: int, lead: int = 0):
        self.data = np.zeros(max(expected + lead, lead, 1 << 16), np.float32)
        self.size = lead  # `lead` zeros: audio that starts after the video

    def add(self, chunk: np.ndarray) -> None:
        end = self.size + len(chunk)
        if end > len(self.data):
            grown = np.empty(max(end, 2 * len(self.data)), np.float32)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = chunk
        self.size = end

    def array(self) -> np.ndarray:
        # within 1 % of the stated length the view is kept; a copy only when the estimate was far off
        view = self.data[: self.size]
        return view if len(self.data) - self.size < 0.01 * len(self.data) + (1 << 16) else view.copy()


def audio_lead(first_audio: float, video_start: float | None) -> float:
    """Seconds the audio track starts after the first video frame (negative: before it); 0 within
    SYNC_TOLERANCE, and for an audio-only file."""
    if video_start is None:
        return 0.0
    offset = first_audio - video_start
    return offset if abs(offset) > SYNC_TOLERANCE else 0.0


def decode_audio(path: Path, sample_rate: int) -> np.ndarray:
    """The clip's own audio track as mono float32 at `sample_rate`, on the clip's clock: sample 0 is
    the time of the first video frame (audio that starts later is preceded by zeros, audio that starts
    earlier loses what comes before), so windows in seconds line up with the frames. Any channel
    layout, rate and sample format is resampled and mixed down to the mean of its channels (as
    librosa.to_mono, which the published pipeline used). A truncated or damaged track is corrupt.

    Memory: the track once at `sample_rate` (635 MB per hour at 44.1 kHz)."""
    import av

    with _open(path) as c:
        if not c.streams.audio:
            raise InputError(path, "no_audio", "no audio stream")
        stream = c.streams.audio[0]
        video_start = _start(c.streams.video[0]) if c.streams.video else None
        stated = stated_span(c, stream)
        samples, skip, decoded = None, 0, 0
        try:
            for first, out in _resampled(c, stream, sample_rate):
                if samples is None:  # the first frame places the track on the clip's clock
                    lead = audio_lead(first if first is not None else _start(stream), video_start)
                    samples = _Samples(round(stated * sample_rate * 1.01), max(0, round(lead * sample_rate)))
                    skip = max(0, round(-lead * sample_rate))
                skip, decoded = _keep(samples, out, skip, decoded)
        except av.error.FFmpegError as err:
            if not decoded:
                raise InputError(path, "corrupt", f"audio does not decode ({err})") from None
            raise InputError(path, "corrupt", f"truncated or damaged: audio does not decode past {decoded / sample_rate:.1f} s ({err})") from None
        if not decoded:
            raise InputError(path, "no_audio", "audio stream holds no samples")
        check_complete(path, "audio", decoded / sample_rate, stated)
    return check_finite(path, samples.array())


def check_finite(path: str | Path, wave: np.ndarray) -> np.ndarray:
    """The one gate of audio samples into avemotion: a track holding NaN or infinite samples (a
    float WAV can) is a corrupt input like any other, refused before it reaches a feature."""
    if not np.isfinite(wave).all():
        bad = int((~np.isfinite(wave)).sum())
        raise InputError(path, "corrupt", f"{bad} audio samples are NaN or infinite")
    return wave.astype(np.float32, copy=False)


def _resampled(c, stream, sample_rate: int):
    """(time of the stream's first decoded frame or None, resampled frame) for the whole stream, the
    one decode loop of decode_audio and decode_audio_span. A stream may change rate or layout
    midway: the resampler is flushed and started over. Channels are kept through the resampler and
    averaged in _keep: FFmpeg's own downmix weights stereo by 1/sqrt(2) (3 dB louder than the mono
    files of the corpus)."""
    import av

    resampler, layout, first, started = None, None, None, False
    for frame in c.decode(stream):
        if not started:
            first, started = frame.time, True
        setup = (frame.format.name, frame.layout.name, frame.sample_rate)
        if setup != layout:
            for out in resampler.resample(None) if resampler else ():
                yield first, out
            resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=sample_rate)
            layout = setup
        for out in resampler.resample(frame):
            yield first, out
    for out in resampler.resample(None) if resampler else ():
        yield first, out


def _keep(samples: _Samples, frame, skip: int, decoded: int) -> tuple[int, int]:
    """Append a resampled frame, dropping the first `skip` samples of the track; returns the
    samples still to skip and the count decoded so far (skipped ones included)."""
    chunk = frame.to_ndarray().mean(axis=0, dtype=np.float32)  # (channels, n) planar -> mono, as librosa.to_mono
    decoded += len(chunk)
    if skip:
        dropped = min(skip, len(chunk))
        chunk, skip = chunk[dropped:], skip - dropped
    samples.add(chunk)
    return skip, decoded


def audio_window(path: Path, audio: np.ndarray, start: float, cfg: PreprocessConfig, end: float | None = None,
                 *, strict: bool = True) -> np.ndarray:
    """The samples the MFCCs are computed from (window_audio without the padded flag)."""
    return window_audio(path, audio, start, cfg, end, strict=strict)[0]


def window_audio(path: Path, audio: np.ndarray, start: float, cfg: PreprocessConfig, end: float | None = None,
                 *, strict: bool = True) -> tuple[np.ndarray, bool]:
    """(audio_samples samples, whether they were zero-padded) of the window [start, end] (end None:
    the end of the track). "paper": `audio_duration` s from `start + audio_offset`, zero-padded only
    when cfg.short_clip == "pad". "speech": speech_window over the window's own audio; `strict`
    refuses a window with less than MIN_SPEECH s of speech (a clip), otherwise such a window (a quiet
    stretch of a long recording) is taken as it is."""
    sr = cfg.sample_rate
    if cfg.audio_window == "speech":
        stop = None if end is None else round(end * sr)
        return speech_window(path, audio[round(start * sr):stop], cfg, strict=strict)
    first = round((start + cfg.audio_offset) * sr)
    need = cfg.audio_samples
    piece = audio[first:first + need]
    if len(piece) < need:
        have = len(audio) / sr
        if cfg.short_clip != "pad" or have < MIN_PAD_DURATION:
            raise InputError(path, "too_short", f"audio is {have:.2f} s, " + short_rule(cfg, start + cfg.min_duration))
        piece = np.pad(piece, (0, need - len(piece)))
        return piece, True
    return piece, False


def speech_span(audio: np.ndarray, sample_rate: int) -> tuple[int, int]:
    """[first, last) sample of the speech in `audio`, leading and trailing silence trimmed by the
    project's one activity detector (data.voice.loud_span, with the SPEECH_* rule above); (0, 0) when
    no frame is loud enough."""
    from avemotion.data.voice import loud_span

    return loud_span(audio, sample_rate, SPEECH_TOP_DB, SPEECH_FLOOR_DB) or (0, 0)


def speech_window(path: Path, audio: np.ndarray, cfg: PreprocessConfig, *, strict: bool = True) -> tuple[np.ndarray, bool]:
    """`audio_duration` s centred on the speech of `audio`: the middle of the speech when it is
    longer, else the whole speech zero-padded on both sides (padded True). Speech is found by
    speech_span; with less than MIN_SPEECH s of it, InputError too_short when `strict`, else the
    window's own audio stands for it."""
    sr, need = cfg.sample_rate, cfg.audio_samples
    first, last = speech_span(audio, sr)
    if last - first < MIN_SPEECH * sr:
        if strict or len(audio) < MIN_SPEECH * sr:
            raise InputError(path, "too_short", f"{(last - first) / sr:.2f} s of speech found in {len(audio) / sr:.2f} s "
                                                f"of audio, under the {MIN_SPEECH:.2f} s the speech window needs")
        first, last = 0, len(audio)
    if last - first >= need:
        begin = (first + last - need) // 2
        return audio[begin:begin + need], False
    before = (need - (last - first)) // 2  # symmetric padding, the odd sample after
    return np.pad(audio[first:last], (before, need - (last - first) - before)), True


def shortest_clip(cfg: PreprocessConfig) -> float:
    """Seconds below which a clip is refused before it is decoded."""
    if cfg.audio_window == "speech":
        return MIN_SPEECH
    return cfg.min_duration if cfg.short_clip == "error" else MIN_PAD_DURATION


def short_rule(cfg: PreprocessConfig, needed: float) -> str:
    """The rule a too-short clip broke, as the end of its message."""
    if cfg.audio_window == "speech":
        return f"under the {MIN_SPEECH:.2f} s of speech the speech window needs"
    if cfg.short_clip == "pad":
        return f"under the {MIN_PAD_DURATION:.2f} s that --pad-short needs to zero-pad a clip to {needed:.2f} s"
    return f"the window needs {needed:.2f} s (use --pad-short to zero-pad clips of at least {MIN_PAD_DURATION:.2f} s)"


@functools.lru_cache(maxsize=4)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)  # librosa's defaults (Slaney)


def compute_mfcc(samples: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """librosa MFCC with the SPEC parameters (Hann, centred, power dB), padded/cropped to mfcc_frames.
    The centred STFT pads with cfg.stft_pad ("reflect" gives the published librosa 0.8 features)."""
    import librosa

    # librosa.feature.mfcc(y=...) step by step, with one change: the mel projection is a matrix
    # product. librosa's np.einsum(optimize=True) takes 98 ms per clip under numpy 2.4 against
    # 0.3 ms for the same float32 product (bench/bench_cache.py); it was most of `prepare`'s time.
    # tests/data/test_preprocess.py checks the result against librosa.feature.mfcc(y=...).
    spec = np.abs(librosa.stft(samples.astype(np.float32), n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                               window="hann", center=True, pad_mode=cfg.stft_pad)) ** 2
    mel = _mel_basis(cfg.sample_rate, cfg.n_fft, cfg.n_mels) @ spec
    m = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=cfg.n_mfcc)
    if m.shape[1] < cfg.mfcc_frames:
        m = np.pad(m, ((0, 0), (0, cfg.mfcc_frames - m.shape[1])))
    return np.ascontiguousarray(m[:, :cfg.mfcc_frames], dtype=np.float32)


def preprocess_windows(path: str | Path, cfg: PreprocessConfig, windows: list[tuple[float, float]],
                       landmarks: str | Path | None = None, *, video_frames_only: bool = False,
                       audio_only: bool = False) -> list[ClipArrays | InputError]:
    """Decode `path` once; each window gets exactly the training treatment, as if processed alone.

    Windows are in seconds from the first video frame. File-level problems (unreadable, corrupt or
    truncated, no video/audio, bad landmarks, no face in any window) raise InputError; window-level
    ones come back in the list: a window too short for the audio (`too_short`), a window none of
    whose sampled frames shows a face (`no_face`). `video_frames_only` skips the audio (MFCC None);
    `audio_only` skips the video.
    """
    path = Path(path)
    _open(path).close()  # classify unreadable / corrupt / not a media file first
    return _windows(path, cfg, windows, landmarks, video_frames_only, audio_only, strict=False)


def _windows(path: Path, cfg: PreprocessConfig, windows, landmarks, video_frames_only: bool = False,
             audio_only: bool = False, *, strict: bool = True) -> list[ClipArrays | InputError]:
    """preprocess_windows on a file already opened once (classified); `strict`: window_audio's."""
    if not windows:
        return []
    videos, boxes, source = [None] * len(windows), [None] * len(windows), "none"
    if not audio_only:
        videos, boxes, source = window_videos(path, cfg, windows, landmarks)
    audio = None if video_frames_only else decode_audio(path, cfg.sample_rate)
    per_window: list = []
    for video, box, (start, end) in zip(videos, boxes, windows):
        if isinstance(video, InputError):
            per_window.append(video)
            continue
        mfcc, padded = None, False
        try:
            if audio is not None:
                piece, padded = window_audio(path, audio, start, cfg, end, strict=strict)
                mfcc = compute_mfcc(piece, cfg)
        except InputError as err:
            per_window.append(err)
            continue
        per_window.append(ClipArrays(video, mfcc, box, float(start), float(end), source, padded=padded))
    return per_window


def window_videos(path: Path, cfg: PreprocessConfig, windows, landmarks, *, seek: bool = False,
                  face: str | None = None) -> tuple[list, list, str]:
    """Face crops (T, S, S, 3) and boxes (T, 4) per window (an InputError `no_face` for a window
    where no sampled frame shows a face), and the face source.

    Each window follows one face through its own frames (faces.follow_face: of two people, the
    larger one found more often, never alternating); a frame where it was not found takes the
    nearest box of its window. `face` ("left" / "right"): of the faces the detector finds, only
    those whose centre lies in that half of the frame are candidates (a recording that shows two
    people on fixed sides, IEMOCAP); `seek`: a segment of a long recording (stream_frames)."""
    from avemotion.data import faces

    points = None if landmarks is None else faces.usable_landmarks(landmarks, *video_geometry(path))
    n = cfg.num_frames
    times = np.concatenate([sample_times(s, e, n) for s, e in windows])
    # the positions of each window searched for faces (the dlib detectors: every other sampled frame,
    # faces.DETECT_STRIDE); a window only looks at its own positions, as if processed alone
    search = np.tile(faces.searched(cfg, points), len(windows))
    index, candidates, crops, kept = sample_faces(path, cfg, times, points, seek=seek, face=face, search=search)
    smooth = faces.smooths(cfg, points)  # detector boxes are smoothed over each window, then cropped
    plans = []
    for w, (start, end) in enumerate(windows):
        frame_ids = [int(i) for i in index[w * n:(w + 1) * n]]
        looked = search[w * n:(w + 1) * n]
        chosen = faces.follow_face([candidates[i] if s else faces.NO_FACE for i, s in zip(frame_ids, looked)])
        if all(k is None for k in chosen):
            plans.append(InputError(path, "no_face", f"no face found in the window {start:.1f}-{end:.1f} s"))
            continue
        own = [None if k is None else candidates[i][k] for i, k in zip(frame_ids, chosen)]
        box = faces.fill_boxes(faces.smooth_boxes(own) if smooth else own)
        plans.append((frame_ids, chosen, box))
    if all(isinstance(p, InputError) for p in plans):
        raise InputError(path, "no_face", f"no face found in any of the {len(times)} sampled frames")
    # frames without the followed face are cropped with their window's box: from the frame kept in
    # memory, or from a second decode of just those frames when they did not fit in FACELESS_BUDGET
    wanted = {(i, tuple(b)) for p in plans if not isinstance(p, InputError)
              for i, k, b in zip(p[0], p[1], p[2]) if k is None or smooth}
    extra = {(i, b): faces.crop_frame(kept[i], np.array(b), cfg) for i, b in wanted if i in kept}
    kept.clear()
    again = sorted({i for i, b in wanted if (i, b) not in extra})
    if again:
        by_frame: dict[int, list] = {}
        for i, b in wanted:
            by_frame.setdefault(i, []).append(b)
        for i, rgb, _ in stream_frames(path, times[np.isin(index, again)], seek=seek):
            extra.update({(i, b): faces.crop_frame(rgb, np.array(b), cfg) for b in by_frame.get(i, ())})
    videos, boxes = [], []
    for plan in plans:
        if isinstance(plan, InputError):
            videos.append(plan)
            boxes.append(None)
            continue
        frame_ids, chosen, box = plan
        crop = [crops[i][k] if k is not None and not smooth else extra[(i, tuple(b))] for i, k, b in zip(frame_ids, chosen, box)]
        videos.append(np.ascontiguousarray(np.stack(crop), dtype=np.uint8))
        boxes.append(box)
    return videos, boxes, "landmarks" if points is not None else "detector"


def sample_faces(path: Path, cfg: PreprocessConfig, times: np.ndarray, points, *, seek: bool = False,
                 face: str | None = None, search: np.ndarray | None = None) -> tuple[np.ndarray, dict, dict, dict]:
    """One decode pass over `times`: (source frame index per time, and by source frame index: its
    candidate face boxes (n, 4), largest first, their crops, and the full upright frame when it has
    no box or several, or always when boxes are smoothed (faces.smooths: crops are made after), while
    those fit in FACELESS_BUDGET).

    Each distinct source frame gets one landmark box or one Haar run and each candidate is cropped
    once, so memory holds S x S crops of the distinct sampled frames, not the video. `search` (one
    flag per time): a frame none of whose times is flagged is not given to the detector."""
    from avemotion.data import faces

    good = None if points is None else faces.good_rows(points)
    smooth = faces.smooths(cfg, points)  # crops wait for the smoothed boxes: frames are kept instead
    index = np.zeros(len(times), int)
    candidates, crops, kept = {}, {}, {}
    budget = FACELESS_BUDGET
    for i, rgb, positions in stream_frames(path, times, seek=seek):
        index[positions] = i
        if points is not None:
            found = faces.landmark_box(points, good, i)[None]
        elif search is None or search[positions].any():
            found = faces.detect_faces(rgb, cfg.detector)
        else:
            found = faces.NO_FACE
        if face is not None and points is None:
            found = on_side(found, rgb.shape[1], face)
        candidates[i] = found
        crops[i] = [] if smooth else [faces.crop_frame(rgb, box, cfg) for box in found]
        if (len(found) != 1 or smooth) and rgb.nbytes <= budget:  # the followed face may be missing here
            kept[i] = rgb
            budget -= rgb.nbytes
    return index, candidates, crops, kept


def on_side(boxes: np.ndarray, width: int, side: str) -> np.ndarray:
    """The boxes (n, 4) whose centre lies in the `side` ("left" / "right") half of a frame."""
    if side not in ("left", "right"):
        raise ValueError(f"face side must be 'left' or 'right', got {side!r}")
    centre = (boxes[:, 0] + boxes[:, 2]) / 2
    return boxes[centre < width / 2] if side == "left" else boxes[centre >= width / 2]


def preprocess_clip(path: str | Path, cfg: PreprocessConfig, landmarks: str | Path | None = None) -> ClipArrays:
    """The whole clip as in training: frames over [0, D], audio from audio_offset. With
    cfg.modalities == ("audio",) (an audio-only corpus) no video is decoded, and the file may be any
    audio file (or a video, whose audio track is used)."""
    path = Path(path)
    info = probe(path)
    video = "video" in cfg.modalities
    if video and not info.has_video:
        raise InputError(path, "not_video", "no video stream (audio-only file?)")
    if not info.has_audio:
        raise InputError(path, "no_audio", "no audio stream")
    if info.duration < shortest_clip(cfg):
        raise InputError(path, "too_short", f"clip is {info.duration:.2f} s, " + short_rule(cfg, cfg.min_duration))
    # probe has classified the file
    result = _windows(path, cfg, [(0.0, info.duration)], landmarks, audio_only=not video)[0]
    if isinstance(result, InputError):
        raise result
    if cfg.audio_window == "paper":
        result.padded = info.duration < cfg.min_duration
    return result


def decode_audio_span(path: Path, sample_rate: int, start: float, end: float) -> np.ndarray:
    """The audio of [start, end] (seconds on the clip's clock, as decode_audio places the track) as
    mono float32 at `sample_rate`, reached by a seek (not decoded from the start of the file); what
    the file lacks of the span is simply not there (shorter array)."""
    import av

    with _open(path) as c:
        if not c.streams.audio:
            raise InputError(path, "no_audio", "no audio stream")
        stream = c.streams.audio[0]
        video_start = _start(c.streams.video[0]) if c.streams.video else None
        track = _start(stream)
        # the clip clock: time 0 is the first video frame, with decode_audio's sync tolerance
        zero = track - audio_lead(track, video_start)
        want, need = zero + start, round((end - start) * sample_rate)
        if want - SEEK_MARGIN > track + SEEK_AFTER and stream.time_base:
            c.seek(int((want - SEEK_MARGIN) / stream.time_base), stream=stream, backward=True)
        samples, skip, decoded = None, 0, 0
        try:
            for first, out in _resampled(c, stream, sample_rate):
                if samples is None:
                    first = first if first is not None else track
                    samples = _Samples(need, max(0, round((first - want) * sample_rate)))
                    skip = max(0, round((want - first) * sample_rate))
                skip, decoded = _keep(samples, out, skip, decoded)
                if samples.size >= need:
                    break
        except av.error.FFmpegError as err:
            raise InputError(path, "corrupt", f"audio does not decode in {start:.2f}-{end:.2f} s ({err})") from None
        if samples is None or not decoded:
            raise InputError(path, "no_audio", f"no audio samples in {start:.2f}-{end:.2f} s")
    return check_finite(path, samples.data[: min(samples.size, need)].copy())


def preprocess_segment(path: str | Path, cfg: PreprocessConfig, start: float, end: float,
                       landmarks: str | Path | None = None, *, audio_path: str | Path | None = None,
                       face: str | None = None) -> ClipArrays:
    """A clip that is the span [start, end] seconds of a longer recording, as in training: 30 frames
    evenly over the span, reached by seeking; the audio window from the span's start (audio_offset
    in), cut at the span's end, so a span shorter than the window is `too_short` or, with
    short_clip="pad", zero-padded (`padded`). `audio_path`: the clip's audio is a file of its own
    (IEMOCAP's utterance wavs), read whole. `face`: "left"/"right" half of the frame (window_videos).
    A span that ends past the end of the file is `bad_row` (its annotation does not fit the file)."""
    path = Path(path)
    video = "video" in cfg.modalities
    info = probe(path)
    if video and not info.has_video:
        raise InputError(path, "not_video", "no video stream (audio-only file?)")
    if end > info.duration + SEGMENT_SLACK:
        raise InputError(path, "bad_row", f"segment {start:.2f}-{end:.2f} s ends past the end of the file "
                                          f"({info.duration:.2f} s)")
    source = Path(audio_path) if audio_path is not None else path
    if audio_path is not None:
        audio_info = probe(source)
        if not audio_info.has_audio:
            raise InputError(source, "no_audio", "no audio stream")
        length = audio_info.duration
    else:
        if not info.has_audio:
            raise InputError(path, "no_audio", "no audio stream")
        length = end - start
    if length < shortest_clip(cfg):
        raise InputError(source, "too_short", f"segment {start:.2f}-{end:.2f} s is {length:.2f} s, "
                                              + short_rule(cfg, cfg.min_duration))
    frames, boxes, face_source = None, None, "none"
    if video:
        videos, box_list, face_source = window_videos(path, cfg, [(start, end)], landmarks, seek=True, face=face)
        if isinstance(videos[0], InputError):
            raise videos[0]
        frames, boxes = videos[0], box_list[0]
    if audio_path is not None:
        audio = decode_audio(source, cfg.sample_rate)
    else:
        audio = decode_audio_span(path, cfg.sample_rate, start, end)
    piece, padded = window_audio(source, audio, 0.0, cfg)
    mfcc = compute_mfcc(piece, cfg)
    if cfg.audio_window == "paper":
        padded = len(audio) < round(cfg.min_duration * cfg.sample_rate)
    return ClipArrays(frames, mfcc, boxes, float(start), float(end), face_source, padded=padded)
