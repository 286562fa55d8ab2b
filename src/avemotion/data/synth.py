"""Synthetic RAVDESS-like corpus: real mp4 files (h264 + AAC) and OpenFace-style landmark CSVs.

Each clip shows a drawn face whose expression and voice depend on the emotion, with per-actor
variation (face shape, skin tone, position, base pitch by gender) and noise, so a model can learn
the classes and be tested on unseen actors. Everything is deterministic from the seed.
The 68 landmarks are the points the face is drawn from, so the landmark crop always holds the face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemotion import EMOTIONS
from avemotion.data.datasets.ravdess import gender_of

FPS = 30
SAMPLE_RATE = 44100

# Per emotion: mouth curve (+ smile), mouth open, brow tilt (+ inner ends up), brow raise, eye open,
# head motion, pitch factor, pitch range, loudness, syllables per second, spectral brightness.
EXPRESSION = {
    "neutral":   dict(curve=0.0,  open=0.10, tilt=0.0,  raise_=0.0,  eye=1.0, head=0.2, pitch=1.00, prange=0.05, loud=0.5, rate=3.5, bright=0.0),
    "calm":      dict(curve=0.15, open=0.05, tilt=0.0,  raise_=-0.05, eye=0.7, head=0.1, pitch=0.95, prange=0.03, loud=0.35, rate=2.8, bright=-0.3),
    "happy":     dict(curve=0.8,  open=0.35, tilt=0.1,  raise_=0.15, eye=0.8, head=0.6, pitch=1.25, prange=0.20, loud=0.8, rate=4.5, bright=0.4),
    "sad":       dict(curve=-0.6, open=0.08, tilt=0.7,  raise_=0.05, eye=0.6, head=0.1, pitch=0.85, prange=0.03, loud=0.3, rate=2.2, bright=-0.6),
    "angry":     dict(curve=-0.4, open=0.45, tilt=-0.9, raise_=-0.25, eye=0.9, head=0.8, pitch=1.15, prange=0.15, loud=1.0, rate=5.0, bright=0.9),
    "fearful":   dict(curve=-0.3, open=0.30, tilt=0.8,  raise_=0.35, eye=1.4, head=0.9, pitch=1.40, prange=0.25, loud=0.6, rate=5.5, bright=0.2),
    "disgust":   dict(curve=-0.7, open=0.15, tilt=-0.5, raise_=-0.15, eye=0.65, head=0.4, pitch=0.90, prange=0.10, loud=0.6, rate=3.0, bright=0.5),
    "surprised": dict(curve=0.1,  open=0.80, tilt=0.3,  raise_=0.45, eye=1.5, head=0.5, pitch=1.35, prange=0.30, loud=0.7, rate=4.0, bright=0.3),
}


@dataclass(frozen=True)
class SynthOptions:
    actors: int = 8
    seed: int = 0
    width: int = 320
    height: int = 240
    statements: int = 2  # RAVDESS has 2 statements x 2 repetitions per emotion and intensity
    repetitions: int = 2
    emotions: tuple[str, ...] = EMOTIONS
    landmarks: str = "flat"  # "flat": OUT/landmarks/*.csv; "actor": beside the video in Actor_XX/


@dataclass(frozen=True)
class Actor:
    id: int
    gender: str
    face_w: float  # face half-width as a fraction of frame height
    aspect: float  # half-height / half-width
    center: tuple[float, float]  # fractions of width and height
    skin: tuple[int, int, int]  # BGR
    background: tuple[int, int, int]
    pitch: float  # Hz
    formant: float  # vocal tract scale


def make_actor(actor_id: int, seed: int) -> Actor:
    rng = np.random.default_rng([seed, actor_id, 1])
    gender = gender_of(actor_id)
    tone = rng.uniform(0.45, 1.0)
    skin = (int(150 * tone + 30), int(175 * tone + 30), int(215 * tone + 35))
    bg = tuple(int(v) for v in rng.integers(20, 110, 3))
    base = rng.uniform(100, 135) if gender == "male" else rng.uniform(185, 235)
    return Actor(
        id=actor_id, gender=gender, face_w=rng.uniform(0.17, 0.22), aspect=rng.uniform(1.2, 1.35),
        center=(rng.uniform(0.4, 0.6), rng.uniform(0.45, 0.55)), skin=skin, background=bg,
        pitch=base, formant=1.0 if gender == "male" else 1.15 + rng.uniform(-0.05, 0.05),
    )


def clip_names(opts: SynthOptions) -> list[tuple[int, int, int, int, int]]:
    """(emotion code, intensity, statement, repetition, actor) in RAVDESS order; neutral is normal only."""
    out = []
    for actor in range(1, opts.actors + 1):
        for name in opts.emotions:
            code = EMOTIONS.index(name) + 1
            for intensity in (1,) if code == 1 else (1, 2):
                for st in range(1, opts.statements + 1):
                    for rep in range(1, opts.repetitions + 1):
                        out.append((code, intensity, st, rep, actor))
    return out


def expression(emotion: str, intensity: int, rng) -> dict:
    """Emotion parameters, pushed further from neutral for strong intensity, with per-clip noise."""
    base, neutral = EXPRESSION[emotion], EXPRESSION["neutral"]
    gain = 1.0 if intensity == 1 else 1.5
    expr = {k: neutral[k] + gain * (v - neutral[k]) for k, v in base.items()}
    return {k: v * (1 + rng.normal(0, 0.08)) + rng.normal(0, 0.03) for k, v in expr.items()}


def speech_envelope(t: np.ndarray, expr: dict, rng) -> np.ndarray:
    """Syllable rhythm: raised-cosine bumps between speech onset and offset, 0 outside."""
    onset, offset = rng.uniform(0.55, 0.8), rng.uniform(2.6, 2.9)
    env = np.zeros_like(t)
    period = 1.0 / max(expr["rate"], 1.0)
    s = onset
    while s < offset:
        length = period * rng.uniform(0.6, 0.95)
        inside = (t >= s) & (t < s + length)
        env[inside] = np.maximum(env[inside], np.sin(np.pi * (t[inside] - s) / length) * rng.uniform(0.6, 1.0))
        s += period * rng.uniform(0.85, 1.15)
    return env


def landmarks_68(actor: Actor, expr: dict, open_now: float, head: tuple[float, float, float],
                 blink: float, size: tuple[int, int]) -> np.ndarray:
    """The 68 iBUG points (x, y) in pixels for one frame; the drawing is made from these points."""
    w, h = size
    rx = actor.face_w * h
    ry = rx * actor.aspect
    cx = actor.center[0] * w + head[0] * rx
    cy = actor.center[1] * h + head[1] * rx
    pts = np.zeros((68, 2))
    # jaw 0..16: lower half of the face ellipse, from the left temple to the right one
    ang = np.linspace(math.pi * 0.95, math.pi * 0.05, 17)
    pts[0:17] = np.c_[cx + rx * np.cos(ang), cy + ry * np.sin(ang)]
    eye_y = cy - 0.18 * ry
    for side, (b0, e0) in ((-1, (17, 36)), (1, (22, 42))):
        ex = cx + side * 0.42 * rx
        # brows: 5 points; tilt raises the inner end (sad, fear) or lowers it (anger)
        bx = ex + np.linspace(-0.3, 0.3, 5) * rx  # iBUG order: left to right for both brows
        inner = (bx - ex) * side < 0  # closer to the midline
        lift = (0.22 + 0.12 * expr["raise_"]) * ry
        tilt = expr["tilt"] * 0.08 * ry * np.abs(bx - ex) / (0.3 * rx) * np.where(inner, 1, -1)
        pts[b0:b0 + 5] = np.c_[bx, eye_y - lift - tilt - 0.03 * ry * np.cos((bx - ex) / rx * 4)]
        # eyes: 6 points, openness by emotion and blinks
        half = 0.16 * rx
        opening = max(0.02, 0.07 * ry * expr["eye"] * (1 - blink))
        # iBUG order for both eyes: left corner, two upper points, right corner, two lower points
        xs_eye = np.array([-1, -0.5, 0.5, 1, 0.5, -0.5])
        ys_eye = np.array([0, -1, -1, 0, 1, 1])
        pts[e0:e0 + 6] = np.c_[ex + xs_eye * half, eye_y + ys_eye * opening]
    # nose 27..35: bridge and base
    pts[27:31] = np.c_[np.full(4, cx), eye_y + np.linspace(0.02, 0.36, 4) * ry]
    pts[31:36] = np.c_[cx + np.linspace(-0.14, 0.14, 5) * rx, np.full(5, eye_y + 0.40 * ry) - np.array([0, 0.02, 0.03, 0.02, 0]) * ry]
    # mouth 48..67: curvature (smile/frown) and openness (expression + syllables)
    my = cy + 0.45 * ry
    mw = 0.34 * rx * (1 + 0.25 * expr["curve"] * (expr["curve"] > 0))
    gap = (0.02 + 0.10 * (expr["open"] * 0.6 + open_now * 0.6)) * ry
    xs = np.linspace(-1, 1, 7)
    curve = -expr["curve"] * 0.09 * ry * (xs ** 2)  # corners up when smiling
    upper = my - gap / 2 - 0.04 * ry * (1 - xs ** 2) + curve * 0.6
    lower = my + gap / 2 + 0.05 * ry * (1 - xs ** 2) + curve * 0.6
    pts[48:55] = np.c_[cx + xs * mw, upper]
    pts[55:60] = np.c_[cx + xs[5:0:-1] * mw, lower[5:0:-1]]
    xi = np.array([-0.7, -0.3, 0, 0.3, 0.7]) * mw
    ci = -expr["curve"] * 0.09 * ry * (xi / mw) ** 2 * 0.6
    pts[60:65] = np.c_[cx + np.array([-0.8, -0.3, 0, 0.3, 0.8]) * mw, my - gap / 2 + ci]
    pts[65:68] = np.c_[cx + np.array([0.3, 0, -0.3]) * mw, my + gap / 2 + ci[[3, 2, 1]]]
    # head roll: rotate every point about the face centre
    c, s = math.cos(head[2]), math.sin(head[2])
    d = pts - (cx, cy)
    return np.c_[cx + c * d[:, 0] - s * d[:, 1], cy + s * d[:, 0] + c * d[:, 1]]


def draw_face(pts: np.ndarray, actor: Actor, size: tuple[int, int], noise, rng) -> np.ndarray:
    """A shaded, face-like drawing (dark eyes and brows, lit cheeks) so a Haar detector also finds it."""
    import cv2

    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[:] = actor.background
    jaw = pts[0:17]
    cx, cy = jaw[:, 0].mean(), pts[27:31, 1].mean()
    rx = (jaw[-1, 0] - jaw[0, 0]) / 2
    ry = (jaw[8, 1] - pts[19, 1]) * 0.75
    skin = np.array(actor.skin, float)
    # face: darker outline ellipse then a lighter core = soft shading towards the cheeks
    cv2.ellipse(img, (int(cx), int(cy)), (int(rx * 1.05), int(ry * 1.2)), 0, 0, 360, tuple(int(v) for v in skin * 0.7), -1, cv2.LINE_AA)
    cv2.ellipse(img, (int(cx), int(cy)), (int(rx * 0.9), int(ry * 1.05)), 0, 0, 360, tuple(int(v) for v in skin), -1, cv2.LINE_AA)
    hair = tuple(int(v) for v in skin * 0.25)
    cv2.ellipse(img, (int(cx), int(cy - ry * 0.9)), (int(rx * 1.05), int(ry * 0.45)), 0, 180, 360, hair, -1, cv2.LINE_AA)
    dark = (25, 25, 30)
    th = max(1, int(rx / 12))
    for b0 in (17, 22):
        cv2.polylines(img, [pts[b0:b0 + 5].astype(np.int32)], False, dark, th + 1, cv2.LINE_AA)
    for e0 in (36, 42):
        eye = pts[e0:e0 + 6].astype(np.int32)
        # eye socket shadow, white of the eye, dark iris
        ec = pts[e0:e0 + 6].mean(0)
        cv2.ellipse(img, (int(ec[0]), int(ec[1])), (int(rx * 0.22), int(rx * 0.14)), 0, 0, 360, tuple(int(v) for v in skin * 0.6), -1, cv2.LINE_AA)
        cv2.fillPoly(img, [eye], (235, 235, 235), cv2.LINE_AA)
        cv2.circle(img, (int(ec[0]), int(ec[1])), max(1, int(rx * 0.06)), dark, -1, cv2.LINE_AA)
    cv2.polylines(img, [pts[27:31].astype(np.int32)], False, tuple(int(v) for v in skin * 0.75), th, cv2.LINE_AA)
    cv2.polylines(img, [pts[31:36].astype(np.int32)], False, tuple(int(v) for v in skin * 0.55), th, cv2.LINE_AA)
    cv2.fillPoly(img, [pts[48:60].astype(np.int32)], (60, 60, 150), cv2.LINE_AA)
    cv2.fillPoly(img, [pts[60:68].astype(np.int32)], (20, 20, 40), cv2.LINE_AA)
    out = img.astype(np.int16) + noise
    return np.clip(out, 0, 255).astype(np.uint8)


def synth_audio(actor: Actor, expr: dict, t: np.ndarray, env: np.ndarray, rng) -> np.ndarray:
    """Voice-like sound: harmonics on a pitch contour, syllable energy, formant resonances, noise."""
    from scipy.signal import lfilter

    dur = t[-1]
    f0 = actor.pitch * expr["pitch"] * (1 + expr["prange"] * np.sin(2 * np.pi * rng.uniform(0.8, 1.6) * t + rng.uniform(0, 6))
                                        - 0.08 * t / dur)
    f0 *= 1 + 0.01 * rng.standard_normal(len(t)).cumsum() / np.sqrt(len(t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    n_harm = int(4000 / actor.pitch)
    tilt = 1.6 - 0.6 * expr["bright"]
    source = sum(np.sin(k * phase) / k ** tilt for k in range(1, n_harm + 1))
    voice = np.zeros_like(source)
    for formant, bw in ((650, 90), (1200, 110), (2600, 160)):
        freq = formant * actor.formant * (1 + 0.1 * expr["bright"])
        r = math.exp(-math.pi * bw / SAMPLE_RATE)
        a = [1, -2 * r * math.cos(2 * math.pi * freq / SAMPLE_RATE), r * r]
        voice += lfilter([1 - r], a, source)
    voice = voice / (np.abs(voice).max() + 1e-9)
    breath = rng.standard_normal(len(t)) * 0.05
    signal = (voice + breath) * env * expr["loud"] * 0.5 + rng.standard_normal(len(t)) * 0.003
    return np.clip(signal, -1, 1).astype(np.float32)


def write_mp4(path: Path, frames: list[np.ndarray], audio: np.ndarray) -> None:
    import av

    from avemotion.utils.io import atomic_path

    h, w = frames[0].shape[:2]
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="mp4") as out:
            vs = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "23"})
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            aus = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
            for img in frames:
                out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
            out.mux(vs.encode())
            chunk = 1024
            for i in range(0, len(audio), chunk):
                piece = audio[None, i:i + chunk]
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(piece), format="fltp", layout="mono")
                frame.sample_rate, frame.pts = SAMPLE_RATE, i
                out.mux(aus.encode(frame))
            out.mux(aus.encode())


OPENFACE_HEAD = (["frame", "face_id", "timestamp", "confidence", "success"]
                 + [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"]
                 + [f"eye_lmk_{a}_{i}" for a in ("x", "y", "X", "Y", "Z") for i in range(56)]
                 + ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"])
TAIL = [f"AU{n:02d}_r" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)]


def write_landmarks(path: Path, points: list[np.ndarray]) -> None:
    """OpenFace-style CSV: x_0..x_67 at 0-based columns 297..364, y_0..y_67 at 365..432, ', ' separators."""
    from avemotion.utils.io import atomic_path

    header = OPENFACE_HEAD + [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)] + TAIL
    rows = np.zeros((len(points), len(header)))
    for i, p in enumerate(points):
        rows[i, :5] = (i + 1, 0, i / FPS, 0.98, 1)
        rows[i, 297:365], rows[i, 365:433] = p[:, 0], p[:, 1]
    with atomic_path(path) as tmp:
        np.savetxt(tmp, rows, fmt="%.3f", delimiter=", ", header=", ".join(header), comments="")


def synth_clip(out: Path, name: tuple, opts: SynthOptions) -> Path:
    code, intensity, statement, rep, actor_id = name
    stem = f"01-01-{code:02d}-{intensity:02d}-{statement:02d}-{rep:02d}-{actor_id:02d}"
    rng = np.random.default_rng([opts.seed, actor_id, code, intensity, statement, rep])
    actor = make_actor(actor_id, opts.seed)
    expr = expression(EMOTIONS[code - 1], intensity, rng)
    size = (opts.width, opts.height)
    duration = rng.uniform(3.2, 3.6)
    t_audio = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
    env = speech_envelope(t_audio, expr, rng)
    audio = synth_audio(actor, expr, t_audio, env, rng)
    n_frames = int(duration * FPS)
    frames, points = [], []
    phase = rng.uniform(0, 6, 3)
    blink_at = rng.uniform(0.3, duration - 0.3)
    for i in range(n_frames):
        t = i / FPS
        amp = 0.06 * expr["head"]
        head = (amp * math.sin(2.1 * t + phase[0]), amp * 0.6 * math.sin(2.7 * t + phase[1]),
                amp * 0.5 * math.sin(1.7 * t + phase[2]))
        blink = max(0.0, 1 - abs(t - blink_at) / 0.08)
        talk = env[min(len(env) - 1, int(t * SAMPLE_RATE))]
        pts = landmarks_68(actor, expr, talk, head, blink, size)
        noise = rng.normal(0, 4, (opts.height, opts.width, 1)).astype(np.int16)
        frames.append(draw_face(pts, actor, size, noise, rng))
        points.append(pts)
    actor_dir = out / f"Actor_{actor_id:02d}"
    video = actor_dir / f"{stem}.mp4"
    write_mp4(video, frames, audio)
    csv_dir = out / "landmarks" if opts.landmarks == "flat" else actor_dir
    write_landmarks(csv_dir / f"{stem}.csv", points)
    return video


def write_extent(out: Path, names) -> None:
    """OUT/avemotion-corpus.json: the synthetic corpus is complete with the actors it was asked for
    (the RAVDESS adapter would otherwise expect 24 actors)."""
    from avemotion.data.datasets import EXTENT_FILE, Extent
    from avemotion.data.datasets.ravdess import gender_of
    from avemotion.utils.io import write_json

    actors = sorted({n[-1] for n in names})
    write_json(out / EXTENT_FILE, Extent({a: gender_of(a) for a in actors}, len(names), "avemotion synth").to_dict())


def synth_corpus(out: str | Path, opts: SynthOptions = SynthOptions(), workers: int = 1, progress=None) -> list[Path]:
    """Write the whole corpus under `out`; returns the video paths. Existing files are rewritten."""
    out = Path(out)
    names = clip_names(opts)
    write_extent(out, names)
    if workers <= 1:
        paths = []
        for name in names:
            paths.append(synth_clip(out, name, opts))
            if progress:
                progress()
        return paths
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(synth_clip, out, name, opts) for name in names]
        paths = []
        for f in futures:
            paths.append(f.result())
            if progress:
                progress()
        return paths


# ----------------------------------------------------------------------- IEMOCAP-layout stand-in

# IEMOCAP codes of the stand-in's utterances, in turn (neutral, happy, excited, sad, angry, and two
# the 4-class protocol leaves out: frustrated, no agreement), and their expressions
IEMOCAP_CYCLE = ("neu", "hap", "exc", "sad", "ang", "fru", "xxx")
IEMOCAP_EXPRESSION = {"neu": "neutral", "hap": "happy", "exc": "surprised", "sad": "sad", "ang": "angry",
                      "fru": "disgust", "xxx": "calm"}
# The two actors of a session are drawn in distinct colours (BGR skin): the female actor reddish,
# the male bluish, so a test can tell whose face a crop shows.
IEMOCAP_SKIN = {"female": (120, 130, 235), "male": (235, 150, 110)}
IEMOCAP_RATE = 16000  # the release's utterance wavs: 16 kHz mono


@dataclass(frozen=True)
class IemocapSynthOptions:
    sessions: int = 5
    utterances: int = 8  # per dialogue, alternating speakers (F first in Ses0NF dialogues)
    dialogues: int = 1  # per session: Ses0NF_impro01, then Ses0NM_impro02, ...
    seed: int = 0
    # the dialogue frame: two halves of width/2, one actor each; at 320x120 the default (dlib HOG)
    # detector missed a drawn face in 2 of 36 utterances, at 480x180 none (Haar: none at either)
    width: int = 480
    height: int = 180
    left: str = "female"  # who sits on the left half of the frame (docs/data.md)
    gap: float = 0.4  # seconds of silence between utterances


def _iemocap_actor(session: int, gender: str, opts: IemocapSynthOptions) -> Actor:
    from dataclasses import replace

    base = make_actor(2 * session + (1 if gender == "male" else 2), opts.seed)  # odd id = male: voice by gender
    return replace(base, skin=IEMOCAP_SKIN[gender], center=(0.5, 0.5))


def iemocap_dialogues(opts: IemocapSynthOptions) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """(session, dialogue id, [(turn name, code)]) of the stand-in."""
    out = []
    k = 0
    for session in range(1, opts.sessions + 1):
        for d in range(opts.dialogues):
            marker = "F" if d % 2 == 0 else "M"
            dialogue = f"Ses{session:02d}{marker}_impro{d + 1:02d}"
            turns, count = [], {"F": 0, "M": 0}
            for u in range(opts.utterances):
                speaker = "FM"[(u + (d % 2)) % 2]
                turns.append((f"{dialogue}_{speaker}{count[speaker]:03d}", IEMOCAP_CYCLE[k % len(IEMOCAP_CYCLE)]))
                count[speaker] += 1
                k += 1
            out.append((session, dialogue, turns))
    return out


def write_avi(path: Path, frames, audio: np.ndarray) -> None:
    """An AVI like the release's DivX files: MPEG-4 part 2 video, 16-bit PCM audio of the dialogue."""
    import av

    from avemotion.utils.io import atomic_path

    h, w = frames[0].shape[:2]
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="avi") as out:
            vs = out.add_stream("mpeg4", rate=FPS, options={"qscale": "3"})
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vs.codec_context.gop_size = FPS  # a keyframe per second: segments are reached by seeking
            aus = out.add_stream("pcm_s16le", rate=IEMOCAP_RATE, layout="mono")
            for img in frames:
                out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
            out.mux(vs.encode())
            pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
            for i in range(0, len(pcm), 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[None, i:i + 1024]), format="s16", layout="mono")
                frame.sample_rate, frame.pts = IEMOCAP_RATE, i
                out.mux(aus.encode(frame))
            out.mux(aus.encode())


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    import soundfile as sf

    from avemotion.utils.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), audio, rate, format="WAV", subtype="PCM_16")


def synth_iemocap_dialogue(base: Path, session: int, dialogue: str, turns, opts: IemocapSynthOptions) -> list[dict]:
    """One dialogue: its DivX avi (both actors side by side, the speaker's face animated with the
    utterance's expression), one wav per utterance, its EmoEvaluation text file. Returns the turns
    as {"turn", "code", "start", "end"}."""
    from scipy.signal import resample_poly

    rng = np.random.default_rng([opts.seed, session, int(dialogue[-2:])])
    actors = {g: _iemocap_actor(session, g, opts) for g in ("female", "male")}
    sides = {opts.left: 0, ("male" if opts.left == "female" else "female"): 1}
    half = (opts.width // 2, opts.height)
    spans, t = [], 0.3
    plans = []
    for turn, code in turns:
        gender = "female" if turn[-4] == "F" else "male"
        expr = expression(IEMOCAP_EXPRESSION[code], 1 + int(rng.integers(0, 2)), rng)
        duration = float(rng.uniform(3.2, 3.6))
        t_audio = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
        env = speech_envelope(t_audio, expr, rng)
        audio = synth_audio(actors[gender], expr, t_audio, env, rng)
        plans.append((turn, code, gender, expr, t, duration, env, audio))
        spans.append({"turn": turn, "code": code, "start": round(t, 4), "end": round(t + duration, 4)})
        t += duration + opts.gap
    total = t + 0.3
    dialog_audio = np.zeros(int(total * IEMOCAP_RATE), np.float32)
    frames = []
    # the listener sits still with a neutral face (drawn once); the speaker moves and talks
    still = {g: draw_face(landmarks_68(actor, expression("neutral", 1, np.random.default_rng([opts.seed, session, 7])),
                                       0.0, (0.0, 0.0, 0.0), 0.0, half), actor, half, 0, rng)
             for g, actor in actors.items()}
    for i in range(int(total * FPS)):
        now = i / FPS
        active = next((p for p in plans if p[4] <= now < p[4] + p[5]), None)
        img = np.empty((opts.height, opts.width, 3), np.uint8)
        for gender, actor in actors.items():
            x0 = sides[gender] * half[0]
            if active is None or active[2] != gender:
                img[:, x0:x0 + half[0]] = still[gender]
                continue
            expr = active[3]
            talk = active[6][min(len(active[6]) - 1, int((now - active[4]) * SAMPLE_RATE))]
            amp = 0.06 * expr["head"]
            head = (amp * math.sin(2.1 * now + session), amp * 0.6 * math.sin(2.7 * now), amp * 0.5 * math.sin(1.7 * now))
            pts = landmarks_68(actor, expr, talk, head, 0.0, half)
            noise = rng.normal(0, 3, (opts.height, half[0], 1)).astype(np.int16)
            img[:, x0:x0 + half[0]] = draw_face(pts, actor, half, noise, rng)
        frames.append(img)
    folder = base / f"Session{session}"
    for turn, code, gender, expr, start, duration, env, audio in plans:
        wav = resample_poly(audio, 160, 441).astype(np.float32)
        _write_wav(folder / "sentences" / "wav" / dialogue / f"{turn}.wav", wav, IEMOCAP_RATE)
        first = int(start * IEMOCAP_RATE)
        dialog_audio[first:first + len(wav)] += wav[: len(dialog_audio) - first]
    avi = folder / "dialog" / "avi" / "DivX" / f"{dialogue}.avi"
    avi.parent.mkdir(parents=True, exist_ok=True)
    write_avi(avi, frames, dialog_audio)
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    for s in spans:
        lines += [f"[{s['start']:.4f} - {s['end']:.4f}]\t{s['turn']}\t{s['code']}\t[2.5000, 3.0000, 3.0000]",
                  "C-E1:\tNeutral;\t()", "A-E1:\tval 3; act 3; dom  3;\t()", ""]
    evaluation = folder / "dialog" / "EmoEvaluation"
    (evaluation / "Categorical").mkdir(parents=True, exist_ok=True)
    (evaluation / f"{dialogue}.txt").write_text("\n".join(lines) + "\n")
    # the release's per-annotator files live in subfolders; the adapter must not read them
    (evaluation / "Categorical" / f"{dialogue}_e1_cat.txt").write_text(f"{turns[0][0]} :Neutral; ()\n")
    return spans


def synth_iemocap(out: str | Path, opts: IemocapSynthOptions = IemocapSynthOptions()) -> Path:
    """OUT/IEMOCAP_full_release/Session1..N in the release's layout (docs/data.md, IEMOCAP); returns
    the release folder. Also writes the stand-in's extent (its actors and utterances of the 4 classes)."""
    from avemotion.data.datasets import EXTENT_FILE, Extent
    from avemotion.data.datasets.iemocap import MAPPINGS, RELEASE, speaker_id
    from avemotion.utils.io import write_json

    base = Path(out) / RELEASE
    clips, genders = 0, {}
    for session, dialogue, turns in iemocap_dialogues(opts):
        spans = synth_iemocap_dialogue(base, session, dialogue, turns, opts)
        kept = [s["turn"] for s in spans if s["code"] in MAPPINGS["4"][1]]
        clips += len(kept)
        for turn in kept:  # the actors with an utterance of the 4 classes
            g = turn[-4]
            genders[speaker_id(session, g)] = "female" if g == "F" else "male"
    extent = Extent(genders, clips, "avemotion synth --iemocap (4 classes)").to_dict()
    for folder in (Path(out), base):
        write_json(folder / EXTENT_FILE, extent)
    return base
