"""Streaming speed (`avemotion live`, the service's /stream): per-hop latency and real-time factor of
3 s windows every 1 s, against predicting each window from scratch as a file of its own.

    python bench/bench_stream.py                           # voice-v1, CFN-SR small (tiny, 8x48x48) and full (30x224x224)
    python bench/bench_stream.py --setups voice,small --repeats 3 --threads 2

Input: the three real CREMA-D clips joined twice (12.3 s of real faces and voices, 480x360, 11
windows). "stream" feeds a StreamSession (inference/stream.py) with the decoded file as fast as it
goes and times each hop's answer (the window's face detection, crops, MFCCs or voice features and
the model: what a hop costs once its media is in memory); decoding is timed apart (it is what a
camera or the client does anyway). "from scratch" writes each window beforehand as a file (mp4 for
the fusion models, a float wav for the voice model) and times `predict` on it: open, probe, decode,
detect, features, model, as a naive live loop would do every hop. ONNX: the fusion models exported
with `inference.export.export_run` and run through onnxruntime (`--onnx`), same windows.
Real-time factor = median seconds per hop / hop (1 s): under 1 keeps up with a live input.
Random weights for the fusion models (speed does not depend on them); medians and 90th percentiles
over --repeats passes after a warm-up pass; on a shared machine the figures are upper bounds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_onnx import random_run  # noqa: E402

CREMA = Path(__file__).resolve().parents[2] / "shared" / "data" / "crema-d"
SETUPS = {"voice": None, "small": ("tiny", 8, 48), "full": ("full", 30, 224)}


def make_input(root: Path) -> Path:
    from avemotion.inference import media

    clips = sorted(CREMA.glob("*.flv"))
    return media.concat_videos(clips + clips, root / "joined.mp4")


def window_files(path: Path, spans, root: Path, voice_cfg=None) -> list[Path]:
    """Each window of `path` as a file of its own (what predicting from scratch reads)."""
    from avemotion.inference import media

    out = []
    if voice_cfg is not None:
        import soundfile

        from avemotion.data.voice import decode_voice

        wave, sr = decode_voice(path, voice_cfg), voice_cfg.sample_rate
        for i, (s, e) in enumerate(spans):
            out.append(root / f"w{i}.wav")
            soundfile.write(out[-1], wave[round(s * sr):round(e * sr)], sr, subtype="FLOAT")
        return out
    frames = list(media.iter_frames(path))
    audio = media.read_audio(path)
    fps = media.video_fps(path)
    for i, (s, e) in enumerate(spans):
        clip = [f for t, f in frames if s - 1e-6 <= t < e - 1e-6]
        piece = media.AudioTrack(audio.samples[:, round(s * audio.rate):round(e * audio.rate)], audio.rate)
        out.append(media.write_mp4(root / f"w{i}.mp4", clip, fps, piece))
    return out


def stream_pass(recognizer, path: Path) -> tuple[list[float], float, float]:
    """(seconds per hop, seconds decoding, seconds of media)."""
    from avemotion.inference.stream import StreamSession, open_source, window_model

    model = window_model(recognizer)
    src, events = open_source(str(path), model)
    session = StreamSession(model, 3.0, 1.0, audio=src.has_audio, video=src.has_video)
    hops, decode = [], 0.0
    t = time.perf_counter()
    for event in events:
        decode += time.perf_counter() - t
        session.feed(event)
        for span, snap in session.due():
            h = time.perf_counter()
            session.predict(span, snap)
            hops.append(time.perf_counter() - h)
        t = time.perf_counter()
    return hops, decode, src.duration


def scratch_pass(recognizer, files: list[Path]) -> list[float]:
    out = []
    for f in files:
        t = time.perf_counter()
        recognizer.predict(f)
        out.append(time.perf_counter() - t)
    return out


def p90(xs) -> float:
    return float(np.percentile(xs, 90))


def measure(name: str, recognizer, path: Path, files: list[Path], repeats: int) -> dict:
    stream_pass(recognizer, path)  # warm-up: imports, detector and openSMILE start
    scratch_pass(recognizer, files[:1])
    hops, scratch, decodes = [], [], []
    for _ in range(repeats):
        h, d, duration = stream_pass(recognizer, path)
        hops += h
        decodes.append(d)
        scratch += scratch_pass(recognizer, files)
    return {"name": name, "hop": statistics.median(hops), "hop90": p90(hops), "scratch": statistics.median(scratch),
            "scratch90": p90(scratch), "decode": statistics.median(decodes) / duration, "windows": len(files)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setups", default="voice,small,full", help="comma-separated: voice, small, full")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from avemotion.inference import Recognizer
    from avemotion.inference.windows import plan_windows

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = make_input(tmp)
        from avemotion.data.media import probe

        spans = plan_windows(probe(path).duration, 3.0, 1.0)
        for setup in args.setups.split(","):
            if setup == "voice":
                rec = Recognizer.pretrained()
                (tmp / "voice").mkdir()
                files = window_files(path, spans, tmp / "voice", rec.cfg)
                rows.append(measure("voice-v1 (audio)", rec, path, files, args.repeats))
                continue
            scale, frames, size = SETUPS[setup]
            run = random_run(tmp / f"run_{setup}", scale, frames, size)
            (tmp / setup).mkdir()
            files = window_files(path, spans, tmp / setup)
            label = f"cfn_sr {setup} ({frames}x{size}x{size})"
            rows.append(measure(label, Recognizer.from_run(run), path, files, args.repeats))
            if not args.no_onnx:
                from avemotion.inference.export import export_run

                onnx = tmp / f"{setup}.onnx"
                export_run(run, onnx, repeats=1)
                rows.append(measure(label + " ONNX", Recognizer.from_run(run, onnx=onnx), path, files, args.repeats))
    print(f"# bench_stream: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, torch {torch.__version__}, {args.threads} torch threads")
    print(f"# command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"# input: 12.3 s of real CREMA-D video (480x360), 3 s windows every 1 s; medians (p90) over {args.repeats} passes")
    print("| model | stream: s per hop (p90) | real-time factor | from scratch: s per window (p90) | real-time factor | speed-up | decoding, s per s of media |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['hop']:.3f} ({r['hop90']:.3f}) | {r['hop']:.2f} | {r['scratch']:.3f} ({r['scratch90']:.3f}) | "
              f"{r['scratch']:.2f} | {r['scratch'] / r['hop']:.1f}x | {r['decode']:.3f} |")


if __name__ == "__main__":
    main()
