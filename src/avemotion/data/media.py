"""Media containers: opening and classifying a file, its facts without decoding (probe), its video
frames decoded at chosen times (stream_frames), upright as a player shows them, and the checks that a
stream is complete.

`data.preprocess` is the entry point; this module is the bottom of the data layer's preprocessing
(preprocess -> face_plan / audio -> media) and imports neither of the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemotion.errors import InputError

# A stream that ends more than max(slack, fraction * stated duration) before the duration the
# container states was cut short (intact files differ by a frame or two).
TRUNCATION_SLACK = 0.5
TRUNCATION_FRACTION = 0.15
# Streams whose first timestamps differ by at most this are taken to start together (encoder
# priming, FLV's 27 ms video start); a larger offset is applied so that audio and video line up.
SYNC_TOLERANCE = 0.05
# Frames sampled from this many seconds into a file on are reached by seeking (to the keyframe
# before them) instead of decoding from the start: a clip cut from a long recording decodes its span.
SEEK_AFTER = 1.0
SEEK_MARGIN = 0.5  # seconds before the first wanted time that the seek aims at
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


def open_media(path: Path):
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


def stream_start(stream) -> float:
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
    start = stream_start(stream)
    if start - first <= SYNC_TOLERANCE:
        start = first
    tags = {k.lower(): v for k, v in stream.metadata.items()}
    end = _hms(tags.get("duration")) if matroska else None
    if end is None and container.duration:
        end = container.duration / 1_000_000 + (0.0 if matroska else first)
    return max(0.0, end - start) if end else 0.0


def clip_duration(container) -> float:
    """The clip's duration: its video stream's (its audio's for an audio-only file)."""
    streams = container.streams.video or container.streams.audio
    if streams:
        return stated_span(container, streams[0])
    return container.duration / 1_000_000 if container.duration else 0.0


def probe(path: str | Path) -> MediaInfo:
    """Container facts without decoding; InputError(unreadable/corrupt/not_video) when it cannot open.
    Width and height are the stored frame's (a phone video's rotation is applied when decoding)."""
    path = Path(path)
    with open_media(path) as c:
        vs = c.streams.video[0] if c.streams.video else None
        return MediaInfo(
            duration=clip_duration(c), has_video=vs is not None, has_audio=bool(c.streams.audio),
            width=vs.codec_context.width if vs else 0, height=vs.codec_context.height if vs else 0,
            fps=float(vs.average_rate) if vs is not None and vs.average_rate else 0.0,
        )


def video_geometry(path: Path) -> tuple[int, int, int]:
    """(width, height) of the upright frame (as landmarks measure it) and the frame count: the
    container's, else estimated from the duration and frame rate. Decodes the first frame only."""
    import av

    with open_media(path) as c:
        if not c.streams.video:
            raise InputError(path, "not_video", "no video stream")
        stream = c.streams.video[0]
        try:
            frame = next(c.decode(stream))
        except (StopIteration, av.error.FFmpegError) as err:
            raise InputError(path, "corrupt", f"video does not decode ({err or 'no frame'})") from None
        height, width = upright_rgb(frame, stream).shape[:2]
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        frames = stream.frames or round(clip_duration(c) * rate)
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
    with open_media(path) as c:
        if not c.streams.video:
            raise InputError(path, "not_video", "no video stream")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        t0 = stream_start(stream)
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
        check_complete(path, "video", reached, clip_duration(c))
        yield prev_i, upright_rgb(prev, stream), [int(j) for j in order[k:]]

